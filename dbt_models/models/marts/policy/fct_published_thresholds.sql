{{ config(tags=['policy']) }}
-- Grain: month x country x plan x metric. The published thresholds: for a user of this country and plan, the
-- value from which usage of the metric is flagged, so support can answer "am I over?" in one query.
-- threshold_value = max(floor, min(threshold_multiple x cohort_mean, threshold_multiple x estimated_value)),
-- null where the offering is not free. The exact test excludes the user from its own cohort mean
-- (leave-one-out), so a user's own row in fct_user_excess_ratios is the final word.
with

ratios as (
    select * from {{ ref('fct_user_excess_ratios') }}
    where {{ is_month_being_built('month') }}
),

cohorts as (
    select
        month,
        country,
        plan,
        metric,
        max(cohort_level) as cohort_level,
        max(cohort_users) as cohort_users,
        count(*) as country_plan_users,
        max(estimated_value) as estimated_value
    from ratios
    group by month, country, plan, metric
),

level_means as (
    -- the mean over the whole level population (user included): cohort_users x mean = sum at that level
    select
        r.month,
        r.country,
        r.plan,
        r.metric,
        max(coalesce(r.reference_mean * (r.cohort_users - 1), 0) + r.value) / max(r.cohort_users) as cohort_mean
    from ratios as r
    group by r.month, r.country, r.plan, r.metric
),

metrics as (
    {{ policy_metrics() }}
),

free_offerings as (
    {{ free_offering_cohorts('cohorts') }}
),

final as (
    select
        c.month,
        c.country,
        c.plan,
        c.metric,
        m.offering,
        fp.offering is not null as offering_is_free,
        c.cohort_level,
        c.cohort_users,
        c.country_plan_users,
        lm.cohort_mean,
        c.estimated_value,
        m.floor,
        cast({{ required_var('threshold_multiple') }} as double) as threshold_multiple,
        cast({{ required_var('severe_multiple') }} as double) as severe_multiple,
        case
            when fp.offering is not null then {{ fair_use_threshold('lm.cohort_mean', 'c.estimated_value', 'm.floor') }}
        end as threshold_value,
        '{{ required_var("policy_version") }}' as policy_version
    from cohorts as c
    inner join level_means as lm
        on
            c.month = lm.month and c.metric = lm.metric
            and coalesce(c.country, '') = coalesce(lm.country, '') and coalesce(c.plan, '') = coalesce(lm.plan, '')
    inner join metrics as m on c.metric = m.metric
    left join free_offerings as fp on c.country = fp.country and c.plan = fp.plan and m.offering = fp.offering
)

select * from final
