{#
  The fair-use rules (CONTRACT §3), as macros over relations, so the dbt models (one month at a time) and
  `fairuse simulate` (every built month, another policy) run the very same SQL.
#}

{#
  Month x user x metric. Values are kept as exact integers (`value_units`) over a divisor (60 for call minutes,
  1 otherwise) so that cohort sums and leave-one-out means are computed exactly and rounded once.
#}
{% macro metric_values(usage) -%}
    select month, user_id, account_id, country, plan, currency, 'calls' as metric,
        calls_inbound + calls_outbound + calls_internal as value_units, 1 as unit_divisor
    from {{ usage }}
    union all
    select month, user_id, account_id, country, plan, currency, 'call_minutes' as metric,
        billable_seconds_inbound + billable_seconds_outbound + billable_seconds_internal as value_units,
        60 as unit_divisor
    from {{ usage }}
    union all
    select month, user_id, account_id, country, plan, currency, 'team_chats' as metric,
        chats_sent as value_units, 1 as unit_divisor
    from {{ usage }}
    union all
    select month, user_id, account_id, country, plan, currency, 'messages' as metric,
        sms_sent + sms_received + mms_sent + mms_received + whatsapp_sent + whatsapp_received as value_units,
        1 as unit_divisor
    from {{ usage }}
{%- endmacro %}

{#
  Leave-one-out reference mean with fallback country x plan -> plan -> all: a level is used when it has at
  least min_cohort_size users other than the user. cohort_users counts the user. A ratio over 0 or null is null.
#}
{% macro excess_ratios(metric_values) -%}
    with values_ as (
        select * from {{ metric_values }}
    ),
    by_country_plan as (
        select month, country, plan, metric, count(*) as n, sum(value_units) as s
        from values_ group by month, country, plan, metric
    ),
    by_plan as (
        select month, plan, metric, count(*) as n, sum(value_units) as s
        from values_ group by month, plan, metric
    ),
    by_all as (
        select month, metric, count(*) as n, sum(value_units) as s
        from values_ group by month, metric
    ),
    estimates as (
        {{ policy_estimates() }}
    ),
    leveled as (
        select
            v.*,
            case
                when cp.n - 1 >= {{ required_var('min_cohort_size') }} then 'country_plan'
                when p.n - 1 >= {{ required_var('min_cohort_size') }} then 'plan'
                else 'all'
            end as cohort_level,
            case
                when cp.n - 1 >= {{ required_var('min_cohort_size') }} then cp.n
                when p.n - 1 >= {{ required_var('min_cohort_size') }} then p.n
                else a.n
            end as cohort_users,
            case
                when cp.n - 1 >= {{ required_var('min_cohort_size') }} then cp.s
                when p.n - 1 >= {{ required_var('min_cohort_size') }} then p.s
                else a.s
            end as cohort_units
        from values_ as v
        inner join by_country_plan as cp
            on v.month = cp.month and v.metric = cp.metric
            and coalesce(v.country, '') = coalesce(cp.country, '') and coalesce(v.plan, '') = coalesce(cp.plan, '')
        inner join by_plan as p
            on v.month = p.month and v.metric = p.metric and coalesce(v.plan, '') = coalesce(p.plan, '')
        inner join by_all as a on v.month = a.month and v.metric = a.metric
    )
    select
        l.month,
        l.user_id,
        l.account_id,
        l.metric,
        cast(l.value_units as double) / l.unit_divisor as value,
        l.cohort_level,
        l.cohort_users,
        case
            when l.cohort_users > 1
                then cast(l.cohort_units - l.value_units as double) / ((l.cohort_users - 1) * l.unit_divisor)
        end as reference_mean,
        e.estimated_value,
        case
            when l.cohort_users > 1 and l.cohort_units - l.value_units != 0
                then cast(l.value_units * (l.cohort_users - 1) as double) / (l.cohort_units - l.value_units)
        end as ratio_to_cohort,
        case
            when e.estimated_value != 0 then (cast(l.value_units as double) / l.unit_divisor) / e.estimated_value
        end as ratio_to_estimate,
        l.country,
        l.plan,
        l.currency,
        '{{ required_var("policy_version") }}' as policy_version
    from leveled as l
    left join estimates as e on l.plan = e.plan and l.metric = e.metric
{%- endmacro %}

{#
  Flagged user-month-metrics: the offering behind the metric is free for the user's country and plan, the value
  reaches the metric's floor, and a ratio reaches threshold_multiple. excess_value is what lies above
  threshold_multiple x R, R the larger of the references whose ratio reached the threshold (most favourable).
#}
{% macro fair_use_flag_rows(ratios) -%}
    {%- set tm = required_var('threshold_multiple') -%}
    with ratios_ as (
        select * from {{ ratios }}
    ),
    metrics as (
        {{ policy_metrics() }}
    ),
    free_pairs as (
        {{ free_pairs('ratios_') }}
    ),
    candidates as (
        select r.*, m.offering, m.floor
        from ratios_ as r
        inner join metrics as m on r.metric = m.metric
        inner join free_pairs as fp
            on r.country = fp.country and r.plan = fp.plan and m.offering = fp.offering
    )
    select
        month,
        user_id,
        account_id,
        metric,
        value,
        reference_mean,
        estimated_value,
        ratio_to_cohort,
        ratio_to_estimate,
        cast({{ tm }} as double) as threshold_multiple,
        case
            when greatest(coalesce(ratio_to_cohort, 0), coalesce(ratio_to_estimate, 0))
                >= {{ required_var('severe_multiple') }} then 'severe'
            else 'material'
        end as severity,
        greatest(
            value - {{ tm }} * greatest(
                case when ratio_to_cohort >= {{ tm }} then reference_mean end,
                case when ratio_to_estimate >= {{ tm }} then estimated_value end
            ),
            0
        ) as excess_value,
        offering,
        floor,
        currency,
        policy_version
    from candidates
    where value >= floor
        and (ratio_to_cohort >= {{ tm }} or ratio_to_estimate >= {{ tm }})
{%- endmacro %}

{# Months in a row per user and metric, ending with this month (gaps-and-islands over the month index). #}
{% macro fair_use_flags_with_streaks(flag_rows) -%}
    with flags_ as (
        select * from {{ flag_rows }}
    ),
    islands as (
        select
            *,
            {{ month_index('month') }}
            - row_number() over (partition by user_id, metric order by month) as island
        from flags_
    )
    select
        month, user_id, account_id, metric, value, reference_mean, estimated_value, ratio_to_cohort,
        ratio_to_estimate, threshold_multiple, severity,
        cast(row_number() over (partition by user_id, metric, island order by month) as integer)
            as consecutive_months,
        policy_version, excess_value, offering, currency
    from islands
{%- endmacro %}

{#
  One row per month x account with a flagged user. Ladder by consecutive months: 1 ask_to_moderate,
  2 require_excess_payment, 3+ limit_access. Charges: sum of excess_value x the metric's unit rate (account
  currency, else the default rate; no rate adds 0), rounded to cents once per account-month; 0 when asking.
#}
{% macro account_enforcement(flags) -%}
    with flags_ as (
        select * from {{ flags }}
    ),
    rates as (
        {{ policy_excess_rates() }}
    ),
    priced as (
        select
            f.*,
            coalesce(own.rate, dflt.rate) as unit_rate
        from flags_ as f
        left join rates as own on f.metric = own.metric and f.currency = own.currency
        left join rates as dflt on f.metric = dflt.metric and dflt.currency = '*'
    ),
    per_account as (
        select
            month,
            account_id,
            max(currency) as currency,
            max(policy_version) as policy_version,
            count(distinct user_id) as flagged_users,
            sum(cast(excess_value as decimal(38, 10)) * coalesce(unit_rate, 0)) as raw_charge
        from priced
        group by month, account_id
    ),
    islands as (
        select
            *,
            {{ month_index('month') }} - row_number() over (partition by account_id order by month) as island
        from per_account
    ),
    laddered as (
        select
            *,
            cast(row_number() over (partition by account_id, island order by month) as integer)
                as consecutive_months
        from islands
    )
    select
        month,
        account_id,
        cast(flagged_users as integer) as flagged_users,
        consecutive_months,
        case
            when consecutive_months = 1 then 'ask_to_moderate'
            when consecutive_months = 2 then 'require_excess_payment'
            else 'limit_access'
        end as action,
        case
            when consecutive_months = 1 then cast(0 as decimal(18, 2))
            else cast(round(raw_charge, 2) as decimal(18, 2))
        end as excess_charge_amount,
        currency,
        policy_version
    from laddered
{%- endmacro %}
