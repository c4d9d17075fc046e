{#
  Vars every run receives from Dagster. At parse time (execute = false) no vars are given, so these return a
  placeholder; at run time a missing var fails loudly rather than falling back to a silent default.
#}
{% macro required_var(name) -%}
    {%- set value = var(name, none) -%}
    {%- if value is none and (not execute or flags.WHICH in ('compile', 'generate', 'docs')) -%}
        {#- parse, compile, docs and SQL linting see typed placeholders; runs must pass the real value -#}
        {{ return(lint_placeholder(name)) }}
    {%- endif -%}
    {%- if value is none -%}
        {{ exceptions.raise_compiler_error("dbt var '" ~ name ~ "' is required; runs get it from Dagster") }}
    {%- endif -%}
    {{ return(value) }}
{%- endmacro %}

{% macro lint_placeholder(name) -%}
    {%- if name == 'month' -%}{{ return('2000-01-01') }}{%- endif -%}
    {%- if name == 'policy_version' -%}{{ return('unset') }}{%- endif -%}
    {%- if name.startswith('policy_') -%}{{ return([]) }}{%- endif -%}
    {%- if name == 'prohibited_use' -%}{{ return(none) }}{%- endif -%}
    {{ return(0) }}
{%- endmacro %}

{# First day of the month being built, as a SQL date literal. #}
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

{# Rows of a list-of-dicts var as a relation: select ... union all select ... (portable, no VALUES syntax). #}
{% macro rows_from_var(name, columns) -%}
    {%- set rows = required_var(name) or [] -%}
    {%- if rows | length == 0 -%}
        select {% for c, t in columns %}cast(null as {{ t }}) as {{ c }}{{ ", " if not loop.last }}{% endfor %}
        where 1 = 0
    {%- else -%}
        {%- for row in rows %}
        select {% for c, t in columns -%}
            cast({{ "null" if row[c] is none else (row[c] | string if t != "varchar" else "'" ~ (row[c] | replace("'", "''")) ~ "'") }} as {{ t }}) as {{ c }}
            {{- ", " if not loop.last }}
        {%- endfor %}
        {{ "union all" if not loop.last }}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}

{#
  Reference data as of the month (CONTRACT §1): per key, the latest snapshot dated on or before the month's last
  day that contains it; failing that, the earliest snapshot that does. Returns the relation's rows, one per key.
#}
{% macro as_of_month(relation, key) -%}
    select * from (
        select
            *,
            row_number() over (
                partition by {{ key }}
                order by
                    case when snapshot_date <= {{ month_last_day() }} then 0 else 1 end,
                    case when snapshot_date <= {{ month_last_day() }} then snapshot_date end desc nulls last,
                    snapshot_date asc
            ) as snapshot_rank
        from {{ relation }}
    ) as ranked
    where snapshot_rank = 1
{%- endmacro %}
