{# `materialized` for a CTE read several times, so expensive expressions (hashes) are computed once (DuckDB). #}
{% macro cte_materialized() -%}
    {{ return(adapter.dispatch('cte_materialized', 'fairuse')()) }}
{%- endmacro %}

{% macro default__cte_materialized() -%}
    materialized
{%- endmacro %}

{% macro spark__cte_materialized() -%}
{%- endmacro %}
