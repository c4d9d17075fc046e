-- Grain: user_id (users with at least one counted SMS, MMS or WhatsApp message), for the month being built. How a
-- user messages: messages sent and received, the numbers messaged, the numbers new to the account (the account's
-- first message with the number this month, in either direction, was one this user sent), how many of those new
-- numbers wrote back this month, and the most messages sent within burst_window_seconds. "New" has the calls'
-- horizon, this month only, so no number is kept across months. Numbers are compared as they are, inside this
-- query only; none reaches the table. The signals of message_blasting (fct_prohibited_use_flags).
{%- set burst_seconds = prohibited_use_threshold('message_blasting', 'burst_window_seconds') | int %}
with

messages as {{ cte_materialized() }} (
    select
        month,
        account_id,
        user_id,
        message_id,
        channel,
        direction,
        sent_at,
        counterparty_number
    from {{ ref('int_messages__counted') }}
),

-- The account's first message with each number this month, sent or received, by whoever on the account.
first_exchanges as (
    select
        user_id,
        account_id,
        counterparty_number,
        direction,
        row_number() over (
            partition by account_id, counterparty_number order by sent_at, message_id
        ) as exchange_rank
    from messages
    where counterparty_number is not null
),

-- Numbers that wrote to the account this month (after the account's first message to them, for a new number:
-- that message was the first exchange).
repliers as (
    select distinct
        account_id,
        counterparty_number
    from messages
    where direction = 'received' and counterparty_number is not null
),

new_recipients as (
    select
        f.user_id,
        count(*) as new_recipients,
        sum(case when r.counterparty_number is not null then 1 else 0 end) as replied_new_recipients
    from first_exchanges as f
    left join repliers as r
        on f.account_id = r.account_id and f.counterparty_number = r.counterparty_number
    where f.exchange_rank = 1 and f.direction = 'sent'
    group by f.user_id
),

sending as (
    select
        user_id,
        max(month) as month,
        max(account_id) as account_id,
        sum(case when direction = 'sent' then 1 else 0 end) as sent_messages,
        sum(case when direction = 'sent' and channel = 'whatsapp' then 1 else 0 end) as sent_whatsapp,
        sum(case when direction = 'received' then 1 else 0 end) as received_messages,
        count(distinct case when direction = 'sent' then counterparty_number end) as recipients
    from messages
    group by user_id
),

-- Most messages sent within any burst_window_seconds (sliding, not clock minutes): the messages sent in
-- [t, t + burst_window_seconds) after one sent at t, to the microsecond (timestamps carry fractions of a second).
bursts as (
    select
        user_id,
        max(sent_in_window) as max_messages_in_burst_window
    from (
        select
            user_id,
            count(*) over (
                partition by user_id
                order by {{ epoch_microseconds('sent_at') }}
                range between current row and {{ [burst_seconds * 1000000 - 1, 0] | max }} following
            ) as sent_in_window
        from messages
        where direction = 'sent'
    ) as windows
    group by user_id
),

-- Counts as BIGINT on every engine (DuckDB's sum of integers is a HUGEINT, Spark's a BIGINT).
final as (
    select
        s.month,
        s.account_id,
        s.user_id,
        cast(s.sent_messages as {{ dbt.type_bigint() }}) as sent_messages,
        cast(s.sent_whatsapp as {{ dbt.type_bigint() }}) as sent_whatsapp,
        cast(s.received_messages as {{ dbt.type_bigint() }}) as received_messages,
        cast(s.recipients as {{ dbt.type_bigint() }}) as recipients,
        cast(coalesce(n.new_recipients, 0) as {{ dbt.type_bigint() }}) as new_recipients,
        case when s.recipients > 0 then cast(coalesce(n.new_recipients, 0) as double) / s.recipients end
            as new_recipient_share,
        cast(coalesce(n.replied_new_recipients, 0) as {{ dbt.type_bigint() }}) as replied_new_recipients,
        case when n.new_recipients > 0 then cast(n.replied_new_recipients as double) / n.new_recipients end
            as reply_ratio,
        cast(coalesce(b.max_messages_in_burst_window, 0) as {{ dbt.type_bigint() }}) as max_messages_in_burst_window
    from sending as s
    left join new_recipients as n on s.user_id = n.user_id
    left join bursts as b on s.user_id = b.user_id
)

select * from final
