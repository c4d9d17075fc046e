{# A month as a running integer (year x 12 + month), so that months in a row differ by 1 ("consecutive months"). #}
{% macro month_number(month) -%}
    (extract(year from {{ month }}) * 12 + extract(month from {{ month }}))
{%- endmacro %}
