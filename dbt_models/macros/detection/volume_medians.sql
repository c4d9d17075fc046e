{# The median user's value of each volume a prohibited pattern is measured on: `median_<volume>` columns. #}
{% macro volume_medians(volumes) -%}
    {%- for v in volumes %}{{ percentile_cont(v, 0.5) }} as median_{{ v }}{{ ", " if not loop.last }}{% endfor -%}
{%- endmacro %}
