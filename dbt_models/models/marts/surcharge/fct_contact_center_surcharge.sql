-- Grain: month x account_id, for accounts that are contact centers (declared, or detected by minutes per
-- user). Every inbound and outbound billable minute is surcharged (internal excluded), applied only in months
-- ending on or after the surcharge agreement; otherwise pending discussion with amount 0 (CONTRACT §3).
with

usage as (
    select * from {{ ref('fct_user_monthly_usage') }}
    where month = {{ month_start() }}
),

users as (
    select * from {{ ref('int_users__as_of_month') }}
),

accounts as (
    -- the account's record as of the month (the same on every user row of the account)
    select
        account_id,
        max(case when declared_contact_center then 1 else 0 end) = 1 as declared,
        max(surcharge_agreed_on) as surcharge_agreed_on,
        max(surcharge_rate_per_minute) as account_rate,
        max(currency) as currency
    from users
    group by account_id
),

default_rates as (
    {{ policy_surcharge_rates() }}
),

per_account as (
    select
        month,
        account_id,
        count(*) as users,
        cast(sum(billable_seconds_inbound) as bigint) as inbound_billable_seconds,
        cast(sum(billable_seconds_outbound) as bigint) as outbound_billable_seconds
    from usage
    group by month, account_id
),

classified as (
    select
        p.*,
        coalesce(a.declared, false) as declared,
        cast(p.inbound_billable_seconds + p.outbound_billable_seconds as double) / 60 / p.users
        >= {{ required_var('contact_center_minutes_per_user') }} as detected,
        coalesce(a.surcharge_agreed_on <= {{ month_last_day() }}, false) as agreement_in_force,
        a.surcharge_agreed_on,
        coalesce(a.account_rate, own.rate, dflt.rate) as rate_per_minute,
        a.currency
    from per_account as p
    left join accounts as a on p.account_id = a.account_id
    left join default_rates as own on a.currency = own.currency
    left join default_rates as dflt on dflt.currency = '*'
),

final as (
    select
        month,
        account_id,
        declared,
        detected,
        inbound_billable_seconds,
        outbound_billable_seconds,
        cast(inbound_billable_seconds + outbound_billable_seconds as double) / 60 as surcharge_minutes,
        agreement_in_force,
        cast(rate_per_minute as decimal(10, 4)) as rate_per_minute,
        case
            when agreement_in_force
                then {{ cents_from_seconds('(inbound_billable_seconds + outbound_billable_seconds)', 'rate_per_minute') }}
            else cast(0 as decimal(18, 2))
        end as surcharge_amount,
        currency,
        case when agreement_in_force then 'apply' else 'pending_discussion' end as status,
        surcharge_agreed_on,
        users,
        cast(inbound_billable_seconds + outbound_billable_seconds as double) / 60 / users as minutes_per_user,
        {{ cents_from_seconds('(inbound_billable_seconds + outbound_billable_seconds)', 'rate_per_minute') }}
            as amount_if_applied,
        '{{ required_var("policy_version") }}' as policy_version
    from classified
    where declared or detected
)

select * from final
