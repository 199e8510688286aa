{#- Alert tables: each sync's health (so "failing since" survives across runs
    and machines) and one row per alert delivery per channel (so a rerun
    after a crash never sends twice). Created idempotently by Python's
    dbt_sync.alerts.store once per run, after the audit schema exists; kept
    out of the versioned audit migrations on purpose so alerting can evolve
    on its own. Column types come from the audit tables' per-adapter macros. -#}

{% macro alert_tables_sql() %}{{ return(adapter.dispatch('alert_tables_sql', 'dbt_sync')()) }}{% endmacro %}

{% macro default__alert_tables_sql() -%}
  {%- set text = dbt_sync.type_text() -%}
  {%- set name = dbt_sync.type_name() -%}
  {{- return([
    'create table if not exists ' ~ dbt_sync.audit_relation('dbt_sync_health')
      ~ ' (sync_name ' ~ name ~ ' not null, state ' ~ name ~ ' not null, since timestamp'
      ~ ', last_run_id ' ~ name ~ ', last_alert_at timestamp, dominant_error ' ~ name
      ~ ', updated_at timestamp)',
    'create table if not exists ' ~ dbt_sync.audit_relation('dbt_sync_alerts')
      ~ ' (alert_id ' ~ name ~ ' not null, sync_name ' ~ name ~ ', run_id ' ~ name
      ~ ', kind ' ~ name ~ ', channel ' ~ name ~ ', status ' ~ name ~ ', attempts integer'
      ~ ', error ' ~ text ~ ', payload ' ~ text ~ ', created_at timestamp, sent_at timestamp)'
  ]) -}}
{%- endmacro %}


{#- Create the alert tables; renders to nothing. Commits its own transaction. -#}
{% macro ensure_alert_tables() -%}
  {%- if not execute -%}{{ return('') }}{%- endif -%}
  {%- for sql in dbt_sync.alert_tables_sql() -%}
    {%- do dbt_sync._run_sql(sql) -%}
  {%- endfor -%}
  {%- do adapter.commit() -%}
  {{- return('') -}}
{%- endmacro %}
