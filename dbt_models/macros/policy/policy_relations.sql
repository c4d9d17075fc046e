{#
  The policy configuration (policy/fair_use_policy.yaml, passed as vars by Dagster: domain/policy.py dbt_vars)
  as relations a model can join. Currency '*' is the default rate for currencies without a rate of their own.
#}
{% macro policy_metrics() -%}
    {{ rows_from_var('policy_metrics', [('metric', 'varchar'), ('offering', 'varchar'), ('floor', 'double')]) }}
{%- endmacro %}

{% macro policy_free_offerings() -%}
    {{ rows_from_var('policy_free_offerings', [('country', 'varchar'), ('plan', 'varchar'), ('offering', 'varchar')]) }}
{%- endmacro %}

{% macro policy_estimates() -%}
    {{ rows_from_var('policy_estimates', [('plan', 'varchar'), ('metric', 'varchar'), ('estimated_value', 'double')]) }}
{%- endmacro %}

{% macro policy_excess_rates() -%}
    {{ rows_from_var('policy_excess_rates', [('metric', 'varchar'), ('currency', 'varchar'), ('rate', 'decimal(18,6)')]) }}
{%- endmacro %}

{% macro policy_surcharge_rates() -%}
    {{ rows_from_var('policy_surcharge_rates', [('currency', 'varchar'), ('rate', 'decimal(18,6)')]) }}
{%- endmacro %}

{# Rows of a list-of-dicts var as a relation: select ... union all select ... (portable, no VALUES syntax). #}
{% macro rows_from_var(name, columns) -%}
    {%- set rows = required_var(name) or [] -%}
    {%- if target.type == 'spark' -%}{#- Spark SQL has no unsized varchar in casts -#}
        {%- set spark_columns = [] -%}
        {%- for c, t in columns -%}{%- do spark_columns.append((c, 'string' if t == 'varchar' else t)) -%}{%- endfor -%}
        {%- set columns = spark_columns -%}
    {%- endif -%}
    {%- if rows | length == 0 -%}
        select {% for c, t in columns %}cast(null as {{ t }}) as {{ c }}{{ ", " if not loop.last }}{% endfor %}
        where 1 = 0
    {%- else -%}
        {%- for row in rows %}
        select {% for c, t in columns -%}
            cast({{ "null" if row[c] is none else (row[c] | string if t not in ("varchar", "string") else "'" ~ (row[c] | replace("'", "''")) ~ "'") }} as {{ t }}) as {{ c }}
            {{- ", " if not loop.last }}
        {%- endfor %}
        {{ "union all" if not loop.last }}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
