{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='month', tags=['policy']) }}
-- Grain: month x user_id x metric. The four policed metrics of each user-month (CONTRACT §2), as exact integers
-- (`value_units`) over a divisor (60 for call minutes, 1 otherwise), so that cohort sums and leave-one-out
-- means are computed exactly and divided once.
with

usage as (
    select * from {{ ref('fct_user_monthly_usage') }}
    where {{ is_month_being_built('month') }}
),

unpivoted as (
    select
        month,
        user_id,
        account_id,
        country,
        plan,
        currency,
        'calls' as metric,
        calls_inbound + calls_outbound + calls_internal as value_units,
        1 as unit_divisor
    from usage
    union all
    select
        month,
        user_id,
        account_id,
        country,
        plan,
        currency,
        'call_minutes' as metric,
        billable_seconds_inbound + billable_seconds_outbound + billable_seconds_internal as value_units,
        60 as unit_divisor
    from usage
    union all
    select
        month,
        user_id,
        account_id,
        country,
        plan,
        currency,
        'team_chats' as metric,
        chats_sent as value_units,
        1 as unit_divisor
    from usage
    union all
    select
        month,
        user_id,
        account_id,
        country,
        plan,
        currency,
        'messages' as metric,
        sms_sent + sms_received + mms_sent + mms_received + whatsapp_sent + whatsapp_received as value_units,
        1 as unit_divisor
    from usage
)

select * from unpivoted
