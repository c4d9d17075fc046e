{{ config(materialized='view') }}
-- Grain: one counted SMS / MMS / WhatsApp message of the month being built (message_id).
-- Phone numbers in clear (a view, stored nowhere): read only by the message-blasting signals, which compare them
-- inside their query.
with

counted as (
    {{ counted_rows('messages', ['month', 'message_id', 'account_id', 'user_id', 'channel', 'direction',
                                 'sent_at', 'segments', 'counterparty_number']) }}
)

select * from counted
