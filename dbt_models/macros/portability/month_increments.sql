{#
  How a month-grain incremental model replaces its month, per engine. DuckDB: append after the
  delete_month_being_built pre-hook (the month deleted by a constant predicate). Spark: the table is Parquet
  partitioned by month and a run overwrites the partitions it writes (insert_overwrite, dynamic).
#}
{% macro month_strategy(duckdb_strategy) -%}
    {{ return('insert_overwrite' if target.type == 'spark' else duckdb_strategy) }}
{%- endmacro %}

{% macro month_partition_by() -%}
    {{ return(['month'] if target.type == 'spark' else none) }}
{%- endmacro %}
