{#- Settings of the warehouse session dbt-sync itself opens (not dbt's own
    runs). settings: {name: value}, values already checked by Python. -#}

{#- DuckDB runs inside the dbt-sync process: bound its memory and threads
    (docs/warehouse.md, "DuckDB memory and threads"). Other adapters run in
    their own server: nothing to set. -#}
{% macro session_settings_sql(settings) -%}
  {{- return(adapter.dispatch('session_settings_sql', 'dbt_sync')(settings)) -}}
{%- endmacro %}

{% macro default__session_settings_sql(settings) -%}
  {{- return([]) -}}
{%- endmacro %}

{% macro duckdb__session_settings_sql(settings) -%}
  {%- set statements = [] -%}
  {%- if settings.get('memory_limit') -%}
    {%- do statements.append('set memory_limit = ' ~ dbt_sync.string_literal(settings['memory_limit'])) -%}
  {%- endif -%}
  {%- if settings.get('threads') -%}
    {%- do statements.append('set threads = ' ~ (settings['threads'] | int)) -%}
  {%- endif -%}
  {{- return(statements) -}}
{%- endmacro %}
