-- Grain: one row per user in any users snapshot, for the month being built.
-- Reference data as of month M (CONTRACT §1): each user's and each account's record comes from the latest
-- snapshot dated on or before M's last day that contains it; failing that, from the earliest that does.
with

users as (
    select * from {{ ref('stg_reference__users') }}
),

accounts as (
    select * from {{ ref('stg_reference__accounts') }}
),

users_as_of as (
    {{ as_of_month('users', 'user_id') }}
),

accounts_as_of as (
    {{ as_of_month('accounts', 'account_id') }}
),

final as (
    select
        {{ month_start() }} as month,
        u.user_id,
        u.account_id,
        u.snapshot_date as user_snapshot_date,
        u.created_at,
        u.deactivated_at,
        -- Active: created before M ends and not deactivated before M starts.
        coalesce(
            u.created_at < {{ month_end_exclusive() }}
            and (u.deactivated_at is null or u.deactivated_at >= {{ month_start() }}),
            false
        ) as is_active,
        a.snapshot_date as account_snapshot_date,
        a.account_name,
        a.country,
        a.plan,
        a.currency,
        a.declared_contact_center,
        a.surcharge_agreed_on,
        a.surcharge_rate_per_minute
    from users_as_of as u
    left join accounts_as_of as a on u.account_id = a.account_id
)

select * from final
