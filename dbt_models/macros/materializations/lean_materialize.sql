{#
  The body every lean DuckDB materialization shares (table.sql, view.sql, incremental.sql): a config they do not
  support refused, the hooks, a relation of the other kind dropped (an earlier version's materialization), the
  model's one statement in its transaction, the commit. `build_sql` is that statement; `relation_type` the kind
  it leaves ('table' or 'view').
#}
{% macro lean_materialize(relation_type, build_sql) -%}
    {%- do lean_materialization_unsupported() -%}
    {%- set existing = load_cached_relation(this) -%}
    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}
    {%- if existing is not none and existing.type != relation_type -%}
        {% do adapter.drop_relation(existing) %}
    {%- endif %}
    {% call statement('main') -%}
        {{ build_sql }}
    {%- endcall %}
    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {{ adapter.commit() }}
    {{ run_hooks(post_hooks, inside_transaction=False) }}
    {{ return({'relations': [this.incorporate(type=relation_type)]}) }}
{%- endmacro %}

{# The statement of a model built whole: `create or replace <table|view> <this> as (<query>)`. #}
{% macro lean_create_or_replace(relation_type, query) -%}
    create or replace {{ relation_type }} {{ this.incorporate(type=relation_type) }} as (
        {{ query }}
    )
{%- endmacro %}
