{#
  The month a run builds: var `month` (first day, 'YYYY-MM-01'). `fairuse simulate` passes month = 'all' to
  rebuild the policy models over every built month with another policy: `is_month_being_built` then keeps all,
  and the macros that need one month (month_start and those built on it) fail, naming the model, rather than
  compare dates with 'all'.
#}
{% macro month_start() -%}
    {%- if building_every_month() -%}
        {%- do exceptions.raise_compiler_error(
            "month_start(): " ~ this ~ " needs one month (var month = 'YYYY-MM-01'); it was given 'all' (fairuse "
            ~ "simulate builds only models that filter with is_month_being_built)") -%}
    {%- endif -%}
    cast('{{ required_var("month") }}' as date)
{%- endmacro %}

{# Whether this run builds every month (`fairuse simulate`) rather than one. #}
{% macro building_every_month() -%}
    {{ return(var('month', none) == 'all') }}
{%- endmacro %}

{# First day of the next month (exclusive end of the month being built). #}
{% macro month_end_exclusive() -%}
    {{ dbt.dateadd('month', 1, month_start()) }}
{%- endmacro %}

{# Last day of the month being built (snapshots dated on or before it count for the month). #}
{% macro month_last_day() -%}
    cast({{ dbt.dateadd('day', -1, month_end_exclusive()) }} as date)
{%- endmacro %}

{# A filter on a month column: the month being built, or every month when simulating. #}
{% macro is_month_being_built(column) -%}
    {%- if building_every_month() -%}
        1 = 1
    {%- else -%}
        {{ column }} = {{ month_start() }}
    {%- endif -%}
{%- endmacro %}
