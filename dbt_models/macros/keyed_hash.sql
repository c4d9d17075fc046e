{#
  Phone numbers leave staging only as a keyed hash (CONTRACT §3 privacy). The key is never in SQL text: the
  engine receives it at run time (DuckDB: a variable set on each connection as a bound parameter by the plugin
  dagster_project/domain/duckdb_key_plugin.py), so compiled SQL, logs and manifests name the variable only.
  A run without a key fails rather than hashing with an empty one. A null number stays null.
#}
{% macro keyed_hash(column) -%}
    {{ return(adapter.dispatch('keyed_hash', 'fairuse')(column)) }}
{%- endmacro %}

{% macro default__keyed_hash(column) -%}
    sha256(
        coalesce(cast(getvariable('fairuse_hash_key') as varchar), error('no pseudonymisation key: FAIRUSE_HASH_KEY'))
        || ':' || {{ column }}
    )
{%- endmacro %}

{# Spark: the key is the one-row temporary view fairuse_hash_key (column `key`), made from data by
   dagster_project/domain/spark_engine.py when the session starts (never SQL text, no Python UDF: it works on a
   Spark Connect cluster as locally); read as a scalar subquery, computed once per query. sha2(.., 256) is SHA-256
   as lower-case hex, as DuckDB's sha256. #}
{% macro spark__keyed_hash(column) -%}
    sha2(
        coalesce((select key from fairuse_hash_key), raise_error('no pseudonymisation key: FAIRUSE_HASH_KEY'))
        || ':' || {{ column }},
        256
    )
{%- endmacro %}
