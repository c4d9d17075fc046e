{{ config(alias='month_watermarks') }}
-- Grain: month. data_complete_to: the latest event time (started_at, sent_at) among the month's counted rows of
-- every dataset (CONTRACT §4, the exports' manifest).
with

event_times as (
    select max(started_at) as latest from {{ ref('int_calls__counted') }}
    union all
    select max(sent_at) as latest from {{ ref('int_messages__counted') }}
    union all
    select max(sent_at) as latest from {{ ref('int_chats__counted') }}
),

final as (
    select
        {{ month_start() }} as month,
        max(latest) as data_complete_to
    from event_times
)

select * from final
