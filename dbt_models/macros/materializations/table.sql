{#
  DuckDB's `table`, lean: one `create or replace table ... as` in the model's transaction, instead of dbt-duckdb's
  build-under-a-temporary-name, rename, rename, drop. DuckDB replaces the table atomically at commit, so the
  result is the same; what goes is dbt's Python around each statement (a macro context per adapter call, ~7 ms,
  and ~40 templates compiled per process), measured in BENCHMARKS.md. What dbt-duckdb's version adds and this
  project does not use (indexes, grants, foreign keys, persisted docs, DuckLake partitioning) is not supported:
  `lean_materialization_unsupported` fails the model if a config asks for it. Spark keeps dbt-spark's own.
#}
{% materialization table, adapter='duckdb' %}
    {{ return(lean_materialize('table', lean_create_or_replace('table', compiled_code))) }}
{% endmaterialization %}
