{#
  A prohibited-use threshold from the policy configuration (policy/fair_use_policy.yaml, `prohibited_use`, passed
  by Dagster as the var of that name): prohibited_use_threshold('auto_dialing', 'min_outbound_calls'), or a shared
  value: prohibited_use_threshold('short_call_seconds'). Parse and lint see 0 (no vars there).
#}
{% macro prohibited_use_threshold(pattern, key=none) -%}
    {%- set config = required_var('prohibited_use') -%}
    {%- if config is none -%}{{ return(0) }}{%- endif -%}
    {%- if pattern not in config or (key is not none and key not in config[pattern]) -%}
        {{ exceptions.raise_compiler_error("prohibited_use has no threshold '" ~ pattern ~ ("." ~ key if key else "") ~ "'") }}
    {%- endif -%}
    {{ return(config[pattern] if key is none else config[pattern][key]) }}
{%- endmacro %}
