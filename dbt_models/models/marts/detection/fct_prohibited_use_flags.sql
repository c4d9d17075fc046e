-- sqlfluff:indentation:template_blocks_indent:False
-- Grain: month x account_id x user_id x pattern. Prohibited use detected from call and message records. Each
-- pattern needs its
-- defining traits (limits of one person on one line, industry rates) AND high volume: at least
-- max(floor, cohort_multiple x the cohort's median user) (thresholds: policy configuration, prohibited_use).
-- Each row carries one evidence sentence with the numbers that triggered it and the cohort's normal level (no
-- phone numbers), and the numeric evidence.
{%- set ad = 'auto_dialing' %}
{%- set tm = 'outbound_telemarketing' %}
{%- set fw = 'forwarding_to_multi_line' %}
{%- set vm = 'voicemail_blasting' %}
{%- set bl = 'bulk_call_in_line' %}
{%- set mb = 'message_blasting' %}
with

cohorts as (
    select * from {{ ref('int_users__detection_cohorts') }}
),

signals as (
    select
        s.*,
        c.cohort_level,
        coalesce(c.cohort_label, 'unknown') as cohort_label,
        c.cohort_users,
        coalesce(c.cohort_median_outbound_calls, 0) as cohort_median_outbound_calls,
        coalesce(c.cohort_median_new_number_calls, 0) as cohort_median_new_number_calls,
        coalesce(c.cohort_median_voicemail_drops, 0) as cohort_median_voicemail_drops,
        coalesce(c.cohort_median_forwarded_calls, 0) as cohort_median_forwarded_calls,
        coalesce(c.cohort_median_direct_inbound_calls, 0) as cohort_median_direct_inbound_calls
    from {{ ref('int_calls__user_signals') }} as s
    left join cohorts as c on s.user_id = c.user_id
),

message_signals as (
    select
        m.*,
        coalesce(c.cohort_label, 'unknown') as cohort_label,
        coalesce(c.cohort_median_new_recipients, 0) as cohort_median_new_recipients
    from {{ ref('int_messages__user_sending') }} as m
    left join cohorts as c on m.user_id = c.user_id
),

-- Voicemails dropped faster than one person on one line can leave them, in bulk. The most specific
-- pattern: a blaster's drops are not also reported as auto-dialing or telemarketing.
voicemail_blasting as (
    select
        user_id,
        '{{ vm }}' as pattern,
        voicemail_drops as volume,
        cohort_median_voicemail_drops as cohort_median,
        {{ cohort_volume_threshold(vm, 'min_voicemail_drops', 'cohort_median_voicemail_drops') }} as volume_threshold,
        {{ dbt.concat([
            "'Left '", evidence_number('voicemail_drops'), "' voicemails this month, up to '",
            evidence_number('max_voicemails_in_window'), "' within '",
            evidence_number(prohibited_use_threshold(vm, 'window_seconds') / 60), "' minutes; '",
            "'the cohort''s median user ('", "cohort_label", "') left '",
            evidence_number('cohort_median_voicemail_drops'), "'.'"
        ]) }} as evidence
    from signals
    where
        max_voicemails_in_window >= {{ prohibited_use_threshold(vm, 'min_voicemails_in_window') }}
        and voicemail_drops >= {{ prohibited_use_threshold(vm, 'min_voicemail_drops') }}
        and voicemail_drops >= {{ prohibited_use_threshold(vm, 'cohort_multiple') }} * cohort_median_voicemail_drops
),

-- Non-manual dialing: machine-regular gaps, or calls dialled in parallel, or mostly API-placed at a pace nobody
-- keeps up by hand for an hour.
auto_dialing_signals as (
    select
        *,
        {{ cohort_volume_threshold(ad, 'min_outbound_calls', 'cohort_median_outbound_calls') }} as volume_threshold,
        coalesce(
            gaps >= {{ prohibited_use_threshold(ad, 'min_gaps') }}
            and regular_gap_share >= {{ prohibited_use_threshold(ad, 'min_regular_gap_share') }},
            false
        ) as dials_regularly,
        coalesce(
            session_gaps >= {{ prohibited_use_threshold(ad, 'min_gaps') }}
            and session_regular_gap_share >= {{ prohibited_use_threshold(ad, 'min_regular_gap_share') }},
            false
        ) as dials_regularly_in_sessions,
        parallel_outbound_calls >= {{ prohibited_use_threshold(ad, 'min_parallel_calls') }} as dials_in_parallel,
        coalesce(
            api_share >= {{ prohibited_use_threshold(ad, 'min_api_share') }}
            and peak_calls_per_hour >= {{ prohibited_use_threshold(ad, 'min_peak_calls_per_hour') }},
            false
        ) as dials_through_api
    from signals
),

