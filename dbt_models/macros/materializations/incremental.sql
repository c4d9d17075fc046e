{#
  DuckDB's `incremental`, lean, for this project's month tables (strategy append, the month deleted first by the
  pre-hook): the first build (or a full refresh) creates the table from the model's query; later builds insert
  the query's rows by column name, in the same transaction as the pre-hook's delete. dbt-duckdb's version builds
  a temporary table, reads the columns of both tables through four adapter calls and inserts from the temporary
  table: the same rows, and most of the extra cost of month 12 over month 1 (BENCHMARKS.md).
  on_schema_change: only `fail` (this project's setting) is supported: the query's columns (DESCRIBE binds it,
  nothing runs) must equal the table's, names and types, or the model fails naming the differences, before
  anything is deleted.
#}
{% materialization incremental, adapter='duckdb' %}
    {%- set existing = load_cached_relation(this) -%}
    {%- set target = this.incorporate(type='table') -%}
    {%- set on_schema_change = config.get('on_schema_change') or 'fail' -%}
    {%- set strategy = config.get('incremental_strategy') or 'append' -%}
    {%- if on_schema_change != 'fail' or strategy != 'append' -%}
        {%- do exceptions.raise_compiler_error(
            "the lean DuckDB incremental (macros/materializations/incremental.sql) supports on_schema_change='fail' "
            ~ "with the append strategy; " ~ this ~ " asks for " ~ on_schema_change ~ "/" ~ strategy) -%}
    {%- endif -%}
    {%- if existing is none or not existing.is_table or should_full_refresh() -%}
        {%- set build_sql = lean_create_or_replace('table', compiled_code) -%}
    {%- else -%}
        {%- set changed = run_query(lean_schema_changes(target, compiled_code)) -%}
        {%- if changed.rows | length > 0 -%}
            {%- set lines = [] -%}
            {%- for row in changed.rows -%}
                {%- do lines.append(row[0] ~ ' ' ~ row[1] ~ ' ' ~ row[2]) -%}
            {%- endfor -%}
            {%- do exceptions.raise_compiler_error(
                "The source and target schemas on this incremental model are out of sync (on_schema_change='fail'): "
                ~ this ~ ": " ~ lines | join(", ") ~ ". The table was built by another version of the model: rebuild "
                ~ "its months from the raw files (README, \"For operators\").") -%}
        {%- endif -%}
        {%- set build_sql -%}
            insert into {{ target }} by name (
                {{ compiled_code }}
            )
        {%- endset -%}
    {%- endif -%}
    {{ return(lean_materialize('table', build_sql)) }}
{% endmaterialization %}
