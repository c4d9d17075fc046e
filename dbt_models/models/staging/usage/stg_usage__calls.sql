-- Grain: one counted call (month x call_id). Phone numbers are in clear here and nowhere downstream.
with

source as (
    select * from {{ source('raw', 'calls') }}
),

counted as (
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
        from_number,
        to_number,
        forwarded_to
    from source
    where quarantine_reason is null
)

select * from counted