auto_dialing as (
    select
        user_id,
        '{{ ad }}' as pattern,
        outbound_calls as volume,
        cohort_median_outbound_calls as cohort_median,
        volume_threshold,
        {{ dbt.concat([
            "'Placed '", evidence_number('outbound_calls'), "' outbound calls, up to '",
            evidence_number('peak_calls_per_hour'), "' within one hour'",
            "case when dials_in_parallel then " ~ dbt.concat([
                "'; '", evidence_number('parallel_outbound_calls'), "' were dialled while '",
                evidence_number(prohibited_use_threshold(ad, 'min_concurrent_outbound_calls') - 1),
                "' or more of the user''s other calls were in progress (up to '",
                evidence_number('max_concurrent_outbound_calls'), "' at once)'"
            ]) ~ " else '' end",
            "case when dials_regularly then " ~ dbt.concat([
                "'; '", evidence_number('100 * regular_gap_share'), "'% of the '", evidence_number('gaps'),
                "' gaps between consecutive calls were within '",
                evidence_number(100 * prohibited_use_threshold('regular_gap_tolerance_share')), "'% (at least '",
                evidence_number(prohibited_use_threshold('regular_gap_tolerance_seconds'), 1), "' s) of '",
                "case when regular_cadence_gaps >= regular_wrap_gaps then "
                ~ dbt.concat([evidence_number('cadence_median_seconds', 1), "' s from start to start'"])
                ~ " else "
                ~ dbt.concat([evidence_number('wrap_median_seconds', 1), "' s from one call''s end to the next start'"])
                ~ " end"
            ]) ~ " else '' end",
            "case when dials_regularly_in_sessions and not dials_regularly then " ~ dbt.concat([
                "'; '", evidence_number('100 * session_regular_gap_share'), "'% of the '",
                evidence_number('session_gaps'), "' gaps between consecutive calls within dialing sessions were within '",
                evidence_number(100 * prohibited_use_threshold('regular_gap_tolerance_share')), "'% (at least '",
                evidence_number(prohibited_use_threshold('regular_gap_tolerance_seconds'), 1), "' s) of '",
                "case when session_regular_cadence_gaps >= session_regular_wrap_gaps then "
                ~ dbt.concat([evidence_number('session_cadence_median_seconds', 1), "' s from start to start'"])
                ~ " else "
                ~ dbt.concat([evidence_number('session_wrap_median_seconds', 1),
                              "' s from one call''s end to the next start'"])
                ~ " end"
            ]) ~ " else '' end",
            "case when dials_through_api then " ~ dbt.concat([
                "'; '", evidence_number('100 * api_share'), "'% were started through the API'"
            ]) ~ " else '' end",
            "'; '", evidence_number('100 * short_call_share'), "'% of the answered calls lasted '",
            evidence_number(prohibited_use_threshold('short_call_seconds')), "' s or less; the cohort''s median user ('",
            "cohort_label", "') placed '", evidence_number('cohort_median_outbound_calls'), "' outbound calls.'"
        ]) }} as evidence
    from auto_dialing_signals
    where
        outbound_calls >= volume_threshold
        and (dials_regularly or dials_regularly_in_sessions or dials_in_parallel or dials_through_api)
        and user_id not in (select vb.user_id from voicemail_blasting as vb)
),

