{# Integer division (floor for non-negative operands); the operator differs per engine. #}
{% macro int_div(a, b) -%}
    {{ return(adapter.dispatch('int_div', 'fairuse')(a, b)) }}
{%- endmacro %}

{% macro default__int_div(a, b) -%}
    (({{ a }}) // ({{ b }}))
{%- endmacro %}

{% macro spark__int_div(a, b) -%}
    (({{ a }}) div ({{ b }}))
{%- endmacro %}
