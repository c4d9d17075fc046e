-- Grain: month x user_id x metric. Each user's value against the leave-one-out mean of its cohort
-- (country x plan, falling back to plan, then all users) and against the plan's estimate (CONTRACT §3).
with

usage as (
    select * from {{ ref('fct_user_monthly_usage') }}
    where month = {{ month_start() }}
),

metric_values as (
    {{ metric_values('usage') }}
),

ratios as (
    {{ excess_ratios('metric_values') }}
)

select * from ratios
