{{ config(materialized='table', tags=['policy']) }}
-- Grain: month x account_id, for accounts with a flagged user. The enforcement ladder and excess charges
-- (CONTRACT §3), rebuilt over every month on each run (months in a row span partitions).
-- Ladder by the account's months in a row with a flagged user: 1 ask_to_moderate, 2 require_excess_payment,
-- 3 or more limit_access. Charge: sum of excess_value x the metric's unit rate (the account's currency, else the
-- policy's default rate; a metric without a rate adds 0), rounded to cents once per account-month; 0 when asking.
-- Each month is priced with the rates of the policy version it was computed with (joined on the month), so a
-- run under a new version leaves every other month as it was; a streak continues across a version change (the
-- ladder follows the customer's behaviour). A month with no policy record (built before policy versions) has no
-- rates at all: the relationships test on month (audit.policy_months, every month) fails the build rather than
-- price it at 0.
with

flags as (
    select * from {{ ref('fct_fair_use_flags') }}
),

rates as (
    select * from {{ ref('int_policy__excess_rates_by_month') }}
),

priced as (
    select
        f.*,
        coalesce(own.rate, dflt.rate) as unit_rate
    from flags as f
    left join rates as own on f.month = own.month and f.metric = own.metric and f.currency = own.currency
    left join rates as dflt on f.month = dflt.month and f.metric = dflt.metric and dflt.currency = '*'
),

per_account as (
    select
        month,
        account_id,
        max(currency) as currency,
        max(policy_version) as policy_version,
        count(distinct user_id) as flagged_users,
        sum(cast(excess_value as decimal(38, 10)) * coalesce(unit_rate, 0)) as raw_charge
    from priced
    group by month, account_id
),

islands as (
    select
        *,
        {{ month_number('month') }} - row_number() over (partition by account_id order by month) as island
    from per_account
),

laddered as (
    select
        *,
        cast(row_number() over (partition by account_id, island order by month) as integer) as consecutive_months
    from islands
),

final as (
    select
        month,
        account_id,
        cast(flagged_users as integer) as flagged_users,
        consecutive_months,
        case
            when consecutive_months = 1 then 'ask_to_moderate'
            when consecutive_months = 2 then 'require_excess_payment'
            else 'limit_access'
        end as action,
        case
            when consecutive_months = 1 then cast(0 as decimal(18, 2))
            else cast(round(raw_charge, 2) as decimal(18, 2))
        end as excess_charge_amount,
        currency,
        policy_version
    from laddered
)

select * from final
