{{ config(materialized='table', tags=['policy']) }}
-- Grain: month x user_id x metric, flagged only. consecutive_months: months in a row, ending with this one, in
-- which the user was flagged on the metric (gaps and islands over a running month number). Rebuilt over every
-- month on each run, so that it always agrees with every built month (re-building an earlier month updates the
-- later ones).
with

flags as (
    select * from {{ ref('int_fair_use_flags__monthly') }}
),

islands as (
    select
        *,
        {{ month_number('month') }} - row_number() over (partition by user_id, metric order by month) as island
    from flags
),

final as (
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
        threshold_multiple,
        severity,
        cast(row_number() over (partition by user_id, metric, island order by month) as integer)
            as consecutive_months,
        policy_version,
        excess_value,
        offering,
        currency
    from islands
)

select * from final
