{# Exact microseconds from timestamp a to timestamp b; the function differs per engine. #}
{% macro microseconds_between(a, b) -%}
    {{ return(adapter.dispatch('microseconds_between', 'fairuse')(a, b)) }}
{%- endmacro %}

{% macro default__microseconds_between(a, b) -%}
    date_diff('microsecond', {{ a }}, {{ b }})
{%- endmacro %}

{% macro spark__microseconds_between(a, b) -%}
    (unix_micros({{ b }}) - unix_micros({{ a }}))
{%- endmacro %}
