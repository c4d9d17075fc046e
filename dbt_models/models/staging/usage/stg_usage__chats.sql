-- Grain: one row read from the month's chat files (source_file x source_row): duplicates and bad rows included;
-- the row rules are applied in int_usage__exceptions.
with

source as (
    select * from {{ source('raw', 'chats') }}
),

renamed as (
    select
        month,
        chat_message_id,
        account_id,
        user_id,
        conversation_id,
        sent_at,
        source_file,
        source_row,
        delivered_at
    from source
)

select * from renamed
