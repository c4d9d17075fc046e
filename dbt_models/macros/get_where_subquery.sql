{#
  Tests on month-partitioned models look at the month being built only (`where: __current_month__`), so their
  cost does not grow with history; any other `where` works as in dbt.
#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- if where -%}
        {%- if where == '__current_month__' -%}
            {%- set where = is_month_being_built('month') -%}
        {%- endif -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {{ return(filtered) }}
    {%- else -%}
        {{ return(relation) }}
    {%- endif -%}
{%- endmacro %}
