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


{#- The statements of a lock's life. Values are Python values, rendered by
    dbt_sync.sql_value; now: a naive UTC datetime. -#}

{#- The sync's lock row (holder, acquired_at, heartbeat_at), if any. -#}
{% macro lock_rows_sql(sync_name) -%}
  {{- return(adapter.dispatch('lock_rows_sql', 'dbt_sync')(sync_name)) -}}
{%- endmacro %}
{% macro default__lock_rows_sql(sync_name) -%}
  {{- return('select holder, acquired_at, heartbeat_at from ' ~ dbt_sync.audit_relation('dbt_sync_locks')
             ~ ' where sync_name = ' ~ dbt_sync.sql_value(sync_name)) -}}
{%- endmacro %}

{#- Take the lock: whatever row the sync had is replaced by holder's. -#}
{% macro lock_take_sql(sync_name, holder, now) -%}
  {{- return(adapter.dispatch('lock_take_sql', 'dbt_sync')(sync_name, holder, now)) -}}
{%- endmacro %}
{% macro default__lock_take_sql(sync_name, holder, now) -%}
  {%- set table = dbt_sync.audit_relation('dbt_sync_locks') -%}
  {{- return([
    'delete from ' ~ table ~ ' where sync_name = ' ~ dbt_sync.sql_value(sync_name),
    'insert into ' ~ table ~ ' (sync_name, holder, acquired_at, heartbeat_at) values ('
      ~ dbt_sync.sql_values([sync_name, holder, now, now]) ~ ')'
  ]) -}}
{%- endmacro %}

{#- Refresh holder's heartbeat (changes nothing when the lock is another's). -#}
{% macro lock_heartbeat_sql(sync_name, holder, now) -%}
  {{- return(adapter.dispatch('lock_heartbeat_sql', 'dbt_sync')(sync_name, holder, now)) -}}
{%- endmacro %}
{% macro default__lock_heartbeat_sql(sync_name, holder, now) -%}
  {{- return('update ' ~ dbt_sync.audit_relation('dbt_sync_locks') ~ ' set heartbeat_at = ' ~ dbt_sync.sql_value(now)
             ~ ' where ' ~ dbt_sync.lock_holder_condition(sync_name, holder)) -}}
{%- endmacro %}

{#- One row while holder holds the sync's lock, none once another took it. -#}
{% macro lock_held_sql(sync_name, holder) -%}
  {{- return(adapter.dispatch('lock_held_sql', 'dbt_sync')(sync_name, holder)) -}}
{%- endmacro %}
{% macro default__lock_held_sql(sync_name, holder) -%}
  {{- return('select holder from ' ~ dbt_sync.audit_relation('dbt_sync_locks')
             ~ ' where ' ~ dbt_sync.lock_holder_condition(sync_name, holder)) -}}
{%- endmacro %}

{#- Release holder's lock (nothing when another holds it now). -#}
{% macro lock_release_sql(sync_name, holder) -%}
  {{- return(adapter.dispatch('lock_release_sql', 'dbt_sync')(sync_name, holder)) -}}
{%- endmacro %}
{% macro default__lock_release_sql(sync_name, holder) -%}
  {{- return('delete from ' ~ dbt_sync.audit_relation('dbt_sync_locks')
             ~ ' where ' ~ dbt_sync.lock_holder_condition(sync_name, holder)) -}}
{%- endmacro %}

{% macro lock_holder_condition(sync_name, holder) -%}
  {{- return('sync_name = ' ~ dbt_sync.sql_value(sync_name) ~ ' and holder = ' ~ dbt_sync.sql_value(holder)) -}}
{%- endmacro %}
