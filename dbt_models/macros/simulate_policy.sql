{#
  `fairuse simulate`: the policy marts recomputed over every month of marts.fct_user_monthly_usage with the
  policy given as vars, into schema `sim` of the (scratch copy of the) warehouse. Same macros as the models.
#}
{% macro simulate_policy(schema='sim') %}
    {% set steps = [
        ('metric_values', metric_values('marts.fct_user_monthly_usage')),
        ('fct_user_excess_ratios', excess_ratios(schema ~ '.metric_values')),
        ('flag_rows', fair_use_flag_rows(schema ~ '.fct_user_excess_ratios')),
        ('fct_fair_use_flags', fair_use_flags_with_streaks(schema ~ '.flag_rows')),
        ('fct_account_enforcement', account_enforcement(schema ~ '.fct_fair_use_flags')),
    ] %}
    {% do run_query('create schema if not exists ' ~ schema) %}
    {% for name, sql in steps %}
        {% do run_query('create or replace table ' ~ schema ~ '.' ~ name ~ ' as ' ~ sql) %}
    {% endfor %}
    {% do log('simulated policy ' ~ var('policy_version') ~ ' into schema ' ~ schema, info=True) %}
{% endmacro %}
