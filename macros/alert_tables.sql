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
{% macro open_failures_by_code_sql(sync_name) -%}
  {{- return(adapter.dispatch('open_failures_by_code_sql', 'dbt_sync')(sync_name)) -}}
{%- endmacro %}
{% macro default__open_failures_by_code_sql(sync_name) -%}
  {%- set sync_name_sql = dbt_sync.sql_value(sync_name) -%}
  {{- return('select error_code, count(*) as failures from '
             ~ dbt_sync.audit_relation('dbt_sync_open_failures')
             ~ ' where sync_name = ' ~ sync_name_sql ~ ' group by error_code') -}}
{%- endmacro %}


{#- The denominator of a sync's failed share: its records confirmed in the
    state plus its failing records that are not there (one column, n). -#}
{% macro sync_records_count_sql(sync_name) -%}
  {{- return(adapter.dispatch('sync_records_count_sql', 'dbt_sync')(sync_name)) -}}
{%- endmacro %}
{% macro default__sync_records_count_sql(sync_name) -%}
  {%- set sync_name_sql = dbt_sync.sql_value(sync_name) -%}
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
{% macro open_failures_sample_sql(sync_name, size) -%}
  {{- return(adapter.dispatch('open_failures_sample_sql', 'dbt_sync')(sync_name, size)) -}}
{%- endmacro %}
{% macro default__open_failures_sample_sql(sync_name, size) -%}
  {%- set sync_name_sql = dbt_sync.sql_value(sync_name) -%}
  {{- return('select record_key, error_code, error_message from '
             ~ dbt_sync.audit_relation('dbt_sync_open_failures')
             ~ ' where sync_name = ' ~ sync_name_sql
             ~ ' order by failed_at desc, record_key limit ' ~ (size | int)) -}}
{%- endmacro %}


{#- What an alert gives people to paste: every open failure of one sync. -#}
{% macro open_failures_listing_sql(sync_name) -%}
  {{- return(adapter.dispatch('open_failures_listing_sql', 'dbt_sync')(sync_name)) -}}
{%- endmacro %}
{% macro default__open_failures_listing_sql(sync_name) -%}
  {%- set sync_name_sql = dbt_sync.sql_value(sync_name) -%}
  {{- return('select record_key, operation, error_code, error_message, error_fields, attempt, first_failed_at\n'
             ~ 'from ' ~ dbt_sync.audit_relation('dbt_sync_open_failures') ~ '\n'
             ~ 'where sync_name = ' ~ sync_name_sql ~ '\n'
             ~ 'order by error_code, record_key') -}}
{%- endmacro %}


{#- The statements below take Python values, rendered by dbt_sync.sql_value
    (timestamps: naive UTC datetimes). -#}

{#- The health rows of the given syncs (columns: the table's). -#}
{% macro health_rows_sql(sync_names) -%}
  {{- return(adapter.dispatch('health_rows_sql', 'dbt_sync')(sync_names)) -}}
{%- endmacro %}
{% macro default__health_rows_sql(sync_names) -%}
  {{- return('select ' ~ (dbt_sync.health_columns() | join(', ')) ~ ' from ' ~ dbt_sync.audit_relation('dbt_sync_health')
             ~ ' where sync_name in (' ~ dbt_sync.sql_values(sync_names) ~ ')') -}}
{%- endmacro %}

{% macro health_columns() -%}
  {{- return(['sync_name', 'state', 'since', 'last_run_id', 'last_alert_at', 'dominant_error', 'updated_at',
              'failing_kind']) -}}
{%- endmacro %}

{#- Replace a sync's health row (delete + insert in one transaction: a
    portable upsert). health: column -> value, every health column. -#}
{% macro health_save_sql(health) -%}
  {{- return(adapter.dispatch('health_save_sql', 'dbt_sync')(health)) -}}
{%- endmacro %}
{% macro default__health_save_sql(health) -%}
  {%- set table = dbt_sync.audit_relation('dbt_sync_health') -%}
  {%- set values = [] -%}
  {%- for column in dbt_sync.health_columns() -%}{%- do values.append(health[column]) -%}{%- endfor -%}
  {{- return([
    'delete from ' ~ table ~ ' where sync_name = ' ~ dbt_sync.sql_value(health['sync_name']),
    'insert into ' ~ table ~ ' (' ~ (dbt_sync.health_columns() | join(', ')) ~ ') values ('
      ~ dbt_sync.sql_values(values) ~ ')'
  ]) -}}
{%- endmacro %}

{% macro alert_columns() -%}
  {{- return(['alert_id', 'sync_name', 'run_id', 'kind', 'channel', 'status', 'attempts', 'error', 'payload',
              'created_at', 'sent_at']) -}}
{%- endmacro %}

{#- Insert an alert row unless its alert_id exists. alert: column -> value,
    every alert column. -#}
{% macro alert_add_sql(alert) -%}
  {{- return(adapter.dispatch('alert_add_sql', 'dbt_sync')(alert)) -}}
{%- endmacro %}
{% macro default__alert_add_sql(alert) -%}
  {%- set table = dbt_sync.audit_relation('dbt_sync_alerts') -%}
  {%- set values = [] -%}
  {%- for column in dbt_sync.alert_columns() -%}{%- do values.append(alert[column]) -%}{%- endfor -%}
  {{- return('insert into ' ~ table ~ ' (' ~ (dbt_sync.alert_columns() | join(', ')) ~ ') select '
             ~ dbt_sync.sql_values(values) ~ ' where not exists (select 1 from ' ~ table ~ ' where alert_id = '
             ~ dbt_sync.sql_value(alert['alert_id']) ~ ')') -}}
{%- endmacro %}

{#- Alert rows, oldest first. sync_name: only that sync's; undelivered_of_run:
    only rows not yet sent, of that run or (since given) created since then. -#}
{% macro alert_rows_sql(sync_name=none, undelivered_of_run=none, since=none) -%}
  {{- return(adapter.dispatch('alert_rows_sql', 'dbt_sync')(sync_name, undelivered_of_run, since)) -}}
{%- endmacro %}
{% macro default__alert_rows_sql(sync_name=none, undelivered_of_run=none, since=none) -%}
  {%- set where = ['1 = 1'] if sync_name is none else ['sync_name = ' ~ dbt_sync.sql_value(sync_name)] -%}
  {%- if undelivered_of_run is not none -%}
    {%- do where.append("status <> 'sent' and (run_id = " ~ dbt_sync.sql_value(undelivered_of_run)
                        ~ ((' or created_at >= ' ~ dbt_sync.sql_value(since)) if since is not none else '') ~ ')') -%}
  {%- endif -%}
  {%- set order = 'created_at, channel' if undelivered_of_run is not none else 'created_at, sync_name, kind, channel' -%}
  {{- return('select ' ~ (dbt_sync.alert_columns() | join(', ')) ~ ' from ' ~ dbt_sync.audit_relation('dbt_sync_alerts')
             ~ ' where ' ~ (where | join(' and ')) ~ ' order by ' ~ order) -}}
{%- endmacro %}

{#- Store a delivery's outcome. -#}
{% macro alert_delivery_sql(alert_id, status, attempts, error, sent_at) -%}
  {{- return(adapter.dispatch('alert_delivery_sql', 'dbt_sync')(alert_id, status, attempts, error, sent_at)) -}}
{%- endmacro %}
{% macro default__alert_delivery_sql(alert_id, status, attempts, error, sent_at) -%}
  {{- return(dbt_sync.update_sql('dbt_sync_alerts',
        {'status': dbt_sync.sql_value(status), 'attempts': dbt_sync.sql_value(attempts),
         'error': dbt_sync.sql_value(error), 'sent_at': dbt_sync.sql_value(sent_at)},
        'alert_id = ' ~ dbt_sync.sql_value(alert_id))) -}}
{%- endmacro %}
