-- Grain: dataset, for the month being built. The counted rows of each dataset and the latest event time among
-- them, in one pass per dataset (calls from the billed table, already materialized), read by the load balance
-- and the watermark so that neither scans the month's files again.
with

calls as (
    select
        'calls' as dataset,
        count(*) as rows_counted,
        max(started_at) as latest_event_at
    from {{ ref('int_calls__billed') }}
),

messages as (
    select
        'messages' as dataset,
        count(*) as rows_counted,
        max(sent_at) as latest_event_at
    from {{ ref('int_messages__counted') }}
),

chats as (
    select
        'chats' as dataset,
        count(*) as rows_counted,
        max(sent_at) as latest_event_at
    from {{ ref('int_chats__counted') }}
),

final as (
    select * from calls
    union all
    select * from messages
    union all
    select * from chats
)

select * from final
