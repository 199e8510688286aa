{#- Audit tables: DDL per adapter, versioned migrations, and the idempotent
    migrate step run by on-run-start, by the capture hook when the tables are
    missing, and by Python's Warehouse.ensure_tables(). -#}

{% macro schema_version() %}{{ return(3) }}{% endmacro %}

{% macro type_text() %}{{ return(adapter.dispatch('type_text', 'dbt_sync')()) }}{% endmacro %}
{% macro default__type_text() %}{{ return('text') }}{% endmacro %}
{% macro duckdb__type_text() %}{{ return('varchar') }}{% endmacro %}
{% macro redshift__type_text() %}{{ return('varchar(65535)') }}{% endmacro %}

{#- Every timestamp dbt-sync stores is an instant (with time zone), so
    queries comparing it with current_timestamp are right whatever the
    session's time zone (PGTZ, DuckDB's TimeZone). -#}
{% macro type_timestamp() %}{{ return(adapter.dispatch('type_timestamp', 'dbt_sync')()) }}{% endmacro %}
{% macro default__type_timestamp() %}{{ return('timestamp with time zone') }}{% endmacro %}
{% macro redshift__type_timestamp() %}{{ return('timestamptz') }}{% endmacro %}

{#- A UTC instant as a literal of type_timestamp(); iso: 'YYYY-MM-DD HH:MM:SS[.ffffff]' in UTC. -#}
{% macro utc_timestamp_literal(iso) -%}
  {{- return("cast('" ~ iso ~ "+00:00' as " ~ dbt_sync.type_timestamp() ~ ")") -}}
{%- endmacro %}

{#- Short identifiers (sync names, keys, ids, statuses). -#}
{% macro type_name() %}{{ return(adapter.dispatch('type_name', 'dbt_sync')()) }}{% endmacro %}
{% macro default__type_name() %}{{ return(dbt_sync.type_text()) }}{% endmacro %}
{% macro redshift__type_name() %}{{ return('varchar(1024)') }}{% endmacro %}

{#- (sync_name, record_key) is unique: enforced by the database where it can
    be, and always by the write path (dbt_sync.state_upsert_batch_sql). Redshift
    does not enforce key constraints, so none is declared there. -#}
{% macro state_key_constraint() %}{{ return(adapter.dispatch('state_key_constraint', 'dbt_sync')()) }}{% endmacro %}
{% macro default__state_key_constraint() %}{{ return(', primary key (sync_name, record_key)') }}{% endmacro %}
{% macro redshift__state_key_constraint() %}{{ return('') }}{% endmacro %}


{#- Statements run before the version table exists (no lock can be taken on
    it yet). Safe to run twice. -#}
{% macro bootstrap_sql() -%}
  {{- return(adapter.dispatch('bootstrap_sql', 'dbt_sync')()) -}}
{%- endmacro %}
{% macro default__bootstrap_sql() -%}
  {#- the schema rendered as the audit relations render it (dbt's relation quoting) -#}
  {%- set schema = dbt_sync.audit_relation('dbt_sync_schema_version').without_identifier().include(database=false) -%}
  {{- return([
    'create schema if not exists ' ~ schema,
    'create table if not exists ' ~ dbt_sync.audit_relation('dbt_sync_schema_version')
      ~ ' (version integer, applied_at ' ~ dbt_sync.type_timestamp() ~ ')'
  ]) -}}
{%- endmacro %}


{#- Serialize concurrent migrations. PostgreSQL: a transaction-scoped
    advisory lock taken before bootstrap; Redshift: an exclusive table lock
    on the version table after bootstrap; DuckDB has a single writer. -#}
{% macro migration_lock_sql(phase) %}{{ return(adapter.dispatch('migration_lock_sql', 'dbt_sync')(phase)) }}{% endmacro %}
{% macro default__migration_lock_sql(phase) %}{{ return([]) }}{% endmacro %}
{% macro postgres__migration_lock_sql(phase) -%}
  {%- if phase == 'before_bootstrap' -%}
    {{- return(["select pg_advisory_xact_lock(7220412301)"]) -}}
  {%- endif -%}
  {{- return([]) -}}
{%- endmacro %}
{% macro redshift__migration_lock_sql(phase) -%}
  {%- if phase == 'after_bootstrap' -%}
    {{- return(['lock ' ~ dbt_sync.audit_relation('dbt_sync_schema_version')]) -}}
  {%- endif -%}
  {{- return([]) -}}
{%- endmacro %}


{#- Migration statements by version. Every statement is idempotent, so a
    migration interrupted half-way is simply run again. -#}
{% macro migration_sql(version) -%}
  {{- return(adapter.dispatch('migration_sql', 'dbt_sync')(version)) -}}
{%- endmacro %}

{% macro default__migration_sql(version) -%}
  {%- set text = dbt_sync.type_text() -%}
  {%- set name = dbt_sync.type_name() -%}
  {%- set state = dbt_sync.audit_relation('dbt_sync_state') -%}
  {%- set failures = dbt_sync.audit_relation('dbt_sync_failures') -%}
  {%- set ts = dbt_sync.type_timestamp() -%}
  {%- if version == 1 -%}
    {{- return([
      'create table if not exists ' ~ state ~ ' (sync_name ' ~ name ~ ' not null, record_key ' ~ name
        ~ ' not null, row_hash varchar(32), destination_id ' ~ name ~ ', synced_at ' ~ ts
        ~ dbt_sync.state_key_constraint() ~ ')',
      'create table if not exists ' ~ dbt_sync.audit_relation('dbt_sync_runs') ~ ' (run_id ' ~ name
        ~ ', invocation_id ' ~ name ~ ', sync_name ' ~ name ~ ', model ' ~ name ~ ', destination ' ~ name
        ~ ', object ' ~ name ~ ', mode ' ~ name ~ ', status ' ~ name
        ~ ', started_at ' ~ ts ~ ', finished_at ' ~ ts ~ ', planned bigint, created bigint, updated bigint'
        ~ ', deleted bigint, failed bigint, skipped bigint, error_message ' ~ text ~ ')',
      'create table if not exists ' ~ failures ~ ' (run_id ' ~ name ~ ', sync_name ' ~ name
        ~ ', record_key ' ~ name ~ ', operation ' ~ name ~ ', error_code ' ~ name
        ~ ', error_message ' ~ text ~ ', error_fields ' ~ text ~ ', payload ' ~ text
        ~ ', attempt integer, first_failed_at ' ~ ts ~ ', failed_at ' ~ ts ~ ')',
      'create table if not exists ' ~ dbt_sync.audit_relation('dbt_sync_locks') ~ ' (sync_name ' ~ name
        ~ ', holder ' ~ name ~ ', acquired_at ' ~ ts ~ ', heartbeat_at ' ~ ts ~ ')',
      dbt_sync.open_failures_view_sql(resolved=false)
    ]) -}}
  {%- elif version == 2 -%}
    {#- version 1 stored naive UTC timestamps: make them instants, read as UTC -#}
    {{- return(['drop view if exists ' ~ dbt_sync.audit_relation('dbt_sync_open_failures')]
               + dbt_sync.utc_timestamp_columns_sql(dbt_sync.audit_timestamp_columns())
               + [dbt_sync.open_failures_view_sql(resolved=false)]) -}}
  {%- elif version == 3 -%}
    {#- resolved_at: a failure closed without a new state row (its row left the
        model, or the mirror deleted its record after it had been fixed) -#}
    {{- return([
      'alter table ' ~ failures ~ ' add column if not exists resolved_at ' ~ ts,
      dbt_sync.open_failures_view_sql()
    ]) -}}
  {%- endif -%}
  {{- return([]) -}}
{%- endmacro %}

{#- Redshift has no ADD COLUMN IF NOT EXISTS; a migration runs once, under the
    version table's lock. -#}
{% macro redshift__migration_sql(version) -%}
  {%- if version == 3 -%}
    {{- return([
      'alter table ' ~ dbt_sync.audit_relation('dbt_sync_failures') ~ ' add column resolved_at '
        ~ dbt_sync.type_timestamp(),
      dbt_sync.open_failures_view_sql()
    ]) -}}
  {%- endif -%}
  {{- return(dbt_sync.default__migration_sql(version)) -}}
{%- endmacro %}


{#- (table, column) of every timestamp in the audit tables. -#}
{% macro audit_timestamp_columns() -%}
  {{- return([
    ('dbt_sync_schema_version', 'applied_at'), ('dbt_sync_state', 'synced_at'),
    ('dbt_sync_runs', 'started_at'), ('dbt_sync_runs', 'finished_at'),
    ('dbt_sync_failures', 'first_failed_at'), ('dbt_sync_failures', 'failed_at'),
    ('dbt_sync_locks', 'acquired_at'), ('dbt_sync_locks', 'heartbeat_at'),
    ('dbt_sync_inflight', 'sent_at')
  ]) -}}
{%- endmacro %}


{#- Statements turning those of ``columns`` (a list of (table, column)) that
    are still naive timestamps into timestamps with time zone, reading the
    stored values as UTC. Columns already converted (or tables not created)
    yield nothing, so running it again is harmless. -#}
{% macro utc_timestamp_columns_sql(columns) -%}
  {{- return(adapter.dispatch('utc_timestamp_columns_sql', 'dbt_sync')(columns)) -}}
{%- endmacro %}
{% macro default__utc_timestamp_columns_sql(columns) -%}
  {%- set wanted = [] -%}
  {%- for table, column in columns -%}
    {%- do wanted.append("(lower(table_name) = " ~ dbt_sync.string_literal(table) ~ " and lower(column_name) = "
                         ~ dbt_sync.string_literal(column) ~ ")") -%}
  {%- endfor -%}
  {%- set found = run_query(
      "select lower(table_name), lower(column_name) from information_schema.columns"
      ~ " where lower(table_schema) = " ~ dbt_sync.string_literal(dbt_sync.audit_schema() | lower)
      ~ " and lower(data_type) in ('timestamp', 'timestamp without time zone')"
      ~ " and (" ~ (wanted | join(' or ')) ~ ")") -%}
  {%- set statements = [] -%}
  {%- for row in found.rows -%}
    {%- do statements.extend(dbt_sync.timestamp_to_utc_sql(dbt_sync.audit_relation(row[0]), row[1])) -%}
  {%- endfor -%}
  {{- return(statements) -}}
{%- endmacro %}

{% macro timestamp_to_utc_sql(relation, column) -%}
  {{- return(adapter.dispatch('timestamp_to_utc_sql', 'dbt_sync')(relation, column)) -}}
{%- endmacro %}
{% macro default__timestamp_to_utc_sql(relation, column) -%}
  {{- return(['alter table ' ~ relation ~ ' alter column ' ~ column ~ ' type ' ~ dbt_sync.type_timestamp()
              ~ ' using ' ~ column ~ " at time zone 'UTC'"]) -}}
{%- endmacro %}
{% macro duckdb__timestamp_to_utc_sql(relation, column) -%}
  {{- return(['alter table ' ~ relation ~ ' alter ' ~ column ~ ' type ' ~ dbt_sync.type_timestamp()
              ~ " using timezone('UTC', " ~ column ~ ")"]) -}}
{%- endmacro %}
{#- Redshift changes a column's type only for varchar: copy into a new column. -#}
{% macro redshift__timestamp_to_utc_sql(relation, column) -%}
  {{- return([
    'alter table ' ~ relation ~ ' add column ' ~ column ~ '__utc ' ~ dbt_sync.type_timestamp(),
    'update ' ~ relation ~ ' set ' ~ column ~ '__utc = ' ~ column ~ " at time zone 'UTC'",
    'alter table ' ~ relation ~ ' drop column ' ~ column,
    'alter table ' ~ relation ~ ' rename column ' ~ column ~ '__utc to ' ~ column
  ]) -}}
{%- endmacro %}


{#- Records whose latest attempt failed and that have not succeeded since:
    for writes, no state row confirmed after the failure; for deletes, the
    state row is still there (a successful delete removes it); and in both
    cases not closed since (resolved_at, schema version 3: the row left the
    model, or its record was deleted by the mirror). -#}
{% macro open_failures_view_sql(resolved=true) -%}
  {{- return(adapter.dispatch('open_failures_view_sql', 'dbt_sync')(resolved)) -}}
{%- endmacro %}
{% macro default__open_failures_view_sql(resolved=true) -%}
  {%- set state = dbt_sync.audit_relation('dbt_sync_state').include(database=false) -%}
  {%- set failures = dbt_sync.audit_relation('dbt_sync_failures').include(database=false) -%}
  {%- set sql -%}
create or replace view {{ dbt_sync.audit_relation('dbt_sync_open_failures') }} as
with latest as (
    select
        f.*,
        row_number() over (
            partition by f.sync_name, f.record_key
            order by f.failed_at desc, f.attempt desc
        ) as latest_rank
    from {{ failures }} as f
)
select
    l.run_id, l.sync_name, l.record_key, l.operation, l.error_code, l.error_message,
    l.error_fields, l.payload, l.attempt, l.first_failed_at, l.failed_at
from latest as l
left join {{ state }} as s
    on s.sync_name = l.sync_name and s.record_key = l.record_key
where l.latest_rank = 1
  {%- if resolved %}
  and l.resolved_at is null
  {%- endif %}
  and (
    (l.operation = 'delete' and s.record_key is not null)
    or (coalesce(l.operation, '') <> 'delete' and (s.synced_at is null or s.synced_at < l.failed_at))
  )
  {%- endset -%}
  {{- return(sql) -}}
{%- endmacro %}


{% macro _run_sql(sql) -%}
  {%- call statement('dbt_sync_migrate', fetch_result=false, auto_begin=true) -%}{{ sql }}{%- endcall -%}
{%- endmacro %}


{#- Create or migrate the audit tables. With commit=true (on-run-start,
    Python) the migration is its own transaction; in a model hook it joins the
    model's transaction. Renders to nothing. -#}
{% macro ensure_audit_tables(commit=true) -%}
  {%- if not execute -%}{{ return('') }}{%- endif -%}
  {%- for sql in dbt_sync.migration_lock_sql('before_bootstrap') + dbt_sync.bootstrap_sql()
                 + dbt_sync.migration_lock_sql('after_bootstrap') -%}
    {%- do dbt_sync._run_sql(sql) -%}
  {%- endfor -%}
  {%- set version_table = dbt_sync.audit_relation('dbt_sync_schema_version') -%}
  {%- set current = run_query('select max(version) from ' ~ version_table).columns[0].values()[0] or 0 -%}
  {%- for version in range((current | int) + 1, dbt_sync.schema_version() + 1) -%}
    {%- for sql in dbt_sync.migration_sql(version) -%}
      {%- do dbt_sync._run_sql(sql) -%}
    {%- endfor -%}
    {%- do dbt_sync._run_sql('insert into ' ~ version_table ~ ' (version, applied_at) values ('
                             ~ version ~ ', ' ~ dbt_sync.utc_timestamp_literal(
                                 modules.datetime.datetime.utcnow().isoformat(sep=' ')) ~ ')') -%}
  {%- endfor -%}
  {%- if commit -%}{%- do adapter.commit() -%}{%- endif -%}
  {{- return('') -}}
{%- endmacro %}
