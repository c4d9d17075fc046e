{{ config(alias='conflicting_duplicates') }}
-- Grain: one dropped duplicate of the month whose contract columns differ from the kept copy (dataset x
-- dropped file x row): the id, the file whose copy was kept and the file whose copy was dropped.
with

exceptions as (
    select * from {{ ref('int_usage__exceptions') }}
    where month = {{ month_start() }} and outcome = 'duplicate_dropped' and differs_from_kept
),

final as (
    select
        month,
        dataset,
        row_id as id,
        kept_file,
        source_file as dropped_file,
        source_row as dropped_row
    from exceptions
)

select * from final
