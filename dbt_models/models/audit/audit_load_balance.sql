{{ config(alias='load_balance') }}
-- Grain: month x dataset (datasets with files in the month). Conservation: rows read (the Parquet footers of the
-- delivered files) = rows counted + rows quarantined + duplicates dropped, each counted on its own; the
-- `balanced` test fails the month when they disagree.
with

files as (
    select
        dataset,
        sum(rows_read) as rows_read
    from {{ ref('stg_usage__delivered_files') }}
    where month = {{ month_start() }}
    group by dataset
),

exceptions as (
    select
        dataset,
        sum(case when outcome = 'quarantined' then 1 else 0 end) as rows_quarantined,
        sum(case when outcome = 'duplicate_dropped' then 1 else 0 end) as duplicates_dropped
    from {{ ref('int_usage__exceptions') }}
    where month = {{ month_start() }}
    group by dataset
),

counted as (
    select
        dataset,
        rows_counted
    from {{ ref('int_usage__counted_summary') }}
),

final as (
    select
        {{ month_start() }} as month,
        f.dataset,
        cast(f.rows_read as bigint) as rows_read,
        cast(coalesce(c.rows_counted, 0) as bigint) as rows_counted,
        cast(coalesce(e.rows_quarantined, 0) as bigint) as rows_quarantined,
        cast(coalesce(e.duplicates_dropped, 0) as bigint) as duplicates_dropped
    from files as f
    left join counted as c on f.dataset = c.dataset
    left join exceptions as e on f.dataset = e.dataset
)

select * from final
