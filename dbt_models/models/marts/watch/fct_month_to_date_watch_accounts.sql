{{ config(materialized='table', tags=['watch']) }}
-- Grain: month x account_id, for the open month only. PROVISIONAL: the month-to-date watch per account (what
-- account managers call about): its users on track to exceed a threshold by the month end, the highest projected
-- ratio and the earliest day a threshold is crossed at the current pace.
with

watch as (
    select * from {{ ref('fct_month_to_date_watch') }}
),

final as (
    select
        month,
        max(as_of) as as_of,
        account_id,
        count(distinct user_id) as users,
        count(distinct case when on_track_to_exceed then user_id end) as users_on_track,
        sum(case when on_track_to_exceed then 1 else 0 end) as user_metrics_on_track,
        max(projected_ratio) as max_projected_ratio,
        min(case when on_track_to_exceed then projected_crossing_date end) as earliest_crossing_date,
        sum(case when on_track_to_exceed then 1 else 0 end) > 0 as on_track_to_exceed,
        true as is_provisional
    from watch
    group by month, account_id
)

select * from final
