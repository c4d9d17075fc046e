{{ config(materialized='table') }}
-- Grain: month x account_id. The "to discuss" list for account managers: contact centers (declared or
-- detected) with no surcharge agreement in force, with the evidence and the amount that would apply.
-- Rebuilt over every month on each run (months in a row span partitions).
with

surcharge as (
    select * from {{ ref('fct_contact_center_surcharge') }}
),

pending as (
    select
        *,
        {{ month_number('month') }} - row_number() over (partition by account_id order by month) as island
    from surcharge
    where status = 'pending_discussion'
),

final as (
    select
        month,
        account_id,
        declared,
        detected,
        users,
        minutes_per_user,
        surcharge_minutes,
        case
            when surcharge_minutes > 0
                then cast(inbound_billable_seconds as double) / 60 / surcharge_minutes
        end as inbound_share,
        case
            when surcharge_minutes > 0
                then cast(outbound_billable_seconds as double) / 60 / surcharge_minutes
        end as outbound_share,
        cast(row_number() over (partition by account_id, island order by month) as integer)
            as consecutive_months,
        rate_per_minute,
        amount_if_applied,
        currency,
        policy_version
    from pending
)

select * from final
