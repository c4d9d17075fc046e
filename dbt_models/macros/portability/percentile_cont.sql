{# Continuous percentile (CONTRACT §3: quantile_cont); the function's name differs per engine. #}
{% macro percentile_cont(column, fraction) -%}
    {{ return(adapter.dispatch('percentile_cont', 'fairuse')(column, fraction)) }}
{%- endmacro %}

{% macro default__percentile_cont(column, fraction) -%}
    quantile_cont({{ column }}, {{ fraction }})
{%- endmacro %}

{% macro spark__percentile_cont(column, fraction) -%}
    percentile({{ column }}, {{ fraction }})
{%- endmacro %}
