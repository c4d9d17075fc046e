-- Grain: user_id (users with at least one outbound call), for the month being built. The volume and pace of a
-- user's outbound calling: calls, answered calls, talk, short calls, API calls, voicemail drops, the most calls
-- started within any 60 minutes, calls in progress at once, the most voicemail drops within a window. No number is
-- needed: read from the billed calls (a table of the build database, not the Parquet again). One of the three
-- signal families of int_calls__user_signals.
{%- set voicemail_window_seconds = prohibited_use_threshold('voicemail_blasting', 'window_seconds') | int %}
with

billed as (
    select * from {{ ref('int_calls__billed') }}
),

outbound as (
    select
        user_id,
        call_id,
        disposition,
        initiated_via,
        started_at,
        ended_at,
        talk_seconds
    from billed
    where direction = 'outbound'
),

outbound_stats as (
    select
        user_id,
        count(*) as outbound_calls,
        sum(case when disposition = 'answered' then 1 else 0 end) as outbound_answered,
        avg(case when disposition = 'answered' then talk_seconds end) as average_talk_seconds,
        sum(case
            when disposition = 'answered' and talk_seconds <= {{ prohibited_use_threshold('short_call_seconds') }}
                then 1
            else 0
        end) as short_answered_calls,
        sum(case when initiated_via = 'api' then 1 else 0 end) as api_calls,
        sum(case when disposition = 'voicemail' then 1 else 0 end) as voicemail_drops
    from outbound
    group by user_id
),

-- Most outbound calls started within any 60 minutes (sliding, not clock hours): the calls started in [t, t + 3600 s)
-- after a call started at t, to the microsecond (timestamps carry fractions of a second).
peak_hour as (
    select
        user_id,
        max(calls_in_hour) as peak_calls_per_hour
    from (
        select
            user_id,
            count(*) over (
                partition by user_id
                order by {{ epoch_microseconds('started_at') }}
                range between current row and {{ 3600 * 1000000 - 1 }} following
            ) as calls_in_hour
        from outbound
    ) as windows
    group by user_id
),

outbound_concurrency as (
    {{ concurrency_sweep('outbound', ['user_id'], 'started_at', 'ended_at',
        prohibited_use_threshold('auto_dialing', 'min_concurrent_outbound_calls')) }}
),

-- Most voicemail drops started in [t, t + window_seconds) after a drop started at t, to the microsecond.
voicemail_windows as (
    select
        user_id,
        max(drops_in_window) as max_voicemails_in_window
    from (
        select
            user_id,
            count(*) over (
                partition by user_id
                order by {{ epoch_microseconds('started_at') }}
                range between current row and {{ [voicemail_window_seconds * 1000000 - 1, 0] | max }} following
            ) as drops_in_window
        from outbound
        where disposition = 'voicemail'
    ) as windows
    group by user_id
),

final as (
    select
        o.user_id,
        o.outbound_calls,
        o.outbound_answered,
        o.average_talk_seconds,
        o.short_answered_calls,
        o.api_calls,
        o.voicemail_drops,
        coalesce(h.peak_calls_per_hour, 0) as peak_calls_per_hour,
        coalesce(oc.max_concurrent, 0) as max_concurrent_outbound_calls,
        coalesce(oc.calls_at_concurrency, 0) as parallel_outbound_calls,
        coalesce(v.max_voicemails_in_window, 0) as max_voicemails_in_window
    from outbound_stats as o
    left join peak_hour as h on o.user_id = h.user_id
    left join outbound_concurrency as oc on o.user_id = oc.user_id
    left join voicemail_windows as v on o.user_id = v.user_id
)

select * from final
