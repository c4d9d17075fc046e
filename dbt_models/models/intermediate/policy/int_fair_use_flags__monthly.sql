{{ config(materialized='incremental', incremental_strategy=month_strategy('append'), partition_by=month_partition_by(), pre_hook="{{ delete_month_being_built() }}", tags=['policy']) }}
-- Grain: month x user_id x metric, flagged only, for the month being built (streaks are added in
-- fct_fair_use_flags, which sees every month).
-- A user-month-metric is flagged (CONTRACT §3) when the offering behind the metric is free for the user's
-- country and plan, the value reaches the metric's floor, and a ratio reaches threshold_multiple. Severe when
-- the larger ratio reaches severe_multiple. excess_value is what lies above threshold_multiple x R, R the larger
-- of the references whose ratio reached the threshold (the reading most favourable to the customer).
{%- set threshold_multiple = required_var('threshold_multiple') %}
with

ratios as (
    select * from {{ ref('fct_user_excess_ratios') }}
    where {{ is_month_being_built('month') }}
),

metrics as (
    {{ policy_metrics() }}
),

free_offerings as (
    {{ free_offering_cohorts('ratios') }}
),

candidates as (
    select
        r.*,
        m.offering,
        m.floor
    from ratios as r
    inner join metrics as m on r.metric = m.metric
    inner join free_offerings as fo
        on r.country = fo.country and r.plan = fo.plan and m.offering = fo.offering
),

flagged as (
    select
        month,
        user_id,
        account_id,
        metric,
        value,
        reference_mean,
        estimated_value,
        ratio_to_cohort,
        ratio_to_estimate,
        cast({{ threshold_multiple }} as double) as threshold_multiple,
        case
            when
                greatest(coalesce(ratio_to_cohort, 0), coalesce(ratio_to_estimate, 0))
                >= {{ required_var('severe_multiple') }} then 'severe'
            else 'material'
        end as severity,
        greatest(
            value - {{ threshold_multiple }} * greatest(
                case when ratio_to_cohort >= {{ threshold_multiple }} then reference_mean end,
                case when ratio_to_estimate >= {{ threshold_multiple }} then estimated_value end
            ),
            0
        ) as excess_value,
        offering,
        floor,
        currency,
        policy_version
    from candidates
    where
        value >= floor
        and (ratio_to_cohort >= {{ threshold_multiple }} or ratio_to_estimate >= {{ threshold_multiple }})
)

select * from flagged
