{{ config(materialized='incremental', incremental_strategy=month_strategy('append'), partition_by=month_partition_by(), pre_hook="{{ delete_month_being_built() }}") }}
-- sqlfluff:indentation:template_blocks_indent:False
-- Grain: one row read of the month that is NOT counted (dataset x source_file x source_row): a dropped duplicate
-- or a quarantined row, with the reason. The row rules of CONTRACT §1 "Bad input", per dataset, in this order:
-- 1. Duplicates. Rows with the same non-null id are one event; the latest delivered copy is kept (file
--    modification time, then file name, then the later position in the file); every other copy is dropped, and
--    a dropped copy whose contract columns differ from the kept one is a conflict. Null ids are never merged.
-- 2. Row rules on the kept rows, first matching reason: missing_required, invalid_value, invalid_interval
--    (calls), wrong_month, unknown_user, account_mismatch. The user's account is its record as of the month.
-- Every other row read is counted (int_<dataset>__counted); audit.load_balance checks the sum.
{%- set datasets = {
    'calls': {
        'id': 'call_id',
        'columns': ['call_id', 'account_id', 'user_id', 'direction', 'started_at', 'answered_at', 'ended_at',
                    'from_number', 'to_number', 'disposition', 'forwarded_to', 'initiated_via'],
        'required': ['call_id', 'user_id', 'started_at', 'ended_at', 'direction', 'disposition'],
        'enums': {'direction': ['inbound', 'outbound', 'internal'],
                  'disposition': ['answered', 'no_answer', 'busy', 'failed', 'voicemail']},
        'nullable_enums': {'initiated_via': ['app', 'desk_phone', 'web', 'api']},
        'invalid_interval': 'r.ended_at < r.started_at or r.answered_at < r.started_at or r.answered_at > r.ended_at',
        'event_time': 'started_at',
    },
    'messages': {
        'id': 'message_id',
        'columns': ['message_id', 'account_id', 'user_id', 'channel', 'direction', 'sent_at',
                    'counterparty_number', 'segments'],
        'required': ['message_id', 'user_id', 'sent_at', 'direction', 'channel'],
        'enums': {'channel': ['sms', 'mms', 'whatsapp'], 'direction': ['sent', 'received']},
        'nullable_enums': {},
        'invalid_interval': none,
        'event_time': 'sent_at',
    },
    'chats': {
        'id': 'chat_message_id',
        'columns': ['chat_message_id', 'account_id', 'user_id', 'conversation_id', 'sent_at'],
        'required': ['chat_message_id', 'user_id', 'sent_at'],
        'enums': {},
        'nullable_enums': {},
        'invalid_interval': none,
        'event_time': 'sent_at',
    },
} %}
{#- invalid_value: a value outside its enum (a null one is missing_required, or allowed where nullable) #}
{#- The rows read are a view over the Parquet, named where used (not a CTE): a CTE read three times would be
    materialized, a copy of the whole month in memory. #}
{%- set invalid_value = {} %}
{%- for name, ds in datasets.items() %}
{%- set conditions = [] %}
{%- for c, values in ds.enums.items() %}
{%- do conditions.append("r." ~ c ~ " not in ('" ~ values | join("', '") ~ "')") %}
{%- endfor %}
{%- for c, values in ds.nullable_enums.items() %}
{%- do conditions.append("(r." ~ c ~ " is not null and r." ~ c ~ " not in ('" ~ values | join("', '") ~ "'))") %}
{%- endfor %}
{%- do invalid_value.update({name: conditions | join(' or ')}) %}
{%- endfor %}
with

users as (
    select
        user_id,
        account_id
    from {{ ref('int_users__as_of_month') }}
),
{% for name, ds in datasets.items() %}
{{ name }}_repeated as (
    -- Only ids delivered more than once are ranked (a small share of the rows). They are found by a 64-bit hash
    -- of the id (grouping 8-byte integers, not strings): a hash seen twice names candidates, and the ranking per
    -- id itself decides, so two different ids sharing a hash are each ranked first and neither is dropped.
    select
        r.*,
        row_number() over (
            partition by r.{{ ds.id }}
            order by r.delivered_at desc, r.source_file desc, r.source_row desc
        ) as delivery_rank
    from {{ ref('stg_usage__' ~ name) }} as r
    inner join (
        select {{ fast_hash(ds.id) }} as id_hash
        from {{ ref('stg_usage__' ~ name) }}
        where {{ ds.id }} is not null
        group by {{ fast_hash(ds.id) }}
        having count(*) > 1
    ) as ids on {{ fast_hash('r.' ~ ds.id) }} = ids.id_hash
    where r.{{ ds.id }} is not null
),

{{ name }}_dropped as (
    select
        d.month,
        '{{ name }}' as dataset,
        d.source_file,
        d.source_row,
        d.{{ ds.id }} as row_id,
        'duplicate_dropped' as outcome,
        cast(null as {{ dbt.type_string() }}) as reason,
        k.source_file as kept_file,
        (
            {%- for c in ds.columns %}
            d.{{ c }} is distinct from k.{{ c }}{{ ' or' if not loop.last }}
            {%- endfor %}
        ) as differs_from_kept
    from {{ name }}_repeated as d
    inner join {{ name }}_repeated as k on d.{{ ds.id }} = k.{{ ds.id }} and k.delivery_rank = 1
    where d.delivery_rank > 1
),

{{ name }}_judged as (
    select
        r.month,
        r.source_file,
        r.source_row,
        r.{{ ds.id }} as row_id,
        case
            when {% for c in ds.required %}r.{{ c }} is null{{ ' or ' if not loop.last }}{% endfor %}
                then 'missing_required'
            {%- if invalid_value[name] %}
            when {{ invalid_value[name] }} then 'invalid_value'
            {%- endif %}
            {%- if ds.invalid_interval %}
            when {{ ds.invalid_interval }} then 'invalid_interval'
            {%- endif %}
            when r.{{ ds.event_time }} < {{ month_start() }} or r.{{ ds.event_time }} >= {{ month_end_exclusive() }}
                then 'wrong_month'
            when u.user_id is null then 'unknown_user'
            when r.account_id is not null and r.account_id != u.account_id then 'account_mismatch'
        end as reason
    from {{ ref('stg_usage__' ~ name) }} as r
    left join {{ name }}_dropped as x on r.source_file = x.source_file and r.source_row = x.source_row
    left join users as u on r.user_id = u.user_id
    where x.source_row is null
),

{{ name }}_quarantined as (
    select
        month,
        '{{ name }}' as dataset,
        source_file,
        source_row,
        row_id,
        'quarantined' as outcome,
        reason,
        cast(null as {{ dbt.type_string() }}) as kept_file,
        cast(null as boolean) as differs_from_kept
    from {{ name }}_judged
    where reason is not null
),
{% endfor %}
final as (
    {%- for name in datasets %}
    select * from {{ name }}_dropped
    union all
    select * from {{ name }}_quarantined
    {{ 'union all' if not loop.last }}
    {%- endfor %}
)

select * from final
