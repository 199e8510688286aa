{#- The queries behind `dbt-sync status` and `dbt-sync failures`. Values are
    Python values, rendered by dbt_sync.sql_value. -#}

{#- The latest run row of each sync, by sync name. -#}
{% macro latest_runs_sql() -%}
  {{- return(adapter.dispatch('latest_runs_sql', 'dbt_sync')()) -}}
{%- endmacro %}
{% macro default__latest_runs_sql() -%}
  {{- return('select sync_name, status, started_at, finished_at, planned, created, updated, deleted, failed, '
             ~ 'error_message from (select r.*, row_number() over (partition by sync_name order by started_at desc) '
             ~ 'as rn from ' ~ dbt_sync.audit_relation('dbt_sync_runs') ~ ' r) latest where rn = 1 order by sync_name') -}}
{%- endmacro %}

{#- Open failures, optionally of the given syncs and error codes (empty: all). -#}
{% macro open_failures_report_sql(sync_names=[], codes=[]) -%}
  {{- return(adapter.dispatch('open_failures_report_sql', 'dbt_sync')(sync_names, codes)) -}}
{%- endmacro %}
{% macro default__open_failures_report_sql(sync_names=[], codes=[]) -%}
  {%- set where = [] -%}
  {%- if sync_names -%}{%- do where.append('sync_name in (' ~ dbt_sync.sql_values(sync_names) ~ ')') -%}{%- endif -%}
  {%- if codes -%}{%- do where.append('error_code in (' ~ dbt_sync.sql_values(codes) ~ ')') -%}{%- endif -%}
  {{- return('select sync_name, record_key, error_code, error_message, attempt, first_failed_at, failed_at from '
             ~ dbt_sync.audit_relation('dbt_sync_open_failures')
             ~ ((' where ' ~ (where | join(' and '))) if where else '')
             ~ ' order by sync_name, first_failed_at, record_key') -}}
{%- endmacro %}

{#- Every sync name a run or a failure was recorded for (sync_name). -#}
{% macro recorded_syncs_sql() -%}
  {{- return(adapter.dispatch('recorded_syncs_sql', 'dbt_sync')()) -}}
{%- endmacro %}
{% macro default__recorded_syncs_sql() -%}
  {{- return('select sync_name from ' ~ dbt_sync.audit_relation('dbt_sync_runs')
             ~ ' union select sync_name from ' ~ dbt_sync.audit_relation('dbt_sync_failures')) -}}
{%- endmacro %}

{#- What to paste for every column of every open failure. -#}
{% macro open_failures_all_sql() -%}
  {{- return(adapter.dispatch('open_failures_all_sql', 'dbt_sync')()) -}}
{%- endmacro %}
{% macro default__open_failures_all_sql() -%}
  {{- return('select * from ' ~ dbt_sync.audit_relation('dbt_sync_open_failures')) -}}
{%- endmacro %}

{#- The queries behind `dbt-sync report`. sync_names: the syncs to show (a
    list of names, never empty); since: a timestamp (Python datetime, UTC). -#}

{#- Each sync's runs started since `since`, newest first, at most `per_sync`
    per sync. -#}
{% macro report_runs_sql(sync_names, since, per_sync) -%}
  {{- return(adapter.dispatch('report_runs_sql', 'dbt_sync')(sync_names, since, per_sync)) -}}
{%- endmacro %}
{% macro default__report_runs_sql(sync_names, since, per_sync) -%}
  {{- return('select sync_name, run_id, status, started_at, finished_at, planned, created, updated, deleted, '
             ~ 'failed, skipped, error_message from (select r.*, row_number() over (partition by sync_name '
             ~ 'order by started_at desc) as rn from ' ~ dbt_sync.audit_relation('dbt_sync_runs') ~ ' r '
             ~ 'where sync_name in (' ~ dbt_sync.sql_values(sync_names) ~ ') and started_at >= '
             ~ dbt_sync.sql_value(since) ~ ') runs where rn <= ' ~ (per_sync | int)
             ~ ' order by sync_name, started_at desc') -}}
{%- endmacro %}

{#- Each sync's open failures, oldest first, at most `per_sync` per sync. -#}
{% macro report_open_failures_sql(sync_names, per_sync) -%}
  {{- return(adapter.dispatch('report_open_failures_sql', 'dbt_sync')(sync_names, per_sync)) -}}
{%- endmacro %}
{% macro default__report_open_failures_sql(sync_names, per_sync) -%}
  {{- return('select sync_name, record_key, error_code, error_message, attempt, first_failed_at from '
             ~ '(select f.*, row_number() over (partition by sync_name order by first_failed_at, record_key) as rn '
             ~ 'from ' ~ dbt_sync.audit_relation('dbt_sync_open_failures') ~ ' f '
             ~ 'where sync_name in (' ~ dbt_sync.sql_values(sync_names) ~ ')) open_failures where rn <= '
             ~ (per_sync | int) ~ ' order by sync_name, first_failed_at, record_key') -}}
{%- endmacro %}

{#- Each sync's open failures per error code: (sync_name, error_code,
    failures, sample), every open failure counted. -#}
{% macro report_error_codes_sql(sync_names) -%}
  {{- return(adapter.dispatch('report_error_codes_sql', 'dbt_sync')(sync_names)) -}}
{%- endmacro %}
{% macro default__report_error_codes_sql(sync_names) -%}
  {{- return('select sync_name, error_code, count(*) as failures, min(error_message) as sample from '
             ~ dbt_sync.audit_relation('dbt_sync_open_failures')
             ~ ' where sync_name in (' ~ dbt_sync.sql_values(sync_names) ~ ') group by sync_name, error_code'
             ~ ' order by sync_name, failures desc, error_code') -}}
{%- endmacro %}

{#- Each sync's alerts created since `since`, newest first, at most
    `per_sync` per sync (the payload is left out: the page shows the rows). -#}
{% macro report_alerts_sql(sync_names, since, per_sync) -%}
  {{- return(adapter.dispatch('report_alerts_sql', 'dbt_sync')(sync_names, since, per_sync)) -}}
{%- endmacro %}
{% macro default__report_alerts_sql(sync_names, since, per_sync) -%}
  {{- return('select sync_name, run_id, kind, channel, status, attempts, error, created_at, sent_at from '
             ~ '(select a.*, row_number() over (partition by sync_name order by created_at desc, channel) as rn '
             ~ 'from ' ~ dbt_sync.audit_relation('dbt_sync_alerts') ~ ' a '
             ~ 'where sync_name in (' ~ dbt_sync.sql_values(sync_names) ~ ') and created_at >= '
             ~ dbt_sync.sql_value(since) ~ ') alerts where rn <= ' ~ (per_sync | int)
             ~ ' order by sync_name, created_at desc, channel') -}}
{%- endmacro %}

{#- What the report gives people to paste for a sync's run history. -#}
{% macro runs_listing_sql(sync_name) -%}
  {{- return(adapter.dispatch('runs_listing_sql', 'dbt_sync')(sync_name)) -}}
{%- endmacro %}
{% macro default__runs_listing_sql(sync_name) -%}
  {{- return('select run_id, status, started_at, finished_at, planned, created, updated, deleted, failed, '
             ~ 'error_message\nfrom ' ~ dbt_sync.audit_relation('dbt_sync_runs') ~ '\n'
             ~ 'where sync_name = ' ~ dbt_sync.sql_value(sync_name) ~ '\norder by started_at desc') -}}
{%- endmacro %}
