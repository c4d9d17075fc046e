{#
  Phone numbers leave staging only as a keyed hash (CONTRACT §3 privacy). The key comes from the environment
  (FAIRUSE_HASH_KEY, set by Dagster from settings), never from the repository. A null number stays null.
#}
{% macro keyed_hash(column) -%}
    {{ return(adapter.dispatch('keyed_hash', 'fairuse')(column)) }}
{%- endmacro %}

{% macro default__keyed_hash(column) -%}
    sha256('{{ env_var("FAIRUSE_HASH_KEY", "") }}' || ':' || {{ column }})
{%- endmacro %}

{% macro spark__keyed_hash(column) -%}
    sha2(concat('{{ env_var("FAIRUSE_HASH_KEY", "") }}', ':', {{ column }}), 256)
{%- endmacro %}
