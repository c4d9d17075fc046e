-- Grain: one counted SMS / MMS / WhatsApp message (month x message_id).
with

source as (
    select * from {{ source('raw', 'messages') }}
),

counted as (
    select
        month,
        message_id,
        account_id,
        user_id,
        channel,
        direction,
        sent_at,
        counterparty_number,
        segments
    from source
    where quarantine_reason is null
)

select * from counted
