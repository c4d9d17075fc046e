-- Grain: user_id (users with at least one outbound call), for the month being built. How a user dials the numbers
-- they call: distinct destinations, calls to numbers new to the account and how often they are answered (over the
-- month and within cold-calling sessions), and the regularity of all the gaps between consecutive calls. Numbers
-- are compared as they are, inside this query only (no hashing per call: equality is all a signal needs); none
-- reaches the table. One of the three signal families of int_calls__user_signals, each its
-- own statement so that the database holds one family's windows at a time (memory: BENCHMARKS.md).
{%- set session_gap_ms = (prohibited_use_threshold('session_gap_seconds') | int) * 1000 %}
{%- set tolerance_ms = prohibited_use_threshold('regular_gap_tolerance_seconds') * 1000 %}
{%- set tolerance_share = prohibited_use_threshold('regular_gap_tolerance_share') %}
{%- set max_session_median_ms = session_gap_ms * prohibited_use_threshold('auto_dialing', 'max_session_median_share') %}
with

counted as (
    select * from {{ ref('int_calls__counted') }}
),

outbound as {{ cte_materialized() }} (
    select
        call_id,
        account_id,
        user_id,
        disposition,
        started_at,
        ended_at,
        to_number as dialed_number
    from counted
    where direction = 'outbound'
),

destinations as (
    select
        user_id,
        count(distinct dialed_number) as distinct_destinations
    from outbound
    group by user_id
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

-- Gaps between consecutive outbound calls, in whole milliseconds (exact, so re-runs are identical): from start to
-- start (a dialer on a timer) and from the end of one call to the start of the next (a dialer that waits for the
-- line).
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

-- Every gap between consecutive outbound calls of the month, however long: machine regularity is a property of
-- the whole distribution (cutting it at session_gap_seconds would pile a person's spread of 4-12 minute gaps up
-- just under the cut, where it looks regular). Long gaps (overnight, breaks) only add to the denominator.
-- within_session marks the gaps inside a dialing session (evidence).
all_gaps as (
    select
        user_id,
        {{ int_div(microseconds_between('previous_started_at', 'started_at'), 1000) }} as cadence_ms,
        {{ int_div(microseconds_between('previous_ended_at', 'started_at'), 1000) }} as wrap_ms,
        case
            when {{ microseconds_between('previous_ended_at', 'started_at') }} <= {{ session_gap_ms }} * 1000 then 1
            else 0
        end as within_session
    from consecutive
    where previous_started_at is not null
),

gap_medians as (
    select
        user_id,
        count(*) as gaps,
        sum(within_session) as session_gaps,
        {{ percentile_cont('case when cadence_ms > 0 then cadence_ms end', 0.5) }} as cadence_median_ms,
        {{ percentile_cont('case when wrap_ms >= 0 then wrap_ms end', 0.5) }} as wrap_median_ms,
        {{ percentile_cont('case when within_session = 1 and cadence_ms > 0 then cadence_ms end', 0.5) }}
            as session_cadence_median_ms,
        {{ percentile_cont('case when within_session = 1 and wrap_ms >= 0 then wrap_ms end', 0.5) }}
            as session_wrap_median_ms
    from all_gaps
    group by user_id
),

-- A gap is machine-regular within max(tolerance, tolerance share x the user's median gap) of that median. Also
-- within dialing sessions only (a dialer's sessions beside many ordinary calls), but only where the sessions' median
-- gap is at most max_session_median_share of the session gap: a cut close to the median would pile a person's
-- gaps up under it.
gap_regularity as (
    select
        m.user_id,
        m.gaps,
        m.session_gaps,
        m.cadence_median_ms,
        m.wrap_median_ms,
        m.session_cadence_median_ms,
        m.session_wrap_median_ms,
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
        ) as regular_wrap_gaps,
        sum(
            case
                when
                    g.within_session = 1
                    and g.cadence_ms > 0
                    and m.session_cadence_median_ms <= {{ max_session_median_ms }}
                    and abs(g.cadence_ms - m.session_cadence_median_ms)
                    <= greatest({{ tolerance_ms }}, {{ tolerance_share }} * m.session_cadence_median_ms)
                    then 1
                else 0
            end
        ) as session_regular_cadence_gaps,
        sum(
            case
                when
                    g.within_session = 1
                    and g.wrap_ms >= 0
                    and m.session_wrap_median_ms <= {{ max_session_median_ms }}
                    and abs(g.wrap_ms - m.session_wrap_median_ms)
                    <= greatest({{ tolerance_ms }}, {{ tolerance_share }} * m.session_wrap_median_ms)
                    then 1
                else 0
            end
        ) as session_regular_wrap_gaps
    from all_gaps as g
    inner join gap_medians as m on g.user_id = m.user_id
    group by
        m.user_id, m.gaps, m.session_gaps, m.cadence_median_ms, m.wrap_median_ms, m.session_cadence_median_ms,
        m.session_wrap_median_ms
),

final as (
    select
        d.user_id,
        d.distinct_destinations,
        coalesce(n.new_number_calls, 0) as new_number_calls,
        coalesce(n.new_number_answered, 0) as new_number_answered,
        coalesce(cs.cold_sessions, 0) as cold_sessions,
        coalesce(cs.cold_session_calls, 0) as cold_session_calls,
        coalesce(cs.cold_session_new_number_calls, 0) as cold_session_new_number_calls,
        coalesce(cs.cold_session_new_number_answered, 0) as cold_session_new_number_answered,
        coalesce(g.gaps, 0) as gaps,
        coalesce(g.session_gaps, 0) as session_gaps,
        g.cadence_median_ms,
        g.wrap_median_ms,
        coalesce(g.regular_cadence_gaps, 0) as regular_cadence_gaps,
        coalesce(g.regular_wrap_gaps, 0) as regular_wrap_gaps,
        g.session_cadence_median_ms,
        g.session_wrap_median_ms,
        coalesce(g.session_regular_cadence_gaps, 0) as session_regular_cadence_gaps,
        coalesce(g.session_regular_wrap_gaps, 0) as session_regular_wrap_gaps
    from destinations as d
    left join new_numbers as n on d.user_id = n.user_id
    left join cold_sessions as cs on d.user_id = cs.user_id
    left join gap_regularity as g on d.user_id = g.user_id
)

select * from final
