{{ config(materialized='view') }}
-- Grain: one counted SMS / MMS / WhatsApp message of the month being built (message_id).
with

counted as (
    {{ counted_rows('messages', ['month', 'message_id', 'account_id', 'user_id', 'channel', 'direction',
                                 'sent_at', 'segments']) }}
)

select * from counted
