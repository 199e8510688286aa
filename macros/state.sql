{#- SQL the Python warehouse layer runs for dbt-sync runs: claiming a
    changeset, reading it page by page, committing confirmed records,
    recording failures and runs. Each macro RETURNS sql (a string or a list),
    is dispatched per adapter, and Python executes it in its own transaction.
    Values are Python values rendered here by dbt_sync.sql_value, except the
    key lists and their time (keys_sql, ids_sql, resolved_at_sql), rendered
    by dbt_sync.warehouse.literals with the same rules and spliced into a
    statement rendered once per sync. The batch writes' rows are never SQL
    text: they are bound, streamed (COPY) or appended (*_batch_sql). -#}


{#- Move the latest capture to the pending slot read by a run. When there is
    no new capture, the pending changeset is kept as it is. -#}
{% macro claim_sql(sync_name) -%}
  {{- return(adapter.dispatch('claim_sql', 'dbt_sync')(sync_name)) -}}
{%- endmacro %}
{% macro default__claim_sql(sync_name) -%}
  {%- set pending_name = dbt_sync.changes_table_name(sync_name, 'pending') -%}
  {{- return([
    'drop table if exists ' ~ dbt_sync.audit_relation(pending_name),
    'alter table ' ~ dbt_sync.audit_relation(dbt_sync.changes_table_name(sync_name, 'changes'))
      ~ ' rename to ' ~ dbt_sync.quote_identifier(pending_name)
  ]) -}}
{%- endmacro %}


{#- kind: which changeset table to read: 'pending' (claimed by a run) or
    'changes' (the latest capture, read in place by --dry-run). -#}
{% macro changeset_max_seq_sql(sync_name, kind='pending') -%}
  {{- return(adapter.dispatch('changeset_max_seq_sql', 'dbt_sync')(sync_name, kind)) -}}
{%- endmacro %}
{% macro default__changeset_max_seq_sql(sync_name, kind='pending') -%}
  {{- return('select max(_dbt_sync_seq) from '
             ~ dbt_sync.audit_relation(dbt_sync.changes_table_name(sync_name, kind))) -}}
{%- endmacro %}


{#- Rows per operation that are still to send (the same rows the pages
    return): what a run reports as its changes to send. -#}
{% macro changeset_counts_sql(sync_name, kind='pending') -%}
  {{- return(adapter.dispatch('changeset_counts_sql', 'dbt_sync')(sync_name, kind)) -}}
{%- endmacro %}
{% macro default__changeset_counts_sql(sync_name, kind='pending') -%}
  {{- return('select _dbt_sync_current_op, count(*) from ('
             ~ dbt_sync.changes_to_send_sql(sync_name, kind, '') ~ ') as to_send group by _dbt_sync_current_op') -}}
{%- endmacro %}


{#- One window of the pending changeset (_dbt_sync_seq in (after_seq,
    after_seq + page_size]; seq is dense, so a page never exceeds page_size
    rows, without relying on LIMIT), skipping rows already synced
    since the capture (see changes_to_send_sql). -#}
{% macro changes_page_sql(sync_name, after_seq, page_size, kind='pending') -%}
  {{- return(adapter.dispatch('changes_page_sql', 'dbt_sync')(sync_name, after_seq, page_size, kind)) -}}
{%- endmacro %}

{% macro default__changes_page_sql(sync_name, after_seq, page_size, kind='pending') -%}
  {%- set window -%}
  and p._dbt_sync_seq > {{ after_seq | int }}
  and p._dbt_sync_seq <= {{ (after_seq | int) + (page_size | int) }}
  {% endset -%}
  {{- return(dbt_sync.changes_to_send_sql(sync_name, kind, window) ~ '\norder by p._dbt_sync_seq') -}}
{%- endmacro %}


{#- The rows of a changeset still to send: those not already synced since
    the capture (same hash committed; delete whose state row is gone).
    _dbt_sync_current_op / _dbt_sync_current_destination_id reflect the
    state now, not at capture time. window_sql: extra conditions on p. -#}
{% macro changes_to_send_sql(sync_name, kind, window_sql) -%}
  {{- return(adapter.dispatch('changes_to_send_sql', 'dbt_sync')(sync_name, kind, window_sql)) -}}
{%- endmacro %}
{% macro default__changes_to_send_sql(sync_name, kind, window_sql) -%}
  {%- set sql -%}
select
    p.*,
    case
        when p._dbt_sync_op in ('insert', 'update') and s.record_key is not null then 'update'
        when p._dbt_sync_op in ('insert', 'update') then 'insert'
        else p._dbt_sync_op
    end as _dbt_sync_current_op,
    s.destination_id as _dbt_sync_current_destination_id
from {{ dbt_sync.audit_relation(dbt_sync.changes_table_name(sync_name, kind)) }} as p
left join {{ dbt_sync.audit_relation('dbt_sync_state') }} as s
    on s.sync_name = {{ dbt_sync.string_literal(sync_name) }} and s.record_key = p._dbt_sync_key
where not (p._dbt_sync_op in ('insert', 'update') and s.row_hash is not null and s.row_hash = p._dbt_sync_hash)
  and not (p._dbt_sync_op = 'delete' and s.record_key is null)
{{ window_sql }}
  {%- endset -%}
  {{- return(sql) -}}
{%- endmacro %}


{#- --dry-run of a sync whose model has no capture (built without the
    hook, or --recapture / --full-refresh): the changeset the capture would
    build, as a query; nothing is written. fresh: as --full-refresh sends
    it (every row again, by the ids the state keeps; deletes still computed). -#}
{% macro changeset_preview_select(model_unique_id, sync_name, fresh=false) -%}
  {%- set node = graph.nodes.get(model_unique_id) -%}
  {%- set relation = adapter.get_relation(node.database, node.schema, node.alias) if node is not none else none -%}
  {%- if relation is none -%}
    {{- exceptions.raise_compiler_error("dbt_sync: " ~ model_unique_id ~ " has not been built yet (dbt run)") -}}
  {%- endif -%}
  {%- set spec = (dbt_sync.sync_specs(node) | selectattr('name', 'equalto', sync_name) | list)[0] -%}
  {%- set types = dbt_sync.column_types(relation) -%}
  {{- return(dbt_sync.changeset_select(relation, dbt_sync.resolved_spec(relation, spec, types), types, fresh)) -}}
{%- endmacro %}

{#- One page of the preview, in the shape of changes_page_sql. -#}
{% macro changeset_preview_sql(model_unique_id, sync_name, after_seq, page_size, fresh=false) -%}
  {{- return(adapter.dispatch('changeset_preview_sql', 'dbt_sync')(model_unique_id, sync_name, after_seq, page_size, fresh)) -}}
{%- endmacro %}
{% macro default__changeset_preview_sql(model_unique_id, sync_name, after_seq, page_size, fresh=false) -%}
  {%- set sql -%}
select c.*, c._dbt_sync_op as _dbt_sync_current_op, c._dbt_sync_destination_id as _dbt_sync_current_destination_id
from ({{ dbt_sync.changeset_preview_select(model_unique_id, sync_name, fresh) }}) as c
where c._dbt_sync_seq > {{ after_seq | int }}
  and c._dbt_sync_seq <= {{ (after_seq | int) + (page_size | int) }}
order by c._dbt_sync_seq
  {%- endset -%}
  {{- return(sql) -}}
{%- endmacro %}

{#- Rows per operation of the preview, in the shape of changeset_counts_sql. -#}
{% macro changeset_preview_counts_sql(model_unique_id, sync_name, fresh=false) -%}
  {{- return(adapter.dispatch('changeset_preview_counts_sql', 'dbt_sync')(model_unique_id, sync_name, fresh)) -}}
{%- endmacro %}
{% macro default__changeset_preview_counts_sql(model_unique_id, sync_name, fresh=false) -%}
  {{- return('select _dbt_sync_op, count(*) from ('
             ~ dbt_sync.changeset_preview_select(model_unique_id, sync_name, fresh)
             ~ ') as c group by _dbt_sync_op') -}}
{%- endmacro %}


{#- Batch writes: the rows travel as data, never as SQL literals. Each
    *_batch_sql macro returns how one batch of rows reaches its table
    through the adapter's fastest path, as a mapping the warehouse layer
    (Warehouse._write_rows) follows:

      method   'copy'     COPY ... FROM STDIN (PostgreSQL, psycopg2's copy_expert): `load` is the COPY, the rows
                          a CSV stream;
               'appender' DuckDB's appender on the connection's cursor: `table`, `columns`, `action`
                          ('insert' or 'upsert' by the table's primary key); drivers without one use 'bind';
               'bind'     bound parameters, `rows` rows per execute: `load` ~ n x `row` (placeholders) ~ `suffix`
      setup    statements before the rows are loaded (a staging table)
      apply    statements after (from the staging table into the audit table)

    Values are text, integers or NULL; timestamps are UTC instants as
    'YYYY-MM-DD HH:MM:SS[.ffffff]+00:00' text, read as type_timestamp(). -#}

{#- Confirmed records into the state, one row per (sync_name, record_key) in
    a batch: columns sync_name, record_key, row_hash, destination_id, synced_at. -#}
{% macro state_upsert_batch_sql() -%}
  {{- return(adapter.dispatch('state_upsert_batch_sql', 'dbt_sync')()) -}}
{%- endmacro %}

{% macro state_columns() -%}
  {{- return(['sync_name', 'record_key', 'row_hash', 'destination_id', 'synced_at']) -}}
{%- endmacro %}

{#- ON CONFLICT ... DO UPDATE of the state's non-key columns (PostgreSQL, DuckDB). -#}
{% macro state_on_conflict_sql() -%}
  {{- return(adapter.dispatch('state_on_conflict_sql', 'dbt_sync')()) -}}
{%- endmacro %}
{% macro default__state_on_conflict_sql() -%}
  {{- return(' on conflict (sync_name, record_key) do update set row_hash = excluded.row_hash,'
      ~ ' destination_id = excluded.destination_id, synced_at = excluded.synced_at') -}}
{%- endmacro %}

{#- One row of placeholders for bound parameters: `marker` per column, timestamps cast. -#}
{% macro bind_row_placeholders(columns, timestamps, marker='%s') -%}
  {%- set cells = [] -%}
  {%- for column in columns -%}
    {%- do cells.append('cast(' ~ marker ~ ' as ' ~ dbt_sync.type_timestamp() ~ ')' if column in timestamps else marker) -%}
  {%- endfor -%}
  {{- return('(' ~ (cells | join(', ')) ~ ')') -}}
{%- endmacro %}

{#- Generic: bound multi-row INSERT ... ON CONFLICT (DB-API 'format' placeholders). -#}
{% macro default__state_upsert_batch_sql() -%}
  {%- set columns = dbt_sync.state_columns() -%}
  {{- return({
    'method': 'bind', 'rows': 1000, 'setup': [], 'apply': [],
    'load': 'insert into ' ~ dbt_sync.audit_relation('dbt_sync_state') ~ ' (' ~ (columns | join(', ')) ~ ') values ',
    'row': dbt_sync.bind_row_placeholders(columns, ['synced_at']),
    'suffix': dbt_sync.state_on_conflict_sql()
  }) -}}
{%- endmacro %}

{#- PostgreSQL: COPY into a session's staging table (emptied at each commit), then one upsert from it. -#}
{% macro postgres__state_upsert_batch_sql() -%}
  {%- set columns = dbt_sync.state_columns() | join(', ') -%}
  {%- set state = dbt_sync.audit_relation('dbt_sync_state') -%}
  {{- return({
    'method': 'copy',
    'setup': ['create temporary table if not exists dbt_sync_state_stage (like ' ~ state ~ ') on commit delete rows'],
    'load': 'copy dbt_sync_state_stage (' ~ columns ~ ') from stdin with (format csv)',
    'apply': ['insert into ' ~ state ~ ' (' ~ columns ~ ') select ' ~ columns ~ ' from dbt_sync_state_stage'
              ~ dbt_sync.state_on_conflict_sql()]
  }) -}}
{%- endmacro %}

{#- DuckDB: the appender upserts by the state's primary key; the bound statement where the driver has none. -#}
{% macro duckdb__state_upsert_batch_sql() -%}
  {%- set plan = dbt_sync.default__state_upsert_batch_sql() -%}
  {%- do plan.update({
    'method': 'appender', 'table': dbt_sync.audit_relation('dbt_sync_state') | string,
    'columns': dbt_sync.state_columns(), 'action': 'upsert',
    'row': dbt_sync.bind_row_placeholders(dbt_sync.state_columns(), ['synced_at'], marker='?')
  }) -%}
  {{- return(plan) -}}
{%- endmacro %}

{#- Redshift: no ON CONFLICT and no COPY from the client; bound rows into a
    staging table, then DELETE ... USING and INSERT. At most 32,767 bound
    parameters per statement (redshift_connector). -#}
{% macro redshift__state_upsert_batch_sql() -%}
  {%- set state = dbt_sync.audit_relation('dbt_sync_state') -%}
  {%- set columns = dbt_sync.state_columns() -%}
  {{- return({
    'method': 'bind', 'rows': 1000,
    'setup': ['create temp table dbt_sync_state_stage (like ' ~ state ~ ')'],
    'load': 'insert into dbt_sync_state_stage (' ~ (columns | join(', ')) ~ ') values ',
    'row': dbt_sync.bind_row_placeholders(columns, ['synced_at']),
    'suffix': '',
    'apply': [
      'delete from ' ~ state ~ ' using dbt_sync_state_stage'
        ~ ' where ' ~ state ~ '.sync_name = dbt_sync_state_stage.sync_name'
        ~ ' and ' ~ state ~ '.record_key = dbt_sync_state_stage.record_key',
      'insert into ' ~ state ~ ' (' ~ (columns | join(', ')) ~ ')'
        ~ ' select ' ~ (columns | join(', ')) ~ ' from dbt_sync_state_stage',
      'drop table dbt_sync_state_stage'
    ]
  }) -}}
{%- endmacro %}


{% macro state_delete_sql(sync_name, keys_sql) -%}
  {{- return(adapter.dispatch('state_delete_sql', 'dbt_sync')(sync_name, keys_sql)) -}}
{%- endmacro %}
{% macro default__state_delete_sql(sync_name, keys_sql) -%}
  {%- set sync_name_sql = dbt_sync.sql_value(sync_name) -%}
  {{- return('delete from ' ~ dbt_sync.audit_relation('dbt_sync_state') ~ ' where sync_name = '
             ~ sync_name_sql ~ ' and record_key in (' ~ keys_sql ~ ')') -}}
{%- endmacro %}


{#- Records about to be sent again whose outcome a crash could leave unknown:
    their confirmed hash is forgotten (the destination id stays), so the next
    capture includes them whatever the model says, until a commit confirms
    them. -#}
{% macro state_unsettle_sql(sync_name, keys_sql) -%}
  {{- return(adapter.dispatch('state_unsettle_sql', 'dbt_sync')(sync_name, keys_sql)) -}}
{%- endmacro %}
{% macro default__state_unsettle_sql(sync_name, keys_sql) -%}
  {%- set sync_name_sql = dbt_sync.sql_value(sync_name) -%}
  {{- return('update ' ~ dbt_sync.audit_relation('dbt_sync_state') ~ ' set row_hash = null where sync_name = '
             ~ sync_name_sql ~ ' and record_key in (' ~ keys_sql ~ ')') -}}
{%- endmacro %}


{#- Which record keys of a sync hold the given destination ids. -#}
{% macro state_holders_sql(sync_name, ids_sql) -%}
  {{- return(adapter.dispatch('state_holders_sql', 'dbt_sync')(sync_name, ids_sql)) -}}
{%- endmacro %}
{% macro default__state_holders_sql(sync_name, ids_sql) -%}
  {%- set sync_name_sql = dbt_sync.sql_value(sync_name) -%}
  {{- return('select record_key, destination_id from ' ~ dbt_sync.audit_relation('dbt_sync_state')
             ~ ' where sync_name = ' ~ sync_name_sql ~ ' and destination_id in (' ~ ids_sql ~ ')') -}}
{%- endmacro %}


{#- Close the failures of records that need no more attempts (their row left
    the model, or the mirror deleted their record). -#}
{% macro failures_resolve_sql(sync_name, keys_sql, resolved_at_sql) -%}
  {{- return(adapter.dispatch('failures_resolve_sql', 'dbt_sync')(sync_name, keys_sql, resolved_at_sql)) -}}
{%- endmacro %}
{% macro default__failures_resolve_sql(sync_name, keys_sql, resolved_at_sql) -%}
  {%- set sync_name_sql = dbt_sync.sql_value(sync_name) -%}
  {{- return('update ' ~ dbt_sync.audit_relation('dbt_sync_failures') ~ ' set resolved_at = ' ~ resolved_at_sql
             ~ ' where sync_name = ' ~ sync_name_sql ~ ' and record_key in (' ~ keys_sql ~ ')'
             ~ ' and resolved_at is null') -}}
{%- endmacro %}


{#- Latest failure of each given key and the state's synced_at, to carry
    attempt and first_failed_at over consecutive failures. -#}
{% macro previous_failures_sql(sync_name, keys_sql) -%}
  {{- return(adapter.dispatch('previous_failures_sql', 'dbt_sync')(sync_name, keys_sql)) -}}
{%- endmacro %}
{% macro default__previous_failures_sql(sync_name, keys_sql) -%}
  {%- set sync_name_sql = dbt_sync.sql_value(sync_name) -%}
  {%- set sql -%}
select f.record_key, f.attempt, f.first_failed_at, f.failed_at, s.synced_at
from (
    select record_key, attempt, first_failed_at, failed_at,
           row_number() over (partition by record_key order by failed_at desc, attempt desc) as latest_rank
    from {{ dbt_sync.audit_relation('dbt_sync_failures') }}
    where sync_name = {{ sync_name_sql }} and record_key in ({{ keys_sql }})
) as f
left join {{ dbt_sync.audit_relation('dbt_sync_state') }} as s
    on s.sync_name = {{ sync_name_sql }} and s.record_key = f.record_key
where f.latest_rank = 1
  {%- endset -%}
  {{- return(sql) -}}
{%- endmacro %}


{#- Generic multi-row insert into one audit table. -#}
{% macro insert_sql(table, columns, rows_sql) -%}
  {{- return(adapter.dispatch('insert_sql', 'dbt_sync')(table, columns, rows_sql)) -}}
{%- endmacro %}
{% macro default__insert_sql(table, columns, rows_sql) -%}
  {{- return('insert into ' ~ dbt_sync.audit_relation(table) ~ ' (' ~ (columns | join(', '))
             ~ ') values ' ~ rows_sql) -}}
{%- endmacro %}


{#- Failed records into dbt_sync_failures (see state_upsert_batch_sql for the shape). -#}
{% macro failures_insert_batch_sql() -%}
  {{- return(adapter.dispatch('failures_insert_batch_sql', 'dbt_sync')()) -}}
{%- endmacro %}

{% macro failure_columns() -%}
  {{- return(['run_id', 'sync_name', 'record_key', 'operation', 'error_code', 'error_message',
              'error_fields', 'payload', 'attempt', 'first_failed_at', 'failed_at']) -}}
{%- endmacro %}

{% macro default__failures_insert_batch_sql() -%}
  {%- set columns = dbt_sync.failure_columns() -%}
  {{- return({
    'method': 'bind', 'rows': 1000, 'setup': [], 'apply': [], 'suffix': '',
    'load': 'insert into ' ~ dbt_sync.audit_relation('dbt_sync_failures') ~ ' (' ~ (columns | join(', '))
            ~ ') values ',
    'row': dbt_sync.bind_row_placeholders(columns, ['first_failed_at', 'failed_at'])
  }) -}}
{%- endmacro %}

{% macro postgres__failures_insert_batch_sql() -%}
  {{- return({
    'method': 'copy', 'setup': [], 'apply': [],
    'load': 'copy ' ~ dbt_sync.audit_relation('dbt_sync_failures') ~ ' (' ~ (dbt_sync.failure_columns() | join(', '))
            ~ ') from stdin with (format csv)'
  }) -}}
{%- endmacro %}

{% macro duckdb__failures_insert_batch_sql() -%}
  {%- set plan = dbt_sync.default__failures_insert_batch_sql() -%}
  {%- do plan.update({
    'method': 'appender', 'table': dbt_sync.audit_relation('dbt_sync_failures') | string,
    'columns': dbt_sync.failure_columns(), 'action': 'insert',
    'row': dbt_sync.bind_row_placeholders(dbt_sync.failure_columns(), ['first_failed_at', 'failed_at'], marker='?')
  }) -%}
  {{- return(plan) -}}
{%- endmacro %}

{#- Redshift: the generic bound INSERT (32,767 parameters per statement at most). -#}
{% macro redshift__failures_insert_batch_sql() -%}
  {%- set plan = dbt_sync.default__failures_insert_batch_sql() -%}
  {%- do plan.update({'rows': 1000}) -%}
  {{- return(plan) -}}
{%- endmacro %}


{#- Generic update of one audit table; assignments and where are SQL. -#}
{% macro update_sql(table, assignments, where) -%}
  {{- return(adapter.dispatch('update_sql', 'dbt_sync')(table, assignments, where)) -}}
{%- endmacro %}
{% macro default__update_sql(table, assignments, where) -%}
  {%- set sets = [] -%}
  {%- for column in assignments -%}{%- do sets.append(column ~ ' = ' ~ assignments[column]) -%}{%- endfor -%}
  {{- return('update ' ~ dbt_sync.audit_relation(table) ~ ' set ' ~ (sets | join(', ')) ~ ' where ' ~ where) -}}
{%- endmacro %}


{#- --full-refresh: every record is sent again, but which CRM record each key
    is stays known (so updates go to the same record and mirror deletes are
    still computed). The sync's changesets are dropped. -#}
{% macro full_refresh_sql(sync_name) -%}
  {{- return(adapter.dispatch('full_refresh_sql', 'dbt_sync')(sync_name)) -}}
{%- endmacro %}
{% macro default__full_refresh_sql(sync_name) -%}
  {%- set sync_name_sql = dbt_sync.sql_value(sync_name) -%}
  {{- return([
    'update ' ~ dbt_sync.audit_relation('dbt_sync_state') ~ ' set row_hash = null where sync_name = ' ~ sync_name_sql,
    'drop table if exists ' ~ dbt_sync.audit_relation(dbt_sync.changes_table_name(sync_name, 'changes')),
    'drop table if exists ' ~ dbt_sync.audit_relation(dbt_sync.changes_table_name(sync_name, 'pending')),
    'drop table if exists ' ~ dbt_sync.audit_relation(dbt_sync.changes_table_name(sync_name, 'new'))
  ]) -}}
{%- endmacro %}


{#- Forget one sync: its state and changesets (audit history stays). -#}
{% macro reset_sql(sync_name) -%}
  {{- return(adapter.dispatch('reset_sql', 'dbt_sync')(sync_name)) -}}
{%- endmacro %}
{% macro default__reset_sql(sync_name) -%}
  {%- set sync_name_sql = dbt_sync.sql_value(sync_name) -%}
  {{- return([
    'delete from ' ~ dbt_sync.audit_relation('dbt_sync_state') ~ ' where sync_name = ' ~ sync_name_sql,
    'drop table if exists ' ~ dbt_sync.audit_relation(dbt_sync.changes_table_name(sync_name, 'changes')),
    'drop table if exists ' ~ dbt_sync.audit_relation(dbt_sync.changes_table_name(sync_name, 'pending')),
    'drop table if exists ' ~ dbt_sync.audit_relation(dbt_sync.changes_table_name(sync_name, 'new'))
  ]) -}}
{%- endmacro %}


{#- The statements below take Python values, rendered by dbt_sync.sql_value. -#}

{#- Records a sync has written and not deleted (one column, n): the delete
    guard's denominator. -#}
{% macro state_count_sql(sync_name) -%}
  {{- return(adapter.dispatch('state_count_sql', 'dbt_sync')(sync_name)) -}}
{%- endmacro %}
{% macro default__state_count_sql(sync_name) -%}
  {{- return('select count(*) as n from ' ~ dbt_sync.audit_relation('dbt_sync_state')
             ~ ' where sync_name = ' ~ dbt_sync.sql_value(sync_name)) -}}
{%- endmacro %}

{#- (record_key, destination_id) of the given keys of a sync. -#}
{% macro state_destination_ids_sql(sync_name, keys) -%}
  {{- return(adapter.dispatch('state_destination_ids_sql', 'dbt_sync')(sync_name, keys)) -}}
{%- endmacro %}
{% macro default__state_destination_ids_sql(sync_name, keys) -%}
  {{- return('select record_key, destination_id from ' ~ dbt_sync.audit_relation('dbt_sync_state')
             ~ ' where sync_name = ' ~ dbt_sync.sql_value(sync_name)
             ~ ' and record_key in (' ~ dbt_sync.sql_values(keys) ~ ')') -}}
{%- endmacro %}

{#- Syncs with open failures (sync_name): planned even when their model was
    not rebuilt. -#}
{% macro open_failure_syncs_sql() -%}
  {{- return(adapter.dispatch('open_failure_syncs_sql', 'dbt_sync')()) -}}
{%- endmacro %}
{% macro default__open_failure_syncs_sql() -%}
  {{- return('select distinct sync_name from ' ~ dbt_sync.audit_relation('dbt_sync_open_failures')) -}}
{%- endmacro %}

{#- The tables in the audit schema (table_name). -#}
{% macro audit_table_names_sql() -%}
  {{- return(adapter.dispatch('audit_table_names_sql', 'dbt_sync')()) -}}
{%- endmacro %}
{% macro default__audit_table_names_sql() -%}
  {{- return('select table_name from information_schema.tables where table_schema = '
             ~ dbt_sync.sql_value(dbt_sync.audit_schema())) -}}
{%- endmacro %}

{#- run_id of the 'running' rows other runs than run_id left for a sync. -#}
{% macro running_runs_sql(sync_name, run_id) -%}
  {{- return(adapter.dispatch('running_runs_sql', 'dbt_sync')(sync_name, run_id)) -}}
{%- endmacro %}
{% macro default__running_runs_sql(sync_name, run_id) -%}
  {{- return('select run_id from ' ~ dbt_sync.audit_relation('dbt_sync_runs')
             ~ ' where ' ~ dbt_sync.runs_left_running_condition(sync_name, run_id)) -}}
{%- endmacro %}

{#- Close those rows as 'abandoned' (finished_at: naive UTC). -#}
{% macro abandon_runs_sql(sync_name, run_id, finished_at, message) -%}
  {{- return(adapter.dispatch('abandon_runs_sql', 'dbt_sync')(sync_name, run_id, finished_at, message)) -}}
{%- endmacro %}
{% macro default__abandon_runs_sql(sync_name, run_id, finished_at, message) -%}
  {{- return(dbt_sync.update_sql('dbt_sync_runs',
        {'status': dbt_sync.sql_value('abandoned'), 'finished_at': dbt_sync.sql_value(finished_at),
         'error_message': dbt_sync.sql_value(message)},
        dbt_sync.runs_left_running_condition(sync_name, run_id))) -}}
{%- endmacro %}

{% macro runs_left_running_condition(sync_name, run_id) -%}
  {{- return('sync_name = ' ~ dbt_sync.sql_value(sync_name) ~ " and status = 'running' and run_id <> "
             ~ dbt_sync.sql_value(run_id)) -}}
{%- endmacro %}

{#- The failures one run recorded for one sync (record_key, error_code,
    error_message, payload), in key order: what a results file points at. -#}
{% macro run_failures_sql(sync_name, run_id) -%}
  {{- return(adapter.dispatch('run_failures_sql', 'dbt_sync')(sync_name, run_id)) -}}
{%- endmacro %}
{% macro default__run_failures_sql(sync_name, run_id) -%}
  {{- return('select record_key, error_code, error_message, payload from ' ~ dbt_sync.audit_relation('dbt_sync_failures')
             ~ ' where run_id = ' ~ dbt_sync.sql_value(run_id) ~ ' and sync_name = ' ~ dbt_sync.sql_value(sync_name)
             ~ ' order by record_key') -}}
{%- endmacro %}

{#- Insert the 'running' row of one sync's run. run: column -> value, the
    columns given (the others stay null or their default). -#}
{% macro run_start_sql(run) -%}
  {{- return(adapter.dispatch('run_start_sql', 'dbt_sync')(run)) -}}
{%- endmacro %}
{% macro default__run_start_sql(run) -%}
  {%- set columns = run.keys() | list -%}
  {%- set values = [] -%}
  {%- for column in columns -%}{%- do values.append(run[column]) -%}{%- endfor -%}
  {{- return(dbt_sync.insert_sql('dbt_sync_runs', columns, '(' ~ dbt_sync.sql_values(values) ~ ')')) -}}
{%- endmacro %}

{#- Close one sync's run row. assignments: column -> value. -#}
{% macro run_finish_sql(run_id, sync_name, assignments) -%}
  {{- return(adapter.dispatch('run_finish_sql', 'dbt_sync')(run_id, sync_name, assignments)) -}}
{%- endmacro %}
{% macro default__run_finish_sql(run_id, sync_name, assignments) -%}
  {%- set sets = {} -%}
  {%- for column in assignments -%}{%- do sets.update({column: dbt_sync.sql_value(assignments[column])}) -%}{%- endfor -%}
  {{- return(dbt_sync.update_sql('dbt_sync_runs', sets,
        'run_id = ' ~ dbt_sync.sql_value(run_id) ~ ' and sync_name = ' ~ dbt_sync.sql_value(sync_name))) -}}
{%- endmacro %}
