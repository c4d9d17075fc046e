{#
  The value from which a user is flagged on a metric (CONTRACT §3): the floor, or threshold_multiple x the lower
  of the positive references (cohort mean, plan estimate) when that is higher; null when neither reference is
  positive. Whether the offering is free is the caller's condition. Shared by fct_published_thresholds (the month
  built) and fct_month_to_date_watch (the open month, against the latest built month's cohort).
#}
{% macro fair_use_threshold(cohort_mean, estimated_value, floor) -%}
    case
        when {{ cohort_mean }} > 0 or {{ estimated_value }} > 0 then greatest(
            {{ floor }},
            least(
                case when {{ cohort_mean }} > 0 then {{ required_var('threshold_multiple') }} * {{ cohort_mean }} end,
                case
                    when {{ estimated_value }} > 0
                        then {{ required_var('threshold_multiple') }} * {{ estimated_value }}
                end
            )
        )
    end
{%- endmacro %}
