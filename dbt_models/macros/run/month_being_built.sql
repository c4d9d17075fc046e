{#
  The month a run builds: var `month` (first day, 'YYYY-MM-01'). `fairuse simulate` passes month = 'all' to
  rebuild the policy models over every built month with another policy; `is_month_being_built` then keeps all.
#}
{% macro month_start() -%}
    cast('{{ required_var("month") }}' as date)
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
    {%- if var('month', none) == 'all' -%}
        1 = 1
    {%- else -%}
        {{ column }} = {{ month_start() }}
    {%- endif -%}
{%- endmacro %}
