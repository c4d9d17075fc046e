{#
  CONTRACT §2. Talk seconds: 0 if never answered, else the exact duration ended_at - answered_at rounded UP to a
  whole second. Billable seconds with increment I1/I2: 0 if talk is 0; I1 if talk <= I1; else
  I1 + ceil((talk - I1) / I2) * I2.
#}
{% macro talk_seconds(answered_at, ended_at) -%}
    case
        when {{ answered_at }} is null then 0
        else cast(ceil({{ microseconds_between(answered_at, ended_at) }} / 1000000.0) as bigint)
    end
{%- endmacro %}

{% macro billable_seconds(talk, initial_seconds, subsequent_seconds) -%}
    case
        when {{ talk }} = 0 then 0
        when {{ talk }} <= {{ initial_seconds }} then {{ initial_seconds }}
        else {{ initial_seconds }}
            + cast(ceil(({{ talk }} - {{ initial_seconds }}) / cast({{ subsequent_seconds }} as double)) as bigint)
            * {{ subsequent_seconds }}
    end
{%- endmacro %}
