{#
  The cohort level a user is measured against, with the fair-use fallback (fct_user_excess_ratios): country x plan
  when that level has at least min_cohort_size users besides the user, else the plan, else every user. Given the
  aliases of the three levels' aggregates (each with `cohort_users`), returns a CASE picking `column` from the
  level used; with column = none, the level's name.
#}
{% macro cohort_fallback(column, country_plan='cp', plan='p', everyone='a') -%}
    {%- set min_cohort_size = required_var('min_cohort_size') -%}
    case
        when {{ country_plan }}.cohort_users - 1 >= {{ min_cohort_size }}
            then {{ "'country_plan'" if column is none else country_plan ~ '.' ~ column }}
        when {{ plan }}.cohort_users - 1 >= {{ min_cohort_size }}
            then {{ "'plan'" if column is none else plan ~ '.' ~ column }}
        else {{ "'all'" if column is none else everyone ~ '.' ~ column }}
    end
{%- endmacro %}
