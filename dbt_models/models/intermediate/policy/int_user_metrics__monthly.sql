{{ config(materialized='incremental', incremental_strategy=month_strategy('append'), partition_by=month_partition_by(), pre_hook="{{ delete_month_being_built() }}", tags=['policy']) }}
-- sqlfluff:indentation:template_blocks_indent:False
-- Grain: month x user_id x metric. The four policed metrics of each user-month (CONTRACT §2), as exact integers
-- (`value_units`) over a divisor (60 for call minutes, 1 otherwise), so that cohort sums and leave-one-out
-- means are computed exactly and divided once.
{%- set metrics = {
    'calls': ('calls_inbound + calls_outbound + calls_internal', 1),
    'call_minutes': ('billable_seconds_inbound + billable_seconds_outbound + billable_seconds_internal', 60),
    'team_chats': ('chats_sent', 1),
    'messages': ('sms_sent + sms_received + mms_sent + mms_received + whatsapp_sent + whatsapp_received', 1),
} %}
with

usage as (
    select * from {{ ref('fct_user_monthly_usage') }}
    where {{ is_month_being_built('month') }}
),

unpivoted as (
    {%- for metric, (units, divisor) in metrics.items() %}
    select
        month,
        user_id,
        account_id,
        country,
        plan,
        currency,
        '{{ metric }}' as metric,
        {{ units }} as value_units,
        {{ divisor }} as unit_divisor
    from usage
    {{- "\n    union all" if not loop.last }}
    {%- endfor %}
)

select * from unpivoted
