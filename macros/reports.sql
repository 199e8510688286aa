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
