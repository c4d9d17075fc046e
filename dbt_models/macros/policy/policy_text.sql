{#
  A text var of the policy (its version, effective month, content hash, content as JSON) as a SQL string literal,
  quoted for the engine: DuckDB doubles a quote; Spark SQL reads backslash escapes, so backslashes (JSON has them)
  and quotes are escaped with one.
#}
{% macro policy_text(name) -%}
    {{ return(adapter.dispatch('policy_text', 'fairuse')(required_var(name) | string)) }}
{%- endmacro %}

{% macro default__policy_text(value) -%}
    cast('{{ value | replace("'", "''") }}' as varchar)
{%- endmacro %}

{% macro spark__policy_text(value) -%}
    cast('{{ value | replace("\\", "\\\\") | replace("'", "\\'") }}' as string)
{%- endmacro %}

{# The months a policy model computes: the month being built, or every built month when simulating. #}
{% macro policy_months() -%}
    {%- if building_every_month() -%}
        select distinct month from {{ ref('fct_user_excess_ratios') }}
    {%- else -%}
        select {{ month_start() }} as month
    {%- endif -%}
{%- endmacro %}
