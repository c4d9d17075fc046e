-- Grain: one row read from the month's message files (source_file x source_row): duplicates and bad rows
-- included; the row rules are applied in int_usage__exceptions.
with

source as (
    select * from {{ source('raw', 'messages') }}
),

renamed as (
    select
        month,
        message_id,
        account_id,
        user_id,
        channel,
        direction,
        sent_at,
        counterparty_number,
        segments,
        source_file,
        source_row,
        delivered_at
    from source
)

select * from renamed
