{# DuckDB's `view`, lean: one `create or replace view` in the model's transaction (see table.sql for why). #}
{% materialization view, adapter='duckdb' %}
    {{ return(lean_materialize('view', lean_create_or_replace('view', compiled_code))) }}
{% endmaterialization %}
