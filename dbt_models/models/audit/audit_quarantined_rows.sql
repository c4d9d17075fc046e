{{ config(alias='quarantined_rows') }}
-- Grain: one quarantined row of the month (dataset x source_file x source_row), with the first rule it broke.
-- source_file and source_row say where to read it back from the Parquet (row positions start at 0).
with

exceptions as (
    select * from {{ ref('int_usage__exceptions') }}
    where month = {{ month_start() }} and outcome = 'quarantined'
),

final as (
    select
        month,
        dataset,
        source_file,
        row_id,
        reason,
        source_row
    from exceptions
)

select * from final
