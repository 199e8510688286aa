{#- Per-sync run locks (dbt_sync_locks). Acquisition runs under a table lock
    so two processes cannot both take the same sync. DuckDB allows a single
    writer process, which already serializes it. -#}

{% macro lock_table_sql(relation) -%}
  {{- return(adapter.dispatch('lock_table_sql', 'dbt_sync')(relation)) -}}
{%- endmacro %}

{#- dbt-postgres leaves transactions to the driver; an explicit begin makes
    sure the table lock lives until the commit that ends the acquisition. -#}
{% macro default__lock_table_sql(relation) -%}
  {{- return('begin; lock table ' ~ relation ~ ' in share row exclusive mode') -}}
{%- endmacro %}

{% macro redshift__lock_table_sql(relation) -%}
  {{- return('lock ' ~ relation) -}}
{%- endmacro %}

{% macro duckdb__lock_table_sql(relation) -%}
  {{- return('') -}}
{%- endmacro %}
