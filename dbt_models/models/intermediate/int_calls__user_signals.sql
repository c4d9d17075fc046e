-- Grain: user_id (users with at least one counted call), for the month being built. The calling signals behind
-- prohibited-use detection, per user, in one row: the three signal families, each computed set-based (windows and
-- sweeps, no quadratic self-joins) in its own model and statement, so the database holds one family's windows at
-- a time: how the user dials (int_calls__user_dialing: destinations, numbers new to the account, cold-calling
-- sessions, regularity of gaps), the pace of outbound calling (int_calls__user_outbound_pace: volume, answer-seizure
-- ratio, peak hour, calls at once, voicemail drops per window) and the inbound side (int_calls__user_inbound:
-- callers, direct inbound and forwarded calls in talk at once). Here: who made calls, the ratios, and the counts as
-- BIGINT. No phone number reaches any of these tables.
with

billed as (
    select * from {{ ref('int_calls__billed') }}
),

dialing as (
    select * from {{ ref('int_calls__user_dialing') }}
),

pace as (
    select * from {{ ref('int_calls__user_outbound_pace') }}
),

inbound as (
    select * from {{ ref('int_calls__user_inbound') }}
),

users as (
    select
        user_id,
        max(account_id) as account_id,
        max(month) as month,
        count(*) as calls
    from billed
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
        cast(coalesce(d.distinct_destinations, 0) as {{ dbt.type_bigint() }}) as distinct_destinations,
        case when o.outbound_calls > 0 then cast(d.distinct_destinations as double) / o.outbound_calls end
            as distinct_destination_share,
        cast(coalesce(d.new_number_calls, 0) as {{ dbt.type_bigint() }}) as new_number_calls,
        case when o.outbound_calls > 0 then cast(coalesce(d.new_number_calls, 0) as double) / o.outbound_calls end
            as new_number_share,
        case when d.new_number_calls > 0 then cast(d.new_number_answered as double) / d.new_number_calls end
            as new_number_answer_ratio,
        cast(coalesce(d.cold_sessions, 0) as {{ dbt.type_bigint() }}) as cold_sessions,
        cast(coalesce(d.cold_session_calls, 0) as {{ dbt.type_bigint() }}) as cold_session_calls,
        cast(coalesce(d.cold_session_new_number_calls, 0) as {{ dbt.type_bigint() }}) as cold_session_new_number_calls,
        case
            when d.cold_session_new_number_calls > 0
                then cast(d.cold_session_new_number_answered as double) / d.cold_session_new_number_calls
        end as cold_session_new_number_answer_ratio,
        cast(coalesce(o.api_calls, 0) as {{ dbt.type_bigint() }}) as api_calls,
        case when o.outbound_calls > 0 then cast(o.api_calls as double) / o.outbound_calls end as api_share,
        cast(coalesce(o.peak_calls_per_hour, 0) as {{ dbt.type_bigint() }}) as peak_calls_per_hour,
        cast(coalesce(d.gaps, 0) as {{ dbt.type_bigint() }}) as gaps,
        cast(coalesce(d.session_gaps, 0) as {{ dbt.type_bigint() }}) as session_gaps,
        cast(d.cadence_median_ms as double) / 1000 as cadence_median_seconds,
        cast(d.wrap_median_ms as double) / 1000 as wrap_median_seconds,
        cast(coalesce(d.regular_cadence_gaps, 0) as {{ dbt.type_bigint() }}) as regular_cadence_gaps,
        cast(coalesce(d.regular_wrap_gaps, 0) as {{ dbt.type_bigint() }}) as regular_wrap_gaps,
        case
            when d.gaps > 0
                then cast(greatest(d.regular_cadence_gaps, d.regular_wrap_gaps) as double) / d.gaps
        end as regular_gap_share,
        cast(d.session_cadence_median_ms as double) / 1000 as session_cadence_median_seconds,
        cast(d.session_wrap_median_ms as double) / 1000 as session_wrap_median_seconds,
        cast(coalesce(d.session_regular_cadence_gaps, 0) as {{ dbt.type_bigint() }}) as session_regular_cadence_gaps,
        cast(coalesce(d.session_regular_wrap_gaps, 0) as {{ dbt.type_bigint() }}) as session_regular_wrap_gaps,
        case
            when d.session_gaps > 0
                then
                    cast(greatest(d.session_regular_cadence_gaps, d.session_regular_wrap_gaps) as double)
                    / d.session_gaps
        end as session_regular_gap_share,
        cast(coalesce(o.max_concurrent_outbound_calls, 0) as {{ dbt.type_bigint() }}) as max_concurrent_outbound_calls,
        cast(coalesce(o.parallel_outbound_calls, 0) as {{ dbt.type_bigint() }}) as parallel_outbound_calls,
        cast(coalesce(o.voicemail_drops, 0) as {{ dbt.type_bigint() }}) as voicemail_drops,
        cast(coalesce(o.max_voicemails_in_window, 0) as {{ dbt.type_bigint() }}) as max_voicemails_in_window,
        cast(coalesce(i.inbound_calls, 0) as {{ dbt.type_bigint() }}) as inbound_calls,
        cast(coalesce(i.direct_inbound_calls, 0) as {{ dbt.type_bigint() }}) as direct_inbound_calls,
        cast(coalesce(i.distinct_callers, 0) as {{ dbt.type_bigint() }}) as distinct_callers,
        cast(coalesce(i.max_concurrent_inbound_calls, 0) as {{ dbt.type_bigint() }}) as max_concurrent_inbound_calls,
        cast(coalesce(i.overlapping_inbound_calls, 0) as {{ dbt.type_bigint() }}) as overlapping_inbound_calls,
        cast(coalesce(i.forwarded_calls, 0) as {{ dbt.type_bigint() }}) as forwarded_calls,
        cast(coalesce(i.forwarded_numbers, 0) as {{ dbt.type_bigint() }}) as forwarded_numbers,
        cast(coalesce(i.max_concurrent_forwarded_calls, 0) as {{ dbt.type_bigint() }})
            as max_concurrent_forwarded_calls,
        cast(coalesce(i.overlapping_forwarded_calls, 0) as {{ dbt.type_bigint() }}) as overlapping_forwarded_calls
    from users as u
    left join pace as o on u.user_id = o.user_id
    left join dialing as d on u.user_id = d.user_id
    left join inbound as i on u.user_id = i.user_id
)

select * from final
