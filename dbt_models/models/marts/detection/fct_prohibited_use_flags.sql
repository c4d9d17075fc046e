-- Grain: month x account_id x user_id x pattern. Prohibited use detected from call records, each row with a
-- one-sentence evidence text (numbers, never phone numbers) and the numeric evidence columns. Precision over
-- recall: every pattern needs several independent signals (thresholds: policy configuration, prohibited_use).
with

signals as (
    select * from {{ ref('int_calls__user_signals') }}
),

auto_dialing as (
    select
        *,
        'auto_dialing' as pattern,
        {{ dbt.concat([
            "'Placed '", num_text('outbound_calls'), "' outbound calls, up to '", num_text('peak_calls_per_hour'),
            "' in one hour, at machine-regular intervals (mean gap '", num_text('gap_mean_seconds', 1),
            "' s, coefficient of variation '", num_text('gap_cv', 2), "' over '", num_text('session_gaps'),
            "' gaps); '", num_text('100 * api_share'), "'% started via the API.'"
        ]) }} as evidence
    from signals
    where
        outbound_calls >= {{ pu('auto_dialing', 'min_outbound_calls') }}
        and peak_calls_per_hour >= {{ pu('auto_dialing', 'min_peak_calls_per_hour') }}
        and session_gaps >= {{ pu('auto_dialing', 'min_session_gaps') }}
        and gap_cv <= {{ pu('auto_dialing', 'max_gap_cv') }}
),

outbound_telemarketing as (
    -- auto-dialers dial like this too; they are reported under the more specific pattern
    select
        *,
        'outbound_telemarketing' as pattern,
        {{ dbt.concat([
            "'Placed '", num_text('outbound_calls'), "' outbound calls to '",
            num_text('100 * distinct_destination_share'), "'% distinct numbers; only '",
            num_text('100 * answer_seizure_ratio'), "'% were answered and '", num_text('100 * short_call_share'),
            "'% of the answered ones lasted '", num_text(pu('short_call_seconds')), "' s or less.'"
        ]) }} as evidence
    from signals
    where
        outbound_calls >= {{ pu('outbound_telemarketing', 'min_outbound_calls') }}
        and distinct_destination_share >= {{ pu('outbound_telemarketing', 'min_distinct_destination_share') }}
        and answer_seizure_ratio <= {{ pu('outbound_telemarketing', 'max_answer_seizure_ratio') }}
        and short_call_share > {{ pu('outbound_telemarketing', 'min_short_call_share') }}
        and user_id not in (select ad.user_id from auto_dialing as ad)
),

forwarding_to_multi_line as (
    select
        *,
        'forwarding_to_multi_line' as pattern,
        {{ dbt.concat([
            "'Forwarded '", num_text('forwarded_calls'), "' calls to '", num_text('forwarded_numbers'),
            "' outside number(s), with up to '", num_text('max_concurrent_forwarded_calls'),
            "' forwarded calls in progress at the same time (one user per line).'"
        ]) }} as evidence
    from signals
    where
        max_concurrent_forwarded_calls >= {{ pu('forwarding_to_multi_line', 'min_concurrent_forwarded_calls') }}
        and forwarded_calls >= {{ pu('forwarding_to_multi_line', 'min_forwarded_calls') }}
),

voicemail_blasting as (
    select
        *,
        'voicemail_blasting' as pattern,
        {{ dbt.concat([
            "'Dropped up to '", num_text('max_voicemails_in_window'), "' voicemails within '",
            num_text(pu('voicemail_blasting', 'window_seconds') / 60), "' minutes.'"
        ]) }} as evidence
    from signals
    where max_voicemails_in_window >= {{ pu('voicemail_blasting', 'min_voicemails_in_window') }}
),

bulk_call_in_line as (
    select
        *,
        'bulk_call_in_line' as pattern,
        {{ dbt.concat([
            "'Received '", num_text('inbound_calls'), "' inbound calls from '", num_text('distinct_callers'),
            "' distinct callers, with up to '", num_text('max_concurrent_inbound_calls'),
            "' calls in progress at the same time on one user.'"
        ]) }} as evidence
    from signals
    where
        max_concurrent_inbound_calls >= {{ pu('bulk_call_in_line', 'min_concurrent_inbound_calls') }}
        and distinct_callers >= {{ pu('bulk_call_in_line', 'min_distinct_callers') }}
),

flags as (
    select * from auto_dialing
    union all
    select * from outbound_telemarketing
    union all
    select * from forwarding_to_multi_line
    union all
    select * from voicemail_blasting
    union all
    select * from bulk_call_in_line
),

final as (
    select
        month,
        account_id,
        user_id,
        pattern,
        evidence,
        calls,
        outbound_calls,
        answer_seizure_ratio,
        average_talk_seconds,
        short_call_share,
        distinct_destination_share,
        api_share,
        peak_calls_per_hour,
        session_gaps,
        gap_mean_seconds,
        gap_cv,
        max_voicemails_in_window,
        inbound_calls,
        distinct_callers,
        max_concurrent_inbound_calls,
        forwarded_calls,
        forwarded_numbers,
        max_concurrent_forwarded_calls,
        '{{ required_var("policy_version") }}' as policy_version
    from flags
)

select * from final
