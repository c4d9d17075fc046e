{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='month') }}
-- Grain: month x user_id x metric, flagged only, for the month being built (streaks are added in
-- fct_fair_use_flags, which sees every month).
with

ratios as (
    select * from {{ ref('fct_user_excess_ratios') }}
    where month = {{ month_start() }}
),

flags as (
    {{ fair_use_flag_rows('ratios') }}
)

select * from flags
