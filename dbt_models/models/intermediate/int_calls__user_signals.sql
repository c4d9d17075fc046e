-- Grain: user_id, for the month being built. The calling signals behind prohibited-use detection, computed
-- set-based over every call of the month (windows and sweeps, no quadratic self-joins): volume, answer-seizure
-- ratio, calls to numbers new to the account and how often they are answered (over the month and within
-- cold-calling sessions), pace and regularity of dialing, calls in progress at once (outbound; direct inbound and
-- forwarded calls in talk), voicemail drops per window. Numbers are compared as they are, inside this model's
-- query only (no hashing per call: equality is all a signal needs); none reaches the table it builds.
{%- set session_gap_ms = (prohibited_use_threshold('session_gap_seconds') | int) * 1000 %}
{%- set tolerance_ms = prohibited_use_threshold('regular_gap_tolerance_seconds') * 1000 %}
{%- set tolerance_share = prohibited_use_threshold('regular_gap_tolerance_share') %}
{%- set voicemail_window_seconds = prohibited_use_threshold('voicemail_blasting', 'window_seconds') | int %}
with

counted as (
    select * from {{ ref('int_calls__counted') }}
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
        answered_at,
        ended_at,
        {{ talk_seconds('answered_at', 'ended_at') }} as talk_seconds,
        case when direction = 'outbound' then to_number end as dialed_number,
        case when direction = 'inbound' then from_number end as caller_number,
        forwarded_to
    from counted
),

outbound as (
    select * from calls where direction = 'outbound'
),

-- A number is new to the account on the account's first outbound call to it this month (whoever placed it).
first_contacts as (
    select
        user_id,
        call_id,
        disposition,
        row_number() over (
            partition by account_id, dialed_number order by started_at, call_id
        ) as contact_rank
    from outbound
    where dialed_number is not null
),

new_numbers as (
    select
        user_id,
        sum(case when contact_rank = 1 then 1 else 0 end) as new_number_calls,
        sum(case when contact_rank = 1 and disposition = 'answered' then 1 else 0 end) as new_number_answered
    from first_contacts
    group by user_id
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
        count(distinct dialed_number) as distinct_destinations,
        sum(case when initiated_via = 'api' then 1 else 0 end) as api_calls,
        sum(case when disposition = 'voicemail' then 1 else 0 end) as voicemail_drops
    from outbound
    group by user_id
),

-- Most outbound calls started within any 60 minutes (sliding, not clock hours).
peak_hour as (
    select
        user_id,
        max(calls_in_hour) as peak_calls_per_hour
    from (
        select
            user_id,
            count(*) over (
                partition by user_id
                order by {{ epoch_seconds('started_at') }}
                range between current row and 3599 following
            ) as calls_in_hour
        from outbound
    ) as windows
    group by user_id
),

-- Gaps between consecutive outbound calls, in whole milliseconds (exact, so re-runs are identical): from start to
-- start (a dialer on a timer) and from the end of one call to the start of the next (a dialer that waits for the
-- line). Inside a dialing session only: the next call starts at most session_gap_seconds after the last ended.
consecutive as (
    select
        user_id,
        call_id,
        disposition,
        started_at,
        lag(started_at) over (partition by user_id order by started_at, call_id) as previous_started_at,
        lag(ended_at) over (partition by user_id order by started_at, call_id) as previous_ended_at
    from outbound
),

-- Dialing sessions: a new session starts when more than session_gap_seconds passed since the previous call ended.
sessions as (
    select
        user_id,
        call_id,
        disposition,
        sum(
            case
                when
                    previous_ended_at is null
                    or {{ microseconds_between('previous_ended_at', 'started_at') }} > {{ session_gap_ms }} * 1000
                    then 1
                else 0
            end
        ) over (
            partition by user_id order by started_at, call_id rows between unbounded preceding and current row
        ) as session_number
    from consecutive
),

session_stats as (
    select
        s.user_id,
        s.session_number,
        count(*) as calls,
        sum(case when f.contact_rank = 1 then 1 else 0 end) as new_number_calls,
        sum(case when f.contact_rank = 1 and s.disposition = 'answered' then 1 else 0 end) as new_number_answered
    from sessions as s
    left join first_contacts as f on s.call_id = f.call_id
    group by s.user_id, s.session_number
),

-- Cold-calling sessions: at least min_session_calls calls, mostly to numbers new to the account, mostly not
-- answered (the telemarketing traits, judged per session so that ordinary calls elsewhere in the month do not
-- dilute them).
cold_sessions as (
    select
        user_id,
        count(*) as cold_sessions,
        sum(calls) as cold_session_calls,
        sum(new_number_calls) as cold_session_new_number_calls,
        sum(new_number_answered) as cold_session_new_number_answered
    from session_stats
    where
        calls >= {{ prohibited_use_threshold('outbound_telemarketing', 'min_session_calls') }}
        and new_number_calls >= {{ prohibited_use_threshold('outbound_telemarketing', 'min_new_number_share') }} * calls
        and new_number_answered
        <= {{ prohibited_use_threshold('outbound_telemarketing', 'max_new_number_answer_ratio') }} * new_number_calls
    group by user_id
),

