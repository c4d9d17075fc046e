{#
  Calls in progress at once, per key, from intervals [start_column, end_column): one sweep over start (+1) and end
  (-1) events ordered by time, ends before starts at the same instant (back-to-back calls do not overlap). One
  pass, no self-join. Returns per key: max_concurrent (most in progress at once) and calls_at_concurrency (calls
  that began while at least min_concurrent - 1 others were in progress). Rows with a null start or end, or an
  end not after the start, are skipped.
#}
{% macro concurrency_sweep(calls, keys, start_column, end_column, min_concurrent) -%}
    {%- set key_list = keys | join(', ') -%}
    select
        {{ key_list }},
        max(in_progress) as max_concurrent,
        sum(case when delta = 1 and in_progress >= {{ min_concurrent }} then 1 else 0 end) as calls_at_concurrency
    from (
        select
            {{ key_list }},
            delta,
            sum(delta) over (
                partition by {{ key_list }}
                order by event_at, delta
                rows between unbounded preceding and current row
            ) as in_progress
        from (
            select {{ key_list }}, {{ start_column }} as event_at, 1 as delta
            from {{ calls }}
            where {{ start_column }} is not null and {{ end_column }} > {{ start_column }}
            union all
            select {{ key_list }}, {{ end_column }} as event_at, -1 as delta
            from {{ calls }}
            where {{ start_column }} is not null and {{ end_column }} > {{ start_column }}
        ) as events
    ) as swept
    group by {{ key_list }}
{%- endmacro %}
