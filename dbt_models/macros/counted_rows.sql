{#
  The counted rows of a dataset for the month being built: every row read (stg_usage__<dataset>) that is neither
  a dropped duplicate nor quarantined (int_usage__exceptions), with a null account_id filled from the user's
  record as of the month (CONTRACT §1). `columns` are the columns to return, in order.
#}
{% macro counted_rows(dataset, columns) -%}
    select
        {%- for c in columns %}
        {% if c == 'account_id' %}coalesce(r.account_id, u.account_id) as account_id{% else %}r.{{ c }}{% endif %}
        {{- ',' if not loop.last }}
        {%- endfor %}
    from {{ ref('stg_usage__' ~ dataset) }} as r
    left join (
        select source_file, source_row from {{ ref('int_usage__exceptions') }}
        where dataset = '{{ dataset }}' and month = {{ month_start() }}
    ) as x on r.source_file = x.source_file and r.source_row = x.source_row
    left join (
        select user_id, account_id from {{ ref('int_users__as_of_month') }}
    ) as u on r.user_id = u.user_id
    where x.source_row is null
{%- endmacro %}
