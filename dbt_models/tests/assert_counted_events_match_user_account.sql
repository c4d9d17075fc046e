{{ config(meta={'dagster': {'ref': {'name': 'int_calls__billed'}}}) }}
-- Cross-check of the raw loader against dbt's reference data as of the month: every counted call of the month
-- carries the account its user belongs to that month (account_mismatch rows were quarantined, nulls filled).
select c.call_id
from {{ ref('int_calls__billed') }} as c
inner join {{ ref('int_users__as_of_month') }} as u on c.user_id = u.user_id
where c.account_id != u.account_id
