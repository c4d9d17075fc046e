-- Grain: month x user_id, for every user active in the month or with counted usage in it (CONTRACT §3).
-- Built one month at a time: incremental, the month deleted then appended (dbt_project.yml, marts).
with

users as (
    select * from {{ ref('int_users__as_of_month') }}
),

calls as (
    select * from {{ ref('int_calls__billed') }}
),

messages as (
    select * from {{ ref('int_messages__counted') }}
),

chats as (
    select * from {{ ref('int_chats__counted') }}
),

calls_per_user as (
    select
        user_id,
        sum(case when direction = 'inbound' then 1 else 0 end) as calls_inbound,
        sum(case when direction = 'outbound' then 1 else 0 end) as calls_outbound,
        sum(case when direction = 'internal' then 1 else 0 end) as calls_internal,
        sum(case when direction = 'inbound' then billable_seconds else 0 end) as billable_seconds_inbound,
        sum(case when direction = 'outbound' then billable_seconds else 0 end) as billable_seconds_outbound,
        sum(case when direction = 'internal' then billable_seconds else 0 end) as billable_seconds_internal
    from calls
    group by user_id
),

messages_per_user as (
    select
        user_id,
        sum(case when channel = 'sms' and direction = 'sent' then 1 else 0 end) as sms_sent,
        sum(case when channel = 'sms' and direction = 'received' then 1 else 0 end) as sms_received,
        sum(case when channel = 'mms' and direction = 'sent' then 1 else 0 end) as mms_sent,
        sum(case when channel = 'mms' and direction = 'received' then 1 else 0 end) as mms_received,
        sum(case when channel = 'whatsapp' and direction = 'sent' then 1 else 0 end) as whatsapp_sent,
        sum(case when channel = 'whatsapp' and direction = 'received' then 1 else 0 end) as whatsapp_received
    from messages
    group by user_id
),

chats_per_user as (
    select
        user_id,
        count(*) as chats_sent
    from chats
    group by user_id
),

population as (
    select user_id from users where is_active
    union
    select user_id from calls_per_user
    union
    select user_id from messages_per_user
    union
    select user_id from chats_per_user
),

final as (
    select
        {{ month_start() }} as month,
        p.user_id,
        u.account_id,
        u.country,
        u.plan,
        cast(coalesce(c.calls_inbound, 0) as bigint) as calls_inbound,
        cast(coalesce(c.calls_outbound, 0) as bigint) as calls_outbound,
        cast(coalesce(c.calls_internal, 0) as bigint) as calls_internal,
        cast(coalesce(c.billable_seconds_inbound, 0) as bigint) as billable_seconds_inbound,
        cast(coalesce(c.billable_seconds_outbound, 0) as bigint) as billable_seconds_outbound,
        cast(coalesce(c.billable_seconds_internal, 0) as bigint) as billable_seconds_internal,
        cast(coalesce(c.billable_seconds_inbound, 0) as double) / 60 as minutes_inbound,
        cast(coalesce(c.billable_seconds_outbound, 0) as double) / 60 as minutes_outbound,
        cast(coalesce(c.billable_seconds_internal, 0) as double) / 60 as minutes_internal,
        cast(coalesce(ch.chats_sent, 0) as bigint) as chats_sent,
        cast(coalesce(m.sms_sent, 0) as bigint) as sms_sent,
        cast(coalesce(m.sms_received, 0) as bigint) as sms_received,
        cast(coalesce(m.mms_sent, 0) as bigint) as mms_sent,
        cast(coalesce(m.mms_received, 0) as bigint) as mms_received,
        cast(coalesce(m.whatsapp_sent, 0) as bigint) as whatsapp_sent,
        cast(coalesce(m.whatsapp_received, 0) as bigint) as whatsapp_received,
        u.currency,
        '{{ required_var("policy_version") }}' as policy_version
    from population as p
    left join users as u on p.user_id = u.user_id
    left join calls_per_user as c on p.user_id = c.user_id
    left join messages_per_user as m on p.user_id = m.user_id
    left join chats_per_user as ch on p.user_id = ch.user_id
)

select * from final
