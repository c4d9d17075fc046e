{{ config(materialized='table') }}
-- Grain: month x user_id x metric, flagged only. Rebuilt over every month on each run, so that
-- consecutive_months always agrees with every built month (re-building an earlier month updates the later ones).
with

flag_rows as (
    select * from {{ ref('int_fair_use_flags__monthly') }}
),

flags as (
    {{ fair_use_flags_with_streaks('flag_rows') }}
)

select * from flags
