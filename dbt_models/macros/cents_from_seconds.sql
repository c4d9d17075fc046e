{#
  Money from billable seconds and a per-minute rate, rounded to cents half away from zero, exactly (CONTRACT §2):
  seconds x rate / 60 is done in integer millionths, never through a binary float (0.015 must become 0.02).
  Amounts here are never negative.
#}
{% macro cents_from_seconds(seconds, rate_per_minute) -%}
    {#- the outer cast: DuckDB types the product decimal(18, 2), Spark decimal(22, 2); both engines say (18, 2) -#}
    cast(cast(
        {{ int_div('2 * cast(round(' ~ seconds ~ ' * cast(' ~ rate_per_minute ~ ' as decimal(18, 6)) * 1000000) as bigint) + 600000', 1200000) }}
        as decimal(18, 0)
    ) * cast(0.01 as decimal(3, 2)) as decimal(18, 2))
{%- endmacro %}
