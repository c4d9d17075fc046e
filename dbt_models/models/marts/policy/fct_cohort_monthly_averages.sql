{{ config(tags=['policy']) }}
-- Grain: month x country x plan x metric. Distribution of each policed metric over the users of
-- fct_user_monthly_usage with the same month, country and plan (CONTRACT §3); percentiles are continuous.
with

metric_values as (
    select * from {{ ref('int_user_metrics__monthly') }}
    where {{ is_month_being_built('month') }}
),

final as (
    select
        month,
        country,
        plan,
        metric,
        count(*) as users,
        cast(sum(value_units) as double) / (count(*) * max(unit_divisor)) as mean_value,
        {{ percentile_cont('cast(value_units as double) / unit_divisor', 0.5) }} as median_value,
        {{ percentile_cont('cast(value_units as double) / unit_divisor', 0.95) }} as p95_value,
        {{ percentile_cont('cast(value_units as double) / unit_divisor', 0.99) }} as p99_value,
        '{{ required_var("policy_version") }}' as policy_version
    from metric_values
    group by month, country, plan, metric
)

select * from final
