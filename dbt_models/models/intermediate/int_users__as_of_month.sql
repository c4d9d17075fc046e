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

users_ranked as (
    select
        *,
        row_number() over (
            partition by user_id
            order by
                case when snapshot_date <= {{ month_last_day() }} then 0 else 1 end,
                case when snapshot_date <= {{ month_last_day() }} then snapshot_date end desc nulls last,
                snapshot_date asc
        ) as snapshot_rank
    from users
),

accounts_ranked as (
    select
        *,
        row_number() over (
            partition by account_id
            order by
                case when snapshot_date <= {{ month_last_day() }} then 0 else 1 end,
                case when snapshot_date <= {{ month_last_day() }} then snapshot_date end desc nulls last,
                snapshot_date asc
        ) as snapshot_rank
    from accounts
),

users_as_of as (
    select * from users_ranked where snapshot_rank = 1
),

accounts_as_of as (
    select * from accounts_ranked where snapshot_rank = 1
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
