{{ config(materialized='table') }}
-- Grain: month x account_id, for accounts with a flagged user. The enforcement ladder and excess charges
-- (CONTRACT §3); rebuilt over every month on each run (consecutive months span partitions).
with

flags as (
    select * from {{ ref('fct_fair_use_flags') }}
),

enforcement as (
    {{ account_enforcement('flags') }}
)

select * from enforcement
