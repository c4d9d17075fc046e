{{ config(tags=['policy']) }}
-- Grain: month x user_id x metric. Each user's value against the leave-one-out mean of its cohort and against
-- the plan's estimate (CONTRACT §3). Cohort: the users of the same month, country and plan; when that level has
-- fewer than min_cohort_size users besides the user, the plan across countries, and failing that every user of
-- the month. cohort_users counts the user; a ratio over 0 or null is null.
with

metric_values as (
    select * from {{ ref('int_user_metrics__monthly') }}
    where {{ is_month_being_built('month') }}
),

estimates as (
    {{ policy_estimates() }}
),

by_country_plan as (
    select
        month,
        country,
        plan,
        metric,
        count(*) as cohort_users,
        sum(value_units) as cohort_units
    from metric_values
    group by month, country, plan, metric
),

by_plan as (
    select
        month,
        plan,
        metric,
        count(*) as cohort_users,
        sum(value_units) as cohort_units
    from metric_values
    group by month, plan, metric
),

by_all as (
    select
        month,
        metric,
        count(*) as cohort_users,
        sum(value_units) as cohort_units
    from metric_values
    group by month, metric
),

leveled as (
    select
        v.*,
        {{ cohort_fallback(none) }} as cohort_level,
        {{ cohort_fallback('cohort_users') }} as cohort_users,
        {{ cohort_fallback('cohort_units') }} as cohort_units
    from metric_values as v
    inner join by_country_plan as cp
        on
            v.month = cp.month and v.metric = cp.metric
            and coalesce(v.country, '') = coalesce(cp.country, '') and coalesce(v.plan, '') = coalesce(cp.plan, '')
    inner join by_plan as p
        on v.month = p.month and v.metric = p.metric and coalesce(v.plan, '') = coalesce(p.plan, '')
    inner join by_all as a on v.month = a.month and v.metric = a.metric
),

final as (
    select
        l.month,
        l.user_id,
        l.account_id,
        l.metric,
        cast(l.value_units as double) / l.unit_divisor as value,
        l.cohort_level,
        l.cohort_users,
        case
            when l.cohort_users > 1
                then cast(l.cohort_units - l.value_units as double) / ((l.cohort_users - 1) * l.unit_divisor)
        end as reference_mean,
        e.estimated_value,
        case
            when l.cohort_users > 1 and l.cohort_units - l.value_units != 0
                then cast(l.value_units * (l.cohort_users - 1) as double) / (l.cohort_units - l.value_units)
        end as ratio_to_cohort,
        case
            when e.estimated_value != 0 then (cast(l.value_units as double) / l.unit_divisor) / e.estimated_value
        end as ratio_to_estimate,
        l.country,
        l.plan,
        l.currency,
        '{{ required_var("policy_version") }}' as policy_version
    from leveled as l
    left join estimates as e on l.plan = e.plan and l.metric = e.metric
)

select * from final