session_gaps as (
    select
        user_id,
        {{ int_div(microseconds_between('previous_started_at', 'started_at'), 1000) }} as cadence_ms,
        {{ int_div(microseconds_between('previous_ended_at', 'started_at'), 1000) }} as wrap_ms
    from consecutive
    where
        previous_started_at is not null
        and {{ microseconds_between('previous_ended_at', 'started_at') }} <= {{ session_gap_ms }} * 1000
),

gap_medians as (
    select
        user_id,
        count(*) as session_gaps,
        {{ percentile_cont('case when cadence_ms > 0 then cadence_ms end', 0.5) }} as cadence_median_ms,
        {{ percentile_cont('case when wrap_ms >= 0 then wrap_ms end', 0.5) }} as wrap_median_ms
    from session_gaps
    group by user_id
),

-- A gap is machine-regular within max(tolerance, tolerance share x the user's median gap) of that median.
gap_regularity as (
    select
        m.user_id,
        m.session_gaps,
        m.cadence_median_ms,
        m.wrap_median_ms,
        sum(
            case
                when
                    g.cadence_ms > 0
                    and abs(g.cadence_ms - m.cadence_median_ms)
                    <= greatest({{ tolerance_ms }}, {{ tolerance_share }} * m.cadence_median_ms)
                    then 1
                else 0
            end
        ) as regular_cadence_gaps,
        sum(
            case
                when
                    g.wrap_ms >= 0
                    and abs(g.wrap_ms - m.wrap_median_ms)
                    <= greatest({{ tolerance_ms }}, {{ tolerance_share }} * m.wrap_median_ms)
                    then 1
                else 0
            end
        ) as regular_wrap_gaps
    from session_gaps as g
    inner join gap_medians as m on g.user_id = m.user_id
    group by m.user_id, m.session_gaps, m.cadence_median_ms, m.wrap_median_ms
),

outbound_concurrency as (
    {{ concurrency_sweep('outbound', ['user_id'], 'started_at', 'ended_at',
        prohibited_use_threshold('auto_dialing', 'min_concurrent_outbound_calls')) }}
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
                range between current row and {{ [voicemail_window_seconds - 1, 0] | max }} following
            ) as drops_in_window
        from outbound
        where disposition = 'voicemail'
    ) as windows
    group by user_id
),

inbound_stats as (
    select
        user_id,
        count(*) as inbound_calls,
        sum(case when forwarded_to is null then 1 else 0 end) as direct_inbound_calls,
        count(distinct caller_number) as distinct_callers
    from calls
    where direction = 'inbound'
    group by user_id
),

-- In talk: answered by a person (not a voicemail box) until ended. One person talks on one call, may hold one.
direct_inbound_in_talk as (
    select * from calls where direction = 'inbound' and forwarded_to is null and disposition = 'answered'
),

inbound_concurrency as (
    {{ concurrency_sweep('direct_inbound_in_talk', ['user_id'], 'answered_at', 'ended_at',
        prohibited_use_threshold('bulk_call_in_line', 'min_concurrent_inbound_calls')) }}
),

forwarded_stats as (
    select
        user_id,
        count(*) as forwarded_calls,
        count(distinct forwarded_to) as forwarded_numbers
    from calls
    where forwarded_to is not null
    group by user_id
),

forwarded_in_talk as (
    select * from calls where forwarded_to is not null and disposition = 'answered'
),

