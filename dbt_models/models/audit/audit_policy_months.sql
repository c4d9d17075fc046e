{{ config(alias='policy_months') }}
-- Grain: month. The policy version each built month was computed with, and how it came to apply: `in_force`
-- (the latest version effective for the month when it was first computed, kept by every re-run) or `restated`
-- (an operator's explicit `fairuse run --restate-under`). content: the version's every key as JSON, so that the
-- months already computed can be recomputed under their own version (domain/policy_versions.py reads it back).
with

final as (
    select
        {{ month_start() }} as month,
        {{ policy_text('policy_version') }} as policy_version,
        nullif({{ policy_text('policy_effective_from') }}, '') as effective_from,
        {{ policy_text('policy_content_hash') }} as content_hash,
        {{ policy_text('policy_applied') }} as applied,
        {{ policy_text('policy_content') }} as content
)

select * from final
