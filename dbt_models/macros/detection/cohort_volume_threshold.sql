{#
  "High volume" for a prohibited-use pattern: at least the policy's absolute floor (`floor_key`) and at least
  cohort_multiple x the median user of the user's cohort (`cohort_median`, a column), whichever is higher.
#}
{% macro cohort_volume_threshold(pattern, floor_key, cohort_median) -%}
    greatest(
        {{ prohibited_use_threshold(pattern, floor_key) }},
        {{ prohibited_use_threshold(pattern, 'cohort_multiple') }} * {{ cohort_median }}
    )
{%- endmacro %}
