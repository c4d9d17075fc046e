{#
  Reference data as of the month (CONTRACT §1): per key, the latest snapshot dated on or before the month's last
  day that contains it; failing that, the earliest snapshot that does. Returns the relation's rows, one per key.
#}
{% macro as_of_month(relation, key) -%}
    select * from (
        select
            *,
            row_number() over (
                partition by {{ key }}
                order by
                    case when snapshot_date <= {{ month_last_day() }} then 0 else 1 end,
                    case when snapshot_date <= {{ month_last_day() }} then snapshot_date end desc nulls last,
                    snapshot_date asc
            ) as snapshot_rank
        from {{ relation }}
    ) as ranked
    where snapshot_rank = 1
{%- endmacro %}
