-- Grain: one delivered event file of the month (dataset x source_file), as recorded by the raw step.
with

source as (
    select * from {{ source('raw', 'delivered_files') }}
),

month_files as (
    select
        month,
        dataset,
        source_file,
        size_bytes,
        modified_at,
        rows_read
    from source
    where month is not null
)

select * from month_files
