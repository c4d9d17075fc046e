{#
  The lean DuckDB materializations (table.sql, view.sql, incremental.sql) leave out what dbt-duckdb's add and this
  project does not use; a model whose config asks for one of those fails instead of silently losing it.
#}
{% macro lean_materialization_unsupported() -%}
    {%- set asked = [] -%}
    {%- for key in ['indexes', 'grants', 'partitioned_by', 'sorted_by', 'unique_key'] -%}
        {%- if config.get(key) -%}{%- do asked.append(key) -%}{%- endif -%}
    {%- endfor -%}
    {%- if config.get('contract') and config.get('contract').enforced -%}{%- do asked.append('contract') -%}{%- endif -%}
    {%- if config.get('persist_docs') -%}{%- do asked.append('persist_docs') -%}{%- endif -%}
    {%- if asked -%}
        {%- do exceptions.raise_compiler_error(
            this ~ " asks for " ~ asked | join(', ') ~ ", which the lean DuckDB materializations (macros/"
            ~ "materializations/) do not support") -%}
    {%- endif -%}
{%- endmacro %}
