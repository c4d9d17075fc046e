{# The (country, plan, offering) combinations of `cohorts` whose offering is free; '*' in the policy matches any. #}
{% macro free_offering_cohorts(cohorts) -%}
    select distinct c.country, c.plan, f.offering
    from (select distinct country, plan from {{ cohorts }}) as c
    inner join ({{ policy_free_offerings() }}) as f
        on (f.country = '*' or f.country = c.country) and (f.plan = '*' or f.plan = c.plan)
{%- endmacro %}
