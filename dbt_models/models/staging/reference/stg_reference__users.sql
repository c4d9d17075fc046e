-- Grain: snapshot_date x user_id. Every users snapshot, one row per user and snapshot: when a snapshot was
-- delivered more than once, the latest delivered copy wins (file modification time, file name, position).
with

source as (
    select * from {{ source('raw', 'users') }}
    where user_id is not null
),

ranked as (
    select
        *,
        row_number() over (
            partition by snapshot_date, user_id
            order by delivered_at desc, source_file desc, source_row desc
        ) as delivery_rank
    from source
),

latest as (
    select
        snapshot_date,
        user_id,
        account_id,
        created_at,
        deactivated_at
    from ranked
    where delivery_rank = 1
)

select * from latest
