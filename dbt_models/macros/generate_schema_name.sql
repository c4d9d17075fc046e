{# Use the configured schema as is (raw, staging, intermediate, marts): analysts query marts.<table>. #}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ custom_schema_name if custom_schema_name is not none else target.schema }}
{%- endmacro %}
