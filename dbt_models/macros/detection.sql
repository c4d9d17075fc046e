{# A prohibited-use threshold from the policy configuration, e.g. pu('auto_dialing', 'max_gap_cv'). #}
{% macro pu(pattern, key=none) -%}
    {%- set cfg = required_var('prohibited_use') -%}
    {%- if cfg is none -%}{{ return(0) }}{%- endif -%}
    {{ return(cfg[pattern] if key is none else cfg[pattern][key]) }}
{%- endmacro %}

{#
  Maximum number of simultaneous calls per key: a sweep over start (+1) and end (-1) events ordered by time,
  ends before starts at the same instant (back-to-back calls do not overlap). One pass, no self-join.
#}
{% macro max_concurrency(calls, keys) -%}
    select {{ keys | join(', ') }}, max(in_progress) as max_concurrent
    from (
        select
            {{ keys | join(', ') }},
            sum(delta) over (
                partition by {{ keys | join(', ') }}
                order by event_at, delta
                rows between unbounded preceding and current row
            ) as in_progress
        from (
            select {{ keys | join(', ') }}, started_at as event_at, 1 as delta from {{ calls }}
            union all
            select {{ keys | join(', ') }}, ended_at as event_at, -1 as delta from {{ calls }}
        ) as events
    ) as swept
    group by {{ keys | join(', ') }}
{%- endmacro %}

{# A number as text for an evidence sentence (rounded). #}
{% macro num_text(expression, digits=0) -%}
    {%- if digits == 0 -%}
        cast(cast(round({{ expression }}, 0) as bigint) as {{ dbt.type_string() }})
    {%- else -%}
        cast(round({{ expression }}, {{ digits }}) as {{ dbt.type_string() }})
    {%- endif -%}
{%- endmacro %}
