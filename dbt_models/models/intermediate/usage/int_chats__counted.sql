{{ config(materialized='view') }}
-- Grain: one counted team chat message of the month being built (chat_message_id).
with

counted as (
    {{ counted_rows('chats', ['month', 'chat_message_id', 'account_id', 'user_id', 'conversation_id',
                              'sent_at']) }}
)

select * from counted
