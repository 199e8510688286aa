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
  {%- set ts = dbt_sync.type_timestamp() -%}
  {{- return([
    'create table if not exists ' ~ dbt_sync.audit_relation('dbt_sync_health')
      ~ ' (sync_name ' ~ name ~ ' not null, state ' ~ name ~ ' not null, since ' ~ ts
      ~ ', last_run_id ' ~ name ~ ', last_alert_at ' ~ ts ~ ', dominant_error ' ~ name
      ~ ', updated_at ' ~ ts ~ ', failing_kind ' ~ name ~ ')',
    'create table if not exists ' ~ dbt_sync.audit_relation('dbt_sync_alerts')
      ~ ' (alert_id ' ~ name ~ ' not null, sync_name ' ~ name ~ ', run_id ' ~ name
      ~ ', kind ' ~ name ~ ', channel ' ~ name ~ ', status ' ~ name ~ ', attempts integer'
      ~ ', error ' ~ text ~ ', payload ' ~ text ~ ', created_at ' ~ ts ~ ', sent_at ' ~ ts ~ ')'
  ]) -}}
{%- endmacro %}


{#- Columns added to the alert tables after their first release, as
    (table, column, type); added to existing tables by ensure_alert_tables. -#}
{% macro alert_tables_added_columns() -%}
  {{- return([('dbt_sync_health', 'failing_kind', dbt_sync.type_name())]) -}}
{%- endmacro %}


{#- Create the alert tables, or add the columns an older version lacks;
    renders to nothing. Commits its own transaction. -#}
{% macro ensure_alert_tables() -%}
  {%- if not execute -%}{{ return('') }}{%- endif -%}
  {%- for sql in dbt_sync.alert_tables_sql() -%}
    {%- do dbt_sync._run_sql(sql) -%}
  {%- endfor -%}
  {%- for table, column, type in dbt_sync.alert_tables_added_columns() -%}
    {%- set relation = dbt_sync.audit_relation(table) -%}
    {%- set found = run_query("select count(*) from information_schema.columns where lower(table_schema) = "
                              ~ dbt_sync.string_literal(dbt_sync.audit_schema() | lower) ~ " and lower(table_name) = "
                              ~ dbt_sync.string_literal(table) ~ " and lower(column_name) = "
                              ~ dbt_sync.string_literal(column)) -%}
    {%- if (found.columns[0].values()[0] | int) == 0 -%}
      {%- do dbt_sync._run_sql('alter table ' ~ relation ~ ' add column ' ~ dbt_sync.quote_identifier(column)
                               ~ ' ' ~ type) -%}
    {%- endif -%}
  {%- endfor -%}
  {#- tables of older versions stored naive UTC timestamps -#}
  {%- for sql in dbt_sync.utc_timestamp_columns_sql([
        ('dbt_sync_health', 'since'), ('dbt_sync_health', 'last_alert_at'), ('dbt_sync_health', 'updated_at'),
        ('dbt_sync_alerts', 'created_at'), ('dbt_sync_alerts', 'sent_at')]) -%}
    {%- do dbt_sync._run_sql(sql) -%}
  {%- endfor -%}
  {%- do adapter.commit() -%}
  {{- return('') -}}
{%- endmacro %}


{#- A sync's open failures per error code: (error_code, failures). -#}
{% macro open_failures_by_code_sql(sync_name_sql) -%}
  {{- return('select error_code, count(*) as failures from '
             ~ dbt_sync.audit_relation('dbt_sync_open_failures')
             ~ ' where sync_name = ' ~ sync_name_sql ~ ' group by error_code') -}}
{%- endmacro %}


{#- The denominator of a sync's failed share: its records confirmed in the
    state plus its failing records that are not there (one column, n). -#}
{% macro sync_records_count_sql(sync_name_sql) -%}
  {%- set sql -%}
select count(*) as n from (
    select record_key from {{ dbt_sync.audit_relation('dbt_sync_state') }} where sync_name = {{ sync_name_sql }}
    union
    select record_key from {{ dbt_sync.audit_relation('dbt_sync_open_failures') }} where sync_name = {{ sync_name_sql }}
) as sync_records
  {%- endset -%}
  {{- return(sql) -}}
{%- endmacro %}


{#- A few of a sync's open failures, newest first, for an alert. -#}
{% macro open_failures_sample_sql(sync_name_sql, size) -%}
  {{- return('select record_key, error_code, error_message from '
             ~ dbt_sync.audit_relation('dbt_sync_open_failures')
             ~ ' where sync_name = ' ~ sync_name_sql
             ~ ' order by failed_at desc, record_key limit ' ~ (size | int)) -}}
{%- endmacro %}


{#- What an alert gives people to paste: every open failure of one sync. -#}
{% macro open_failures_listing_sql(sync_name_sql) -%}
  {{- return('select record_key, operation, error_code, error_message, error_fields, attempt, first_failed_at\n'
             ~ 'from ' ~ dbt_sync.audit_relation('dbt_sync_open_failures') ~ '\n'
             ~ 'where sync_name = ' ~ sync_name_sql ~ '\n'
             ~ 'order by error_code, record_key') -}}
{%- endmacro %}
