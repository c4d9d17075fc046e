-- Grain: user_id, for the month being built. The standard telecom signals behind prohibited-use detection,
-- computed set-based over every call of the month (windows and sweeps, no quadratic self-joins). The numbers
-- it compares are keyed hashes, computed only where a signal needs them (one per call at most).
with

staged as (
    select * from {{ ref('stg_usage__calls') }}
    where month = {{ month_start() }}
),

calls as {{ cte_materialized() }} (
    select
        month,
        call_id,
        account_id,
        user_id,
        direction,
        disposition,
        initiated_via,
        started_at,
        ended_at,
        {{ talk_seconds('answered_at', 'ended_at') }} as talk_seconds,
        case when direction = 'outbound' then {{ keyed_hash('to_number') }} end as to_number_hash,
        case when direction = 'inbound' then {{ keyed_hash('from_number') }} end as from_number_hash,
        {{ keyed_hash('forwarded_to') }} as forwarded_to_hash
    from staged
),

outbound as (
    select * from calls where direction = 'outbound'
),

outbound_stats as (
    select
        user_id,
        count(*) as outbound_calls,
        sum(case when disposition = 'answered' then 1 else 0 end) as outbound_answered,
        avg(case when disposition = 'answered' then talk_seconds end) as average_talk_seconds,
        sum(case when disposition = 'answered' and talk_seconds <= {{ pu('short_call_seconds') }} then 1 else 0 end)
            as short_answered_calls,
        count(distinct to_number_hash) as distinct_destinations,
        sum(case when initiated_via = 'api' then 1 else 0 end) as api_calls
    from outbound
    group by user_id
),

hourly as (
    select
        user_id,
        max(calls_in_hour) as peak_calls_per_hour
    from (
        select
            user_id,
            {{ dbt.date_trunc('hour', 'started_at') }} as hour_start,
            count(*) as calls_in_hour
        from outbound
        group by user_id, {{ dbt.date_trunc('hour', 'started_at') }}
    ) as per_hour
    group by user_id
),

gaps as (
    select
        user_id,
        {{ microseconds_between(
            'lag(started_at) over (partition by user_id order by started_at, call_id)', 'started_at'
        ) }} as gap_us
    from outbound
),

gap_stats as (
    -- only gaps inside a dialing session: a night or a lunch break says nothing about regularity.
    -- Sums of whole milliseconds are exact, so the statistics do not depend on the order rows are summed in
    -- (a re-run is identical to the bit).
    select
        user_id,
        count(*) as session_gaps,
        sum({{ int_div('gap_us', 1000) }}) as sum_ms,
        sum({{ int_div('gap_us', 1000) }} * {{ int_div('gap_us', 1000) }}) as sum_sq_ms
    from gaps
    where gap_us > 0 and gap_us <= {{ pu('session_gap_seconds') | int }} * 1000000
    group by user_id
),

voicemail_windows as (
    select
        user_id,
        max(drops_in_window) as max_voicemails_in_window
    from (
        select
            user_id,
            count(*) over (
                partition by user_id
                order by {{ epoch_seconds('started_at') }}
                range between current row and {{ [(pu("voicemail_blasting", "window_seconds") | int) - 1, 0] | max }} following
            ) as drops_in_window
        from outbound
        where disposition = 'voicemail'
    ) as windows
    group by user_id
),

inbound_direct as (
    select * from calls where direction = 'inbound' and forwarded_to_hash is null and ended_at > started_at
),

inbound_concurrency as (
    {{ max_concurrency('inbound_direct', ['user_id']) }}
),

inbound_stats as (
    select
        user_id,
        count(*) as inbound_calls,
        count(distinct from_number_hash) as distinct_callers
    from calls
    where direction = 'inbound'
    group by user_id
),

forwarded as (
    select * from calls where forwarded_to_hash is not null and ended_at > started_at
),

forwarded_concurrency as (
    select
        user_id,
        max(max_concurrent) as max_concurrent_forwarded_calls
    from ({{ max_concurrency('forwarded', ['user_id', 'forwarded_to_hash']) }}) as per_number
    group by user_id
),

forwarded_stats as (
    select
        user_id,
        count(*) as forwarded_calls,
        count(distinct forwarded_to_hash) as forwarded_numbers
    from calls
    where forwarded_to_hash is not null
    group by user_id
),

users as (
    select
        user_id,
        max(account_id) as account_id,
        max(month) as month,
        count(*) as calls
    from calls
    group by user_id
),

final as (
    select
        u.month,
        u.account_id,
        u.user_id,
        u.calls,
        coalesce(o.outbound_calls, 0) as outbound_calls,
        case when o.outbound_calls > 0 then cast(o.outbound_answered as double) / o.outbound_calls end
            as answer_seizure_ratio,
        o.average_talk_seconds,
        case when o.outbound_answered > 0 then cast(o.short_answered_calls as double) / o.outbound_answered end
            as short_call_share,
        case when o.outbound_calls > 0 then cast(o.distinct_destinations as double) / o.outbound_calls end
            as distinct_destination_share,
        case when o.outbound_calls > 0 then cast(o.api_calls as double) / o.outbound_calls end as api_share,
        coalesce(h.peak_calls_per_hour, 0) as peak_calls_per_hour,
        coalesce(g.session_gaps, 0) as session_gaps,
        cast(g.sum_ms as double) / g.session_gaps / 1000 as gap_mean_seconds,
        case
            when g.session_gaps > 1 and g.sum_ms > 0
                then sqrt(greatest(
                    (cast(g.sum_sq_ms as double) - cast(g.sum_ms as double) * g.sum_ms / g.session_gaps)
                    / (g.session_gaps - 1),
                    0
                )) / (cast(g.sum_ms as double) / g.session_gaps)
        end as gap_cv,
        coalesce(v.max_voicemails_in_window, 0) as max_voicemails_in_window,
        coalesce(i.inbound_calls, 0) as inbound_calls,
        coalesce(i.distinct_callers, 0) as distinct_callers,
        coalesce(ic.max_concurrent, 0) as max_concurrent_inbound_calls,
        coalesce(f.forwarded_calls, 0) as forwarded_calls,
        coalesce(f.forwarded_numbers, 0) as forwarded_numbers,
        coalesce(fc.max_concurrent_forwarded_calls, 0) as max_concurrent_forwarded_calls
    from users as u
    left join outbound_stats as o on u.user_id = o.user_id
    left join hourly as h on u.user_id = h.user_id
    left join gap_stats as g on u.user_id = g.user_id
    left join voicemail_windows as v on u.user_id = v.user_id
    left join inbound_stats as i on u.user_id = i.user_id
    left join inbound_concurrency as ic on u.user_id = ic.user_id
    left join forwarded_stats as f on u.user_id = f.user_id
    left join forwarded_concurrency as fc on u.user_id = fc.user_id
)

select * from final
