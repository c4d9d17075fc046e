{#
  A var every run receives from Dagster (the month, the policy). At parse time (execute = false) no vars are
  given, so this returns a typed placeholder; at run time a missing var fails loudly rather than falling back to
  a silent default.
#}
{% macro required_var(name) -%}
    {%- set value = var(name, none) -%}
    {%- if value is none and (not execute or flags.WHICH in ('compile', 'generate', 'docs')) -%}
        {#- parse, compile, docs and SQL linting see typed placeholders; runs must pass the real value -#}
        {{ return(var_placeholder(name)) }}
    {%- endif -%}
    {%- if value is none -%}
        {{ exceptions.raise_compiler_error("dbt var '" ~ name ~ "' is required; runs get it from Dagster") }}
    {%- endif -%}
    {{ return(value) }}
{%- endmacro %}

{% macro var_placeholder(name) -%}
    {%- if name == 'month' -%}{{ return('2000-01-01') }}{%- endif -%}
    {%- if name in ('policy_version', 'policy_content_hash', 'policy_applied') -%}{{ return('unset') }}{%- endif -%}
    {%- if name in ('policy_effective_from', 'policy_content') -%}{{ return('') }}{%- endif -%}
    {%- if name.startswith('policy_') -%}{{ return([]) }}{%- endif -%}
    {%- if name == 'prohibited_use' -%}{{ return(none) }}{%- endif -%}
    {{ return(0) }}
{%- endmacro %}