-- Per forwarded-to number: calls in talk at once on that number's line(s).
forwarded_concurrency as (
    select
        user_id,
        max(max_concurrent) as max_concurrent_forwarded_calls,
        sum(calls_at_concurrency) as overlapping_forwarded_calls
    from (
        {{ concurrency_sweep('forwarded_in_talk', ['user_id', 'forwarded_to'], 'answered_at', 'ended_at',
            prohibited_use_threshold('forwarding_to_multi_line', 'min_concurrent_forwarded_calls')) }}
    ) as per_number
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

-- Counts as BIGINT on every engine (DuckDB's sum of integers is a HUGEINT, Spark's a BIGINT).
final as (
    select
        u.month,
        u.account_id,
        u.user_id,
        u.calls,
        cast(coalesce(o.outbound_calls, 0) as {{ dbt.type_bigint() }}) as outbound_calls,
        cast(coalesce(o.outbound_answered, 0) as {{ dbt.type_bigint() }}) as outbound_answered,
        case when o.outbound_calls > 0 then cast(o.outbound_answered as double) / o.outbound_calls end
            as answer_seizure_ratio,
        o.average_talk_seconds,
        case when o.outbound_answered > 0 then cast(o.short_answered_calls as double) / o.outbound_answered end
            as short_call_share,
        cast(coalesce(o.distinct_destinations, 0) as {{ dbt.type_bigint() }}) as distinct_destinations,
        case when o.outbound_calls > 0 then cast(o.distinct_destinations as double) / o.outbound_calls end
            as distinct_destination_share,
        cast(coalesce(n.new_number_calls, 0) as {{ dbt.type_bigint() }}) as new_number_calls,
        case when o.outbound_calls > 0 then cast(coalesce(n.new_number_calls, 0) as double) / o.outbound_calls end
            as new_number_share,
        case when n.new_number_calls > 0 then cast(n.new_number_answered as double) / n.new_number_calls end
            as new_number_answer_ratio,
        cast(coalesce(cs.cold_sessions, 0) as {{ dbt.type_bigint() }}) as cold_sessions,
        cast(coalesce(cs.cold_session_calls, 0) as {{ dbt.type_bigint() }}) as cold_session_calls,
        cast(coalesce(cs.cold_session_new_number_calls, 0) as {{ dbt.type_bigint() }}) as cold_session_new_number_calls,
        case
            when cs.cold_session_new_number_calls > 0
                then cast(cs.cold_session_new_number_answered as double) / cs.cold_session_new_number_calls
        end as cold_session_new_number_answer_ratio,
        cast(coalesce(o.api_calls, 0) as {{ dbt.type_bigint() }}) as api_calls,
        case when o.outbound_calls > 0 then cast(o.api_calls as double) / o.outbound_calls end as api_share,
        cast(coalesce(h.peak_calls_per_hour, 0) as {{ dbt.type_bigint() }}) as peak_calls_per_hour,
        cast(coalesce(g.session_gaps, 0) as {{ dbt.type_bigint() }}) as session_gaps,
        cast(g.cadence_median_ms as double) / 1000 as cadence_median_seconds,
        cast(g.wrap_median_ms as double) / 1000 as wrap_median_seconds,
        cast(coalesce(g.regular_cadence_gaps, 0) as {{ dbt.type_bigint() }}) as regular_cadence_gaps,
        cast(coalesce(g.regular_wrap_gaps, 0) as {{ dbt.type_bigint() }}) as regular_wrap_gaps,
        case
            when g.session_gaps > 0
                then cast(greatest(g.regular_cadence_gaps, g.regular_wrap_gaps) as double) / g.session_gaps
        end as regular_gap_share,
        cast(coalesce(oc.max_concurrent, 0) as {{ dbt.type_bigint() }}) as max_concurrent_outbound_calls,
        cast(coalesce(oc.calls_at_concurrency, 0) as {{ dbt.type_bigint() }}) as parallel_outbound_calls,
        cast(coalesce(o.voicemail_drops, 0) as {{ dbt.type_bigint() }}) as voicemail_drops,
        cast(coalesce(v.max_voicemails_in_window, 0) as {{ dbt.type_bigint() }}) as max_voicemails_in_window,
        cast(coalesce(i.inbound_calls, 0) as {{ dbt.type_bigint() }}) as inbound_calls,
        cast(coalesce(i.direct_inbound_calls, 0) as {{ dbt.type_bigint() }}) as direct_inbound_calls,
        cast(coalesce(i.distinct_callers, 0) as {{ dbt.type_bigint() }}) as distinct_callers,
        cast(coalesce(ic.max_concurrent, 0) as {{ dbt.type_bigint() }}) as max_concurrent_inbound_calls,
        cast(coalesce(ic.calls_at_concurrency, 0) as {{ dbt.type_bigint() }}) as overlapping_inbound_calls,
        cast(coalesce(f.forwarded_calls, 0) as {{ dbt.type_bigint() }}) as forwarded_calls,
        cast(coalesce(f.forwarded_numbers, 0) as {{ dbt.type_bigint() }}) as forwarded_numbers,
        cast(coalesce(fc.max_concurrent_forwarded_calls, 0) as {{ dbt.type_bigint() }})
            as max_concurrent_forwarded_calls,
        cast(coalesce(fc.overlapping_forwarded_calls, 0) as {{ dbt.type_bigint() }}) as overlapping_forwarded_calls
    from users as u
    left join outbound_stats as o on u.user_id = o.user_id
    left join new_numbers as n on u.user_id = n.user_id
    left join cold_sessions as cs on u.user_id = cs.user_id
    left join peak_hour as h on u.user_id = h.user_id
    left join gap_regularity as g on u.user_id = g.user_id
    left join outbound_concurrency as oc on u.user_id = oc.user_id
    left join voicemail_windows as v on u.user_id = v.user_id
    left join inbound_stats as i on u.user_id = i.user_id
    left join inbound_concurrency as ic on u.user_id = ic.user_id
    left join forwarded_stats as f on u.user_id = f.user_id
    left join forwarded_concurrency as fc on u.user_id = fc.user_id
)

select * from final
