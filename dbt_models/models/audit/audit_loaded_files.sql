{{ config(alias='loaded_files') }}
-- Grain: one event file of the month (dataset x source_file) as delivered when the month was built: the late-data
-- sensor compares it with the files now in the raw folder.
with

files as (
    select * from {{ ref('stg_usage__delivered_files') }}
    where month = {{ month_start() }}
)

select * from files
