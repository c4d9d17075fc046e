{{ config(alias='policy_versions', materialized='table', partition_by=none, incremental_strategy=none) }}
-- Grain: policy_version. Every version a built month was computed with: when it takes effect, its content hash
-- and content, and the first and last month computed with it (rebuilt over every month on each run).
with

months as (
    select * from {{ ref('audit_policy_months') }}
),

final as (
    select
        policy_version,
        max(effective_from) as effective_from,
        max(content_hash) as content_hash,
        min(month) as first_month,
        max(month) as last_month,
        cast(count(*) as integer) as months,
        max(content) as content
    from months
    group by policy_version
)

select * from final
