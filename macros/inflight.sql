{#- dbt_sync_inflight: the keys of create-mode batches sent and not yet committed.

    A row is written before a batch of creates (without a match key) goes to
    the destination and removed once the batch's outcomes are committed. A row
    left by a run that died is a record that may or may not exist in the CRM:
    the engine reports it as IN_DOUBT instead of creating it a second time. -#}

{% macro inflight_table_sql(relation) -%}
  {{- return(adapter.dispatch('inflight_table_sql', 'dbt_sync')(relation)) -}}
{%- endmacro %}

{% macro default__inflight_table_sql(relation) -%}
create table if not exists {{ relation }} (
    sync_name varchar(256) not null,
    record_key varchar(1024) not null,
    run_id varchar(64) not null,
    batch_id varchar(64) not null,
    sent_at {{ dbt_sync.type_timestamp() }} not null
)
{%- endmacro %}


{#- Record a create batch's keys as in flight (sent_at: naive UTC). -#}
{% macro inflight_mark_sql(sync_name, run_id, batch_id, keys, sent_at) -%}
  {{- return(adapter.dispatch('inflight_mark_sql', 'dbt_sync')(sync_name, run_id, batch_id, keys, sent_at)) -}}
{%- endmacro %}
{% macro default__inflight_mark_sql(sync_name, run_id, batch_id, keys, sent_at) -%}
  {%- set rows = [] -%}
  {%- for key in keys -%}
    {%- do rows.append('(' ~ dbt_sync.sql_values([sync_name, key, run_id, batch_id, sent_at]) ~ ')') -%}
  {%- endfor -%}
  {{- return('insert into ' ~ dbt_sync.audit_relation('dbt_sync_inflight')
             ~ ' (sync_name, record_key, run_id, batch_id, sent_at) values ' ~ (rows | join(', '))) -}}
{%- endmacro %}

{#- A batch's outcomes are committed: its keys leave, but for keep (their
    answer never came). -#}
{% macro inflight_clear_sql(sync_name, batch_id, keep) -%}
  {{- return(adapter.dispatch('inflight_clear_sql', 'dbt_sync')(sync_name, batch_id, keep)) -}}
{%- endmacro %}
{% macro default__inflight_clear_sql(sync_name, batch_id, keep) -%}
  {{- return('delete from ' ~ dbt_sync.audit_relation('dbt_sync_inflight')
             ~ ' where sync_name = ' ~ dbt_sync.sql_value(sync_name) ~ ' and batch_id = ' ~ dbt_sync.sql_value(batch_id)
             ~ ((' and record_key not in (' ~ dbt_sync.sql_values(keep) ~ ')') if keep else '')) -}}
{%- endmacro %}

{#- Keys in flight whose outcome did reach the state are settled: remove them. -#}
{% macro inflight_settled_sql(sync_name) -%}
  {{- return(adapter.dispatch('inflight_settled_sql', 'dbt_sync')(sync_name)) -}}
{%- endmacro %}
{% macro default__inflight_settled_sql(sync_name) -%}
  {%- set name = dbt_sync.sql_value(sync_name) -%}
  {{- return('delete from ' ~ dbt_sync.audit_relation('dbt_sync_inflight') ~ ' where sync_name = ' ~ name
             ~ ' and record_key in (select record_key from ' ~ dbt_sync.audit_relation('dbt_sync_state')
             ~ ' where sync_name = ' ~ name ~ ')') -}}
{%- endmacro %}

{#- Keys other runs than run_id left in flight (record_key). -#}
{% macro inflight_left_sql(sync_name, run_id) -%}
  {{- return(adapter.dispatch('inflight_left_sql', 'dbt_sync')(sync_name, run_id)) -}}
{%- endmacro %}
{% macro default__inflight_left_sql(sync_name, run_id) -%}
  {{- return('select distinct record_key from ' ~ dbt_sync.audit_relation('dbt_sync_inflight')
             ~ ' where sync_name = ' ~ dbt_sync.sql_value(sync_name) ~ ' and run_id <> ' ~ dbt_sync.sql_value(run_id)) -}}
{%- endmacro %}

{#- The sync's keys in flight (record_key), in key order; record_key: only
    that one; limit: at most that many. -#}
{% macro inflight_keys_sql(sync_name, record_key=none, limit=none) -%}
  {{- return(adapter.dispatch('inflight_keys_sql', 'dbt_sync')(sync_name, record_key, limit)) -}}
{%- endmacro %}
{% macro default__inflight_keys_sql(sync_name, record_key=none, limit=none) -%}
  {{- return('select distinct record_key from ' ~ dbt_sync.audit_relation('dbt_sync_inflight')
             ~ ' where sync_name = ' ~ dbt_sync.sql_value(sync_name)
             ~ ((' and record_key = ' ~ dbt_sync.sql_value(record_key)) if record_key is not none else '')
             ~ ' order by record_key' ~ ((' limit ' ~ (limit | int)) if limit is not none else '')) -}}
{%- endmacro %}

{#- Forget the sync's keys in flight (record_key: only that one). -#}
{% macro inflight_forget_sql(sync_name, record_key=none) -%}
  {{- return(adapter.dispatch('inflight_forget_sql', 'dbt_sync')(sync_name, record_key)) -}}
{%- endmacro %}
{% macro default__inflight_forget_sql(sync_name, record_key=none) -%}
  {{- return('delete from ' ~ dbt_sync.audit_relation('dbt_sync_inflight')
             ~ ' where sync_name = ' ~ dbt_sync.sql_value(sync_name)
             ~ ((' and record_key = ' ~ dbt_sync.sql_value(record_key)) if record_key is not none else '')) -}}
{%- endmacro %}
