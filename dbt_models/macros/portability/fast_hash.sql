{#
  A fast 64-bit, non-cryptographic hash of a value, to narrow a search only (never to identify: equal hashes are
  candidates, the values themselves decide). DuckDB hash(); Spark xxhash64().
#}
{% macro fast_hash(expression) -%}
    {{ return(adapter.dispatch('fast_hash', 'fairuse')(expression)) }}
{%- endmacro %}

{% macro default__fast_hash(expression) -%}
    hash({{ expression }})
{%- endmacro %}

{% macro spark__fast_hash(expression) -%}
    xxhash64({{ expression }})
{%- endmacro %}
