-- Grain: one counted call of the month being built (call_id).
-- Talk and billable seconds per CONTRACT §2, billing increment from the policy configuration.
-- No phone numbers: billing does not need them (detection hashes the ones it needs).
with

calls as (
    select * from {{ ref('int_calls__counted') }}
),

talk as (
    select
        *,
        {{ talk_seconds('answered_at', 'ended_at') }} as talk_seconds
    from calls
),

final as (
    select
        month,
        call_id,
        account_id,
        user_id,
        direction,
        disposition,
        initiated_via,
        started_at,
        answered_at,
        ended_at,
        talk_seconds,
        {{ billable_seconds(
            'talk_seconds',
            required_var('billing_initial_seconds'),
            required_var('billing_subsequent_seconds')
        ) }} as billable_seconds,
        forwarded_to is not null as is_forwarded
    from talk
)

select * from final
