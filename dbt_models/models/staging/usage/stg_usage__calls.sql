-- Grain: one row read from the month's call files (source_file x source_row): duplicates and bad rows included;
-- the row rules are applied in int_usage__exceptions. Phone numbers are in clear here and nowhere downstream.
with

source as (
    select * from {{ source('raw', 'calls') }}
),

renamed as (
    select
        month,
        call_id,
        account_id,
        user_id,
        direction,
        disposition,
        initiated_via,
        started_at,
        answered_at,
        ended_at,
        from_number,
        to_number,
        forwarded_to,
        source_file,
        source_row,
        delivered_at
    from source
)

select * from renamed
