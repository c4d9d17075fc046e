{#
  Pre-hook of month-grain tables that may have no row for a month (exceptions, audit): delete the month first,
  then append, so a re-run of a month that no longer has exceptions leaves none behind (delete+insert on the key
  would keep the old rows when the new month brings none). `fairuse simulate` (month = 'all') rebuilds every month
  of the table, so it deletes them all.
#}
{% macro delete_month_being_built() -%}
    {{ return(adapter.dispatch('delete_month_being_built', 'fairuse')()) }}
{%- endmacro %}

{% macro default__delete_month_being_built() -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ is_month_being_built('month') }}
    {%- endif -%}
{%- endmacro %}

{# Spark: the table is partitioned by month; the month's partition is dropped first (insert_overwrite then
   writes it again when the month has rows); every partition when simulating. #}
{% macro spark__delete_month_being_built() -%}
    {%- if is_incremental() -%}
        {%- if building_every_month() -%}
            truncate table {{ this }}
        {%- else -%}
            alter table {{ this }} drop if exists partition (month = '{{ required_var("month") }}')
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
