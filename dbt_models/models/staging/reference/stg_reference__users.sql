-- Grain: snapshot_date x user_id (every users snapshot).
with

source as (
    select * from {{ source('raw', 'users') }}
),

renamed as (
    select
        snapshot_date,
        user_id,
        account_id,
        created_at,
        deactivated_at
    from source
)

select * from renamed
