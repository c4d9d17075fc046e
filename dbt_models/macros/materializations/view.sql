{#
  DuckDB's `view`, lean: one `create or replace view` in the model's transaction (see table.sql for why).
#}
{% materialization view, adapter='duckdb' %}
    {%- do lean_materialization_unsupported() -%}
    {%- set existing = load_cached_relation(this) -%}
    {%- set target = this.incorporate(type='view') -%}
    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}
    {%- if existing is not none and not existing.is_view -%}
        {% do adapter.drop_relation(existing) %}
    {%- endif %}
    {% call statement('main') -%}
        create or replace view {{ target }} as (
            {{ compiled_code }}
        )
    {%- endcall %}
    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {{ adapter.commit() }}
    {{ run_hooks(post_hooks, inside_transaction=False) }}
    {{ return({'relations': [target]}) }}
{% endmaterialization %}
