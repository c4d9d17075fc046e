{#
  A number as text for an evidence sentence, rounded to `digits` decimals (whole by default); a null column reads
  '0'. A number known when compiling (a policy threshold) is written as a literal, without trailing zeros.
#}
{% macro evidence_number(expression, digits=0) -%}
    {%- if expression is number -%}
        '{{ "%g" | format(expression | round(digits)) }}'
    {%- elif digits == 0 -%}
        cast(cast(round(coalesce({{ expression }}, 0), 0) as bigint) as {{ dbt.type_string() }})
    {%- else -%}
        cast(round(coalesce({{ expression }}, 0), {{ digits }}) as {{ dbt.type_string() }})
    {%- endif -%}
{%- endmacro %}
