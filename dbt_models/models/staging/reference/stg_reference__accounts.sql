-- Grain: snapshot_date x account_id (every accounts snapshot).
with

source as (
    select * from {{ source('raw', 'accounts') }}
),

renamed as (
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
    from source
)

select * from renamed
