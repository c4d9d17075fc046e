{{ config(materialized='view') }}
-- Grain: one counted call of the month being built (call_id): de-duplicated, passed every row rule.
-- Phone numbers in clear: read only by the detection signals, which hash them.
with

counted as (
    {{ counted_rows('calls', ['month', 'call_id', 'account_id', 'user_id', 'direction', 'disposition',
                              'initiated_via', 'started_at', 'answered_at', 'ended_at', 'from_number',
                              'to_number', 'forwarded_to']) }}
)

select * from counted
