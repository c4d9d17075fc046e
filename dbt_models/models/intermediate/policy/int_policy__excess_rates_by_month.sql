{{ config(materialized='incremental', incremental_strategy=month_strategy('append'), partition_by=month_partition_by(), pre_hook="{{ delete_month_being_built() }}", tags=['policy']) }}
-- Grain: month x metric x currency. The excess unit rates of the policy version each month was computed with
-- (currency '*': the default rate), written with the month and never rewritten by another month's run: the
-- models that span months (fct_account_enforcement) price each month with its own rates by joining on the month.
-- depends_on: {{ ref('fct_user_excess_ratios') }} (the months, when `fairuse simulate` builds every month)
with

months as (
    {{ policy_months() }}
),

rates as (
    {{ policy_excess_rates() }}
),

final as (
    select
        m.month,
        r.metric,
        r.currency,
        r.rate,
        {{ policy_text('policy_version') }} as policy_version
    from months as m
    cross join rates as r
)

select * from final
