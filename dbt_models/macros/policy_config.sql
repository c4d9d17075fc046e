{# The policy configuration (policy/fair_use_policy.yaml, passed as vars by Dagster) as relations. #}
{% macro policy_metrics() -%}
    {{ rows_from_var('policy_metrics', [('metric', 'varchar'), ('offering', 'varchar'), ('floor', 'double')]) }}
{%- endmacro %}

{% macro policy_free_offerings() -%}
    {{ rows_from_var('policy_free_offerings', [('country', 'varchar'), ('plan', 'varchar'), ('offering', 'varchar')]) }}
{%- endmacro %}

{% macro policy_estimates() -%}
    {{ rows_from_var('policy_estimates', [('plan', 'varchar'), ('metric', 'varchar'), ('estimated_value', 'double')]) }}
{%- endmacro %}

{# currency '*' is the default for currencies without a rate of their own. #}
{% macro policy_excess_rates() -%}
    {{ rows_from_var('policy_excess_rates', [('metric', 'varchar'), ('currency', 'varchar'), ('rate', 'decimal(18,6)')]) }}
{%- endmacro %}

{% macro policy_surcharge_rates() -%}
    {{ rows_from_var('policy_surcharge_rates', [('currency', 'varchar'), ('rate', 'decimal(18,6)')]) }}
{%- endmacro %}

{# Month as a running integer (year * 12 + month), for "months in a row". #}
{% macro month_index(month) -%}
    (extract(year from {{ month }}) * 12 + extract(month from {{ month }}))
{%- endmacro %}

{# Continuous percentile (quantile_cont); dispatched because the function's name differs per engine. #}
{% macro percentile_cont(column, fraction) -%}
    {{ return(adapter.dispatch('percentile_cont', 'fairuse')(column, fraction)) }}
{%- endmacro %}

{% macro default__percentile_cont(column, fraction) -%}
    quantile_cont({{ column }}, {{ fraction }})
{%- endmacro %}

{% macro spark__percentile_cont(column, fraction) -%}
    percentile({{ column }}, {{ fraction }})
{%- endmacro %}

{# The (country, plan, offering) combinations whose offering is free; '*' in the policy matches any. #}
{% macro free_pairs(cohorts) -%}
    select distinct c.country, c.plan, f.offering
    from (select distinct country, plan from {{ cohorts }}) as c
    inner join ({{ policy_free_offerings() }}) as f
        on (f.country = '*' or f.country = c.country) and (f.plan = '*' or f.plan = c.plan)
{%- endmacro %}
