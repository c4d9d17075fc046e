-- Grain: user_id (users with at least one inbound or forwarded call), for the month being built. A user's inbound
-- side: inbound calls, direct (not forwarded) ones, distinct callers, direct inbound calls in talk at once, calls
-- forwarded to outside numbers, distinct numbers forwarded to, forwarded calls in talk at once on the same number.
-- Numbers are compared inside this query only; none reaches the table. One of the three signal families of
-- int_calls__user_signals.
with

counted as (
    select * from {{ ref('int_calls__counted') }}
),

calls as {{ cte_materialized() }} (
    select
        user_id,
        direction,
        disposition,
        answered_at,
        ended_at,
        case when direction = 'inbound' then from_number end as caller_number,
        forwarded_to
    from counted
    where direction = 'inbound' or forwarded_to is not null
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
    select distinct user_id from calls
),

final as (
    select
        u.user_id,
        coalesce(i.inbound_calls, 0) as inbound_calls,
        coalesce(i.direct_inbound_calls, 0) as direct_inbound_calls,
        coalesce(i.distinct_callers, 0) as distinct_callers,
        coalesce(ic.max_concurrent, 0) as max_concurrent_inbound_calls,
        coalesce(ic.calls_at_concurrency, 0) as overlapping_inbound_calls,
        coalesce(f.forwarded_calls, 0) as forwarded_calls,
        coalesce(f.forwarded_numbers, 0) as forwarded_numbers,
        coalesce(fc.max_concurrent_forwarded_calls, 0) as max_concurrent_forwarded_calls,
        coalesce(fc.overlapping_forwarded_calls, 0) as overlapping_forwarded_calls
    from users as u
    left join inbound_stats as i on u.user_id = i.user_id
    left join inbound_concurrency as ic on u.user_id = ic.user_id
    left join forwarded_stats as f on u.user_id = f.user_id
    left join forwarded_concurrency as fc on u.user_id = fc.user_id
)

select * from final
