-- Grain: one counted team chat message (month x chat_message_id).
with

source as (
    select * from {{ source('raw', 'chats') }}
),

counted as (
    select
        month,
        chat_message_id,
        account_id,
        user_id,
        conversation_id,
        sent_at
    from source
    where quarantine_reason is null
)

select * from counted
