{#- Conservation: rows read = counted + quarantined + duplicates dropped, on every row. -#}
{% test balanced(model) %}
select *
from {{ model }}
where rows_read != rows_counted + rows_quarantined + duplicates_dropped
{% endtest %}
