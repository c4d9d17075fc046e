{#
  The columns (name, type) a query would write that `relation` lacks ('added'), and those of `relation` the query
  lacks ('removed'): DESCRIBE binds the query without running it. No rows: the schemas agree.
#}
{% macro lean_schema_changes(relation, query) -%}
    with new_columns as (
        select column_name, column_type from (describe (
            {{ query }}
        ))
    ),

    old_columns as (
        select column_name, column_type from (describe {{ relation }})
    )

    select 'added' as change, column_name, column_type from (
        select * from new_columns except all select * from old_columns
    )
    union all
    select 'removed' as change, column_name, column_type from (
        select * from old_columns except all select * from new_columns
    )
    order by change, column_name
{%- endmacro %}
