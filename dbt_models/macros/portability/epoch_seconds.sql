{# Seconds since the epoch as a number (for RANGE windows and gaps); the function differs per engine. #}
{% macro epoch_seconds(ts) -%}
    {{ return(adapter.dispatch('epoch_seconds', 'fairuse')(ts)) }}
{%- endmacro %}

{% macro default__epoch_seconds(ts) -%}
    epoch({{ ts }})
{%- endmacro %}

{% macro spark__epoch_seconds(ts) -%}
    (unix_micros({{ ts }}) / 1000000.0)
{%- endmacro %}
