-- Grain: user_id, for the month being built. Each user's cohort for prohibited-use detection and the cohort's
-- normal level of every volume a pattern is measured on: the median user's outbound calls, calls to numbers
-- new to the account, voicemail drops, forwarded calls, direct inbound calls and numbers messaged first (new
-- recipients of SMS, MMS and WhatsApp). The cohort is the fair-use one: the users of the month (active or
-- with usage, fct_user_monthly_usage) of the same country x plan; when that level has fewer than min_cohort_size
-- users besides the user, the plan across countries; failing that, every user of the month. Users without calls
-- or messages count with 0. The median includes the user (one user cannot move a median far; a leave-one-out
-- median would cost a sort per user).
{%- set volumes_measured = ['outbound_calls', 'new_number_calls', 'voicemail_drops', 'forwarded_calls',
                            'direct_inbound_calls', 'new_recipients'] %}
with

usage as (
    select
        month,
        user_id,
        account_id,
        country,
        plan
    from {{ ref('fct_user_monthly_usage') }}
    where month = {{ month_start() }}
),

signals as (
    select * from {{ ref('int_calls__user_signals') }}
),

messaging as (
    select * from {{ ref('int_messages__user_sending') }}
),

volumes as (
    select
        u.month,
        u.user_id,
        u.account_id,
        u.country,
        u.plan,
        coalesce(s.outbound_calls, 0) as outbound_calls,
        coalesce(s.new_number_calls, 0) as new_number_calls,
        coalesce(s.voicemail_drops, 0) as voicemail_drops,
        coalesce(s.forwarded_calls, 0) as forwarded_calls,
        coalesce(s.direct_inbound_calls, 0) as direct_inbound_calls,
        coalesce(m.new_recipients, 0) as new_recipients
    from usage as u
    left join signals as s on u.user_id = s.user_id
    left join messaging as m on u.user_id = m.user_id
),

by_country_plan as (
    select
        country,
        plan,
        count(*) as cohort_users,
        {{ volume_medians(volumes_measured) }}
    from volumes
    group by country, plan
),

by_plan as (
    select
        plan,
        count(*) as cohort_users,
        {{ volume_medians(volumes_measured) }}
    from volumes
    group by plan
),

by_all as (
    select
        count(*) as cohort_users,
        {{ volume_medians(volumes_measured) }}
    from volumes
),

final as (
    select
        v.month,
        v.user_id,
        v.account_id,
        v.country,
        v.plan,
        {{ cohort_fallback(none) }} as cohort_level,
        case {{ cohort_fallback(none) }}
            when 'country_plan' then {{ dbt.concat(["coalesce(v.country, '?')", "' '", "coalesce(v.plan, '?')"]) }}
            when 'plan' then {{ dbt.concat(["coalesce(v.plan, '?')", "', all countries'"]) }}
            else 'all users'
        end as cohort_label,
        {{ cohort_fallback('cohort_users') }} as cohort_users,
        {{ cohort_fallback('median_outbound_calls') }} as cohort_median_outbound_calls,
        {{ cohort_fallback('median_new_number_calls') }} as cohort_median_new_number_calls,
        {{ cohort_fallback('median_voicemail_drops') }} as cohort_median_voicemail_drops,
        {{ cohort_fallback('median_forwarded_calls') }} as cohort_median_forwarded_calls,
        {{ cohort_fallback('median_direct_inbound_calls') }} as cohort_median_direct_inbound_calls,
        {{ cohort_fallback('median_new_recipients') }} as cohort_median_new_recipients
    from volumes as v
    inner join by_country_plan as cp
        on coalesce(v.country, '') = coalesce(cp.country, '') and coalesce(v.plan, '') = coalesce(cp.plan, '')
    inner join by_plan as p on coalesce(v.plan, '') = coalesce(p.plan, '')
    cross join by_all as a
)

select * from final
