{{ config(materialized='table', tags=['watch']) }}
-- sqlfluff:indentation:template_blocks_indent:False
-- Grain: month x user_id x metric, for the open month only. PROVISIONAL: built by `fairuse watch` in a scratch
-- copy from the data delivered so far (domain/watch.py), never by a month's run; the published warehouse keeps
-- the latest watch of each month until that month is built for real.
-- Each policed metric's value to date is projected to the month end by the share of the month's working time
-- (Monday to Friday, UTC) elapsed at as_of; weekends count no working time (before the first working day, the
-- share of elapsed time is used). The threshold is the one the month would be held to if its cohort were the
-- latest built month's: fair_use_threshold over that month's cohort mean (fct_published_thresholds), the current
-- policy's estimate, floor and multiple; null where the offering is not free.
-- projected_crossing_date: the first day by whose end the value reaches the threshold at the current pace.
-- as_of: var watch_as_of (the cut: `fairuse watch --as-of`), else the latest counted event of the month.
{%- set as_of_var = var('watch_as_of', none) %}
{%- set start_ts = 'cast(' ~ month_start() ~ ' as timestamp)' %}
{%- set end_ts = 'cast(' ~ month_end_exclusive() ~ ' as timestamp)' %}
with

metric_values as (
    select * from {{ ref('int_user_metrics__monthly') }}
    where {{ is_month_being_built('month') }}
),

delivered as (
    select max(latest_event_at) as latest_event_at
    from {{ ref('int_usage__counted_summary') }}
),

clock as (
    select
        {% if as_of_var %}cast('{{ as_of_var }}' as timestamp){% else %}latest_event_at{% endif %} as as_of,
        cast(
            {{ epoch_seconds(end_ts) }} - {{ epoch_seconds(start_ts) }} as double
        ) as month_seconds
    from delivered
),

elapsed as (
    select
        as_of,
        month_seconds,
        least(
            greatest(
                cast({{ epoch_seconds('as_of') }} - {{ epoch_seconds(start_ts) }} as double), cast(1 as double)
            ),
            month_seconds
        ) as elapsed_seconds
    from clock
),

day_numbers as (
    {%- for d in range(31) %}
    select {{ d }} as day_index{{ "\n    union all" if not loop.last }}
    {%- endfor %}
),

month_days as (
    select
        n.day_index,
        cast({{ dbt.dateadd('day', 'n.day_index', month_start()) }} as date) as day_date,
        least(greatest((e.elapsed_seconds - n.day_index * 86400.0) / 86400.0, 0.0), 1.0) as elapsed_part
    from day_numbers as n
    cross join elapsed as e
    where n.day_index * 86400.0 < e.month_seconds
),

working_days as (
    select
        day_index,
        day_date,
        elapsed_part,
        case
            when {{ dbt.datediff("cast('2000-01-03' as date)", 'day_date', 'day') }} % 7 < 5 then 1.0 else 0.0
        end as working
    from month_days
),

day_shares as (
    -- share of the month's working time done by the end of each day
    select
        day_index,
        day_date,
        sum(working) over (order by day_index rows between unbounded preceding and current row)
        / sum(working) over () as share_by_day_end
    from working_days
),

pace as (
    select
        max(e.as_of) as as_of,
        case
            when sum(w.working * w.elapsed_part) > 0 then sum(w.working * w.elapsed_part) / sum(w.working)
            else max(e.elapsed_seconds) / max(e.month_seconds)
        end as elapsed_share
    from working_days as w
    cross join elapsed as e
),

cohort_month as (
    select max(month) as cohort_month
    from {{ ref('fct_published_thresholds') }}
    where month < {{ month_start() }}
),

cohorts as (
    select
        t.country,
        t.plan,
        t.metric,
        t.cohort_mean
    from {{ ref('fct_published_thresholds') }} as t
    inner join cohort_month as cm on t.month = cm.cohort_month
),

metrics as (
    {{ policy_metrics() }}
),

estimates as (
    {{ policy_estimates() }}
),

free_offerings as (
    {{ free_offering_cohorts('metric_values') }}
),

users as (
    select
        v.month,
        v.account_id,
        v.user_id,
        v.country,
        v.plan,
        v.metric,
        cast(v.value_units as double) / v.unit_divisor as value_to_date,
        cm.cohort_month,
        case
            when fo.offering is not null
                then {{ fair_use_threshold('c.cohort_mean', 'e.estimated_value', 'm.floor') }}
        end as threshold
    from metric_values as v
    inner join metrics as m on v.metric = m.metric
    cross join cohort_month as cm
    left join cohorts as c
        on
            v.metric = c.metric
            and coalesce(v.country, '') = coalesce(c.country, '') and coalesce(v.plan, '') = coalesce(c.plan, '')
    left join estimates as e on v.plan = e.plan and v.metric = e.metric
    left join free_offerings as fo on v.country = fo.country and v.plan = fo.plan and m.offering = fo.offering
),

crossings as (
    -- at the current pace, the value by the end of a day is value_to_date x share_by_day_end / elapsed_share
    select
        u.user_id,
        u.metric,
        min(d.day_date) as projected_crossing_date
    from users as u
    cross join pace as p
    cross join day_shares as d
    where
        u.threshold is not null and u.value_to_date > 0
        and u.value_to_date * d.share_by_day_end >= u.threshold * p.elapsed_share
    group by u.user_id, u.metric
),

final as (
    select
        u.month,
        p.as_of,
        u.account_id,
        u.user_id,
        u.country,
        u.plan,
        u.metric,
        u.value_to_date,
        p.elapsed_share,
        u.value_to_date / p.elapsed_share as projected_value,
        u.threshold,
        u.cohort_month,
        case when u.threshold > 0 then u.value_to_date / p.elapsed_share / u.threshold end as projected_ratio,
        coalesce(u.threshold is not null and u.value_to_date / p.elapsed_share >= u.threshold, false)
            as on_track_to_exceed,
        coalesce(u.threshold is not null and u.value_to_date >= u.threshold, false) as already_exceeded,
        x.projected_crossing_date,
        'working_days' as projection_method,
        '{{ required_var("policy_version") }}' as policy_version,
        true as is_provisional
    from users as u
    cross join pace as p
    left join crossings as x on u.user_id = x.user_id and u.metric = x.metric
)

select * from final
