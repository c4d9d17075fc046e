{{ config(alias='month_watermarks') }}
-- Grain: month. data_complete_to: the latest event time (started_at, sent_at) among the month's counted rows of
-- every dataset (CONTRACT §4, the exports' manifest).
with

event_times as (
    select latest_event_at from {{ ref('int_usage__counted_summary') }}
),

final as (
    select
        {{ month_start() }} as month,
        max(latest_event_at) as data_complete_to
    from event_times
)

select * from final