-- Volume to numbers new to the account, mostly unanswered: over the month, or within cold-calling sessions (so a
-- user's ordinary calls elsewhere in the month do not hide a cold-calling list). Auto-dialers and voicemail
-- blasters dial like this too; they are reported under the more specific pattern only.
telemarketing_signals as (
    select
        *,
        {{ cohort_volume_threshold(tm, 'min_new_number_calls', 'cohort_median_new_number_calls') }} as volume_threshold,
        coalesce(
            new_number_share >= {{ prohibited_use_threshold(tm, 'min_new_number_share') }}
            and new_number_answer_ratio <= {{ prohibited_use_threshold(tm, 'max_new_number_answer_ratio') }},
            false
        ) as cold_calls_over_month
    from signals
),

outbound_telemarketing as (
    select
        user_id,
        '{{ tm }}' as pattern,
        case when cold_calls_over_month then new_number_calls else cold_session_new_number_calls end as volume,
        cohort_median_new_number_calls as cohort_median,
        volume_threshold,
        {{ dbt.concat([
            "'Placed '", evidence_number('outbound_calls'), "' outbound calls'",
            "case when cold_calls_over_month then " ~ dbt.concat([
                "', '", evidence_number('new_number_calls'), "' of them ('", evidence_number('100 * new_number_share'),
                "'%) to numbers the account had not called earlier this month, of which '",
                evidence_number('100 * new_number_answer_ratio'), "'% were answered'"
            ]) ~ " else " ~ dbt.concat([
                "'; in '", evidence_number('cold_sessions'), "' dialing sessions of '",
                evidence_number(prohibited_use_threshold(tm, 'min_session_calls')), "' or more calls, '",
                evidence_number('cold_session_new_number_calls'), "' of '", evidence_number('cold_session_calls'),
                "' calls went to numbers the account had not called earlier this month, of which '",
                evidence_number('100 * cold_session_new_number_answer_ratio'), "'% were answered'"
            ]) ~ " end",
            "' (all calls: '", evidence_number('100 * answer_seizure_ratio'), "'% answered, average talk '",
            evidence_number('average_talk_seconds'), "' s); the cohort''s median user ('", "cohort_label",
            "') placed '", evidence_number('cohort_median_new_number_calls'), "' calls to new numbers.'"
        ]) }} as evidence
    from telemarketing_signals
    where
        (
            (cold_calls_over_month and new_number_calls >= volume_threshold)
            or cold_session_new_number_calls >= volume_threshold
        )
        and user_id not in (select ad.user_id from auto_dialing as ad)
        and user_id not in (select vb.user_id from voicemail_blasting as vb)
),

-- Calls forwarded to one outside number in talk at once, more than one line can carry.
forwarding_to_multi_line as (
    select
        user_id,
        '{{ fw }}' as pattern,
        forwarded_calls as volume,
        cohort_median_forwarded_calls as cohort_median,
        {{ cohort_volume_threshold(fw, 'min_forwarded_calls', 'cohort_median_forwarded_calls') }} as volume_threshold,
        {{ dbt.concat([
            "'Forwarded '", evidence_number('forwarded_calls'), "' calls to '", evidence_number('forwarded_numbers'),
            "' outside number(s), with up to '", evidence_number('max_concurrent_forwarded_calls'),
            "' in talk at once on one number and '", evidence_number('overlapping_forwarded_calls'),
            "' answered while '",
            evidence_number(prohibited_use_threshold(fw, 'min_concurrent_forwarded_calls') - 1),
            "' or more others to the same number were in talk (one line carries one call and one on hold); '",
            "'the cohort''s median user ('", "cohort_label", "') forwarded '",
            evidence_number('cohort_median_forwarded_calls'), "' calls.'"
        ]) }} as evidence
    from signals
    where
        max_concurrent_forwarded_calls >= {{ prohibited_use_threshold(fw, 'min_concurrent_forwarded_calls') }}
        and overlapping_forwarded_calls >= {{ prohibited_use_threshold(fw, 'min_overlapping_forwarded_calls') }}
        and forwarded_calls >= {{ prohibited_use_threshold(fw, 'min_forwarded_calls') }}
        and forwarded_calls >= {{ prohibited_use_threshold(fw, 'cohort_multiple') }} * cohort_median_forwarded_calls
),

-- A call-in line answered on one user: more callers in talk at once than one person can hold.
bulk_call_in_line as (
    select
        user_id,
        '{{ bl }}' as pattern,
        direct_inbound_calls as volume,
        cohort_median_direct_inbound_calls as cohort_median,
        {{ cohort_volume_threshold(bl, 'min_direct_inbound_calls', 'cohort_median_direct_inbound_calls') }} as volume_threshold,
        {{ dbt.concat([
            "'Received '", evidence_number('direct_inbound_calls'), "' direct inbound calls from '",
            evidence_number('distinct_callers'), "' distinct callers, with up to '",
            evidence_number('max_concurrent_inbound_calls'), "' in talk at once on this one user and '",
            evidence_number('overlapping_inbound_calls'), "' answered while '",
            evidence_number(prohibited_use_threshold(bl, 'min_concurrent_inbound_calls') - 1),
            "' or more others were in talk (one person takes one call and holds one); '",
            "'the cohort''s median user ('", "cohort_label", "') received '",
            evidence_number('cohort_median_direct_inbound_calls'), "'.'"
        ]) }} as evidence
    from signals
    where
        max_concurrent_inbound_calls >= {{ prohibited_use_threshold(bl, 'min_concurrent_inbound_calls') }}
        and overlapping_inbound_calls >= {{ prohibited_use_threshold(bl, 'min_overlapping_inbound_calls') }}
        and direct_inbound_calls >= {{ prohibited_use_threshold(bl, 'min_direct_inbound_calls') }}
        and direct_inbound_calls
        >= {{ prohibited_use_threshold(bl, 'cohort_multiple') }} * cohort_median_direct_inbound_calls
),

-- Bulk SMS / MMS / WhatsApp to numbers new to the account, which (almost) never write back. Judged on messages
-- alone: a user can be flagged for it beside a calling pattern.
message_blasting as (
    select
        user_id,
        '{{ mb }}' as pattern,
        new_recipients as volume,
        cohort_median_new_recipients as cohort_median,
        {{ cohort_volume_threshold(mb, 'min_new_recipients', 'cohort_median_new_recipients') }} as volume_threshold,
        {{ dbt.concat([
            "'Sent '", evidence_number('sent_messages'), "' messages ('",
            evidence_number('sent_messages - sent_whatsapp'), "' SMS or MMS, '", evidence_number('sent_whatsapp'),
            "' WhatsApp) to '", evidence_number('recipients'), "' numbers, '", evidence_number('new_recipients'),
            "' of them ('", evidence_number('100 * new_recipient_share'),
            "'%) numbers the account had not messaged or heard from earlier this month, of which '",
            evidence_number('100 * reply_ratio'), "'% wrote back; up to '",
            evidence_number('max_messages_in_burst_window'), "' sent within '",
            evidence_number(prohibited_use_threshold(mb, 'burst_window_seconds')), "' s; '",
            "'the cohort''s median user ('", "cohort_label", "') messaged '",
            evidence_number('cohort_median_new_recipients'), "' new numbers.'"
        ]) }} as evidence
    from message_signals
    where
        new_recipients >= {{ prohibited_use_threshold(mb, 'min_new_recipients') }}
        and new_recipients >= {{ prohibited_use_threshold(mb, 'cohort_multiple') }} * cohort_median_new_recipients
        and new_recipient_share >= {{ prohibited_use_threshold(mb, 'min_new_recipient_share') }}
        and reply_ratio <= {{ prohibited_use_threshold(mb, 'max_reply_ratio') }}
),

flags as (
    {%- for pattern_cte in ['auto_dialing', 'outbound_telemarketing', 'forwarding_to_multi_line', 'voicemail_blasting', 'bulk_call_in_line', 'message_blasting'] %}
    select
        user_id,
        pattern,
        volume,
        cohort_median,
        volume_threshold,
        evidence
    from {{ pattern_cte }}
    {{- "\n    union all" if not loop.last }}
    {%- endfor %}
),

-- Call patterns have the user's call signals, message_blasting the message signals; both where the user has both.
final as (
    select
        coalesce(s.month, m.month) as month,
        coalesce(s.account_id, m.account_id) as account_id,
        f.user_id,
        f.pattern,
        f.evidence,
        cast(f.volume as bigint) as volume,
        cast(f.volume_threshold as double) as volume_threshold,
        c.cohort_level,
        coalesce(c.cohort_label, 'unknown') as cohort_label,
        c.cohort_users,
        cast(f.cohort_median as double) as cohort_median,
        s.calls,
        s.outbound_calls,
        s.answer_seizure_ratio,
        s.average_talk_seconds,
        s.short_call_share,
        s.distinct_destination_share,
        s.new_number_calls,
        s.new_number_share,
        s.new_number_answer_ratio,
        s.cold_sessions,
        s.cold_session_calls,
        s.cold_session_new_number_calls,
        s.cold_session_new_number_answer_ratio,
        s.api_share,
        s.peak_calls_per_hour,
        s.session_gaps,
        s.gaps,
        s.regular_gap_share,
        s.session_regular_gap_share,
        s.cadence_median_seconds,
        s.wrap_median_seconds,
        s.max_concurrent_outbound_calls,
        s.parallel_outbound_calls,
        s.voicemail_drops,
        s.max_voicemails_in_window,
        s.inbound_calls,
        s.direct_inbound_calls,
        s.distinct_callers,
        s.max_concurrent_inbound_calls,
        s.overlapping_inbound_calls,
        s.forwarded_calls,
        s.forwarded_numbers,
        s.max_concurrent_forwarded_calls,
        s.overlapping_forwarded_calls,
        m.sent_messages,
        m.received_messages,
        m.recipients as message_recipients,
        m.new_recipients,
        m.new_recipient_share,
        m.reply_ratio,
        m.max_messages_in_burst_window,
        '{{ required_var("policy_version") }}' as policy_version
    from flags as f
    left join signals as s on f.user_id = s.user_id
    left join {{ ref('int_messages__user_sending') }} as m on f.user_id = m.user_id
    left join cohorts as c on f.user_id = c.user_id
)

select * from final
