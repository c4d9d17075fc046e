-- Grain: snapshot_date x account_id. Every accounts snapshot, one row per account and snapshot: when a snapshot
-- was delivered more than once, the latest delivered copy wins (file modification time, file name, position).
with

source as (
    select * from {{ source('raw', 'accounts') }}
    where account_id is not null
),

ranked as (
    select
        *,
        row_number() over (
            partition by snapshot_date, account_id
            order by delivered_at desc, source_file desc, source_row desc
        ) as delivery_rank
    from source
),

latest as (
    select
        snapshot_date,
        account_id,
        account_name,
        country,
        plan,
        declared_contact_center,
        surcharge_agreed_on,
        surcharge_rate_per_minute,
        currency
    from ranked
    where delivery_rank = 1
)

select * from latest
