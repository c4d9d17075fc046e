{# Whole microseconds since the epoch as a BIGINT: an exact order key for RANGE windows over timestamps that carry
   fractions of a second (epoch_seconds is a fractional number, whose "N - 1 following" misses the last second). #}
{% macro epoch_microseconds(ts) -%}
    {{ return(adapter.dispatch('epoch_microseconds', 'fairuse')(ts)) }}
{%- endmacro %}

{% macro default__epoch_microseconds(ts) -%}
    epoch_us({{ ts }})
{%- endmacro %}

{% macro spark__epoch_microseconds(ts) -%}
    unix_micros({{ ts }})
{%- endmacro %}
