{#- Change capture. For each enabled sync of a model, build inside the
    warehouse the changeset against the last confirmed state:
    <audit_schema>.dbt_sync_changes__<sync> with _dbt_sync_seq, _dbt_sync_key,
    _dbt_sync_hash, _dbt_sync_op, _dbt_sync_destination_id and the sent
    columns. Built under a temporary name and swapped in, so a reader never
    sees half a changeset. -#}


{#- Post-hook: {{ dbt_sync.capture() }}. Runs inside the model's transaction;
    renders to nothing (a no-op) on models without dbt_sync meta. -#}
{% macro capture() -%}
  {%- if not execute or model is not defined or model is none -%}{{ return('') }}{%- endif -%}
  {%- set specs = dbt_sync.sync_specs(model) -%}
  {%- if specs | length == 0 -%}{{ return('') }}{%- endif -%}
  {%- set state = dbt_sync.audit_relation('dbt_sync_state') -%}
  {%- if adapter.get_relation(state.database, state.schema, state.identifier) is none -%}
    {%- do dbt_sync.ensure_audit_tables(commit=false) -%}
  {%- endif -%}
  {%- for sql in dbt_sync.capture_sql(this, specs) -%}
    {%- call statement('dbt_sync_capture', fetch_result=false, auto_begin=true) -%}{{ sql }}{%- endcall -%}
  {%- endfor -%}
  {{- return('') -}}
{%- endmacro %}


{#- The same capture for a model built without the hook: looks the node up
    in the graph. Returns the statements; Python runs them in a transaction. -#}
{% macro capture_model_sql(model_unique_id) -%}
  {{- return(adapter.dispatch('capture_model_sql', 'dbt_sync')(model_unique_id)) -}}
{%- endmacro %}
{% macro default__capture_model_sql(model_unique_id) -%}
  {%- set node = graph.nodes.get(model_unique_id) -%}
  {%- if node is none -%}
    {{- exceptions.raise_compiler_error("dbt_sync: no model " ~ model_unique_id ~ " in this project") -}}
  {%- endif -%}
  {%- set relation = adapter.get_relation(node.database, node.schema, node.alias) -%}
  {%- if relation is none -%}
    {{- exceptions.raise_compiler_error("dbt_sync: " ~ model_unique_id ~ " has not been built yet (dbt run)") -}}
  {%- endif -%}
  {{- return(dbt_sync.capture_sql(relation, dbt_sync.sync_specs(node))) -}}
{%- endmacro %}


{#- run-operation entry point: dbt run-operation dbt_sync.capture_model --args '{model_unique_id: ...}' -#}
{% macro capture_model(model_unique_id) -%}
  {%- do dbt_sync.ensure_audit_tables(commit=true) -%}
  {%- for sql in dbt_sync.capture_model_sql(model_unique_id) -%}
    {%- call statement('dbt_sync_capture', fetch_result=false, auto_begin=true) -%}{{ sql }}{%- endcall -%}
  {%- endfor -%}
  {%- do adapter.commit() -%}
{%- endmacro %}


{#- The built relation's columns: column name exactly as the warehouse
    stores it -> lowercased type name (for the deterministic text casts), in
    the relation's column order. Redshift's own macro needs
    pg_get_late_binding_view_cols, so it reads information_schema instead. -#}
{% macro column_types(relation) -%}
  {{- return(adapter.dispatch('column_types', 'dbt_sync')(relation)) -}}
{%- endmacro %}

{% macro default__column_types(relation) -%}
  {%- set types = {} -%}
  {%- for column in adapter.get_columns_in_relation(relation) -%}
    {%- do types.update({column.name: column.dtype | lower}) -%}
  {%- endfor -%}
  {{- return(types) -}}
{%- endmacro %}

{% macro redshift__column_types(relation) -%}
  {%- set types = {} -%}
  {%- set rows = run_query("select column_name, data_type from information_schema.columns where table_schema = "
      ~ dbt_sync.string_literal(relation.schema) ~ " and table_name = " ~ dbt_sync.string_literal(relation.identifier)
      ~ " order by ordinal_position") -%}
  {%- for row in rows -%}
    {%- do types.update({row[0]: row[1] | lower}) -%}
  {%- endfor -%}
  {{- return(types) -}}
{%- endmacro %}


{#- The relation column a sync's column name refers to, as the warehouse
    would resolve it, or none. columns: the relation's column names.
    PostgreSQL and Redshift: the name as written, else its lower-case form
    (an unquoted identifier folds to lower case; real Redshift also folds
    quoted ones). DuckDB: identifiers are case-insensitive, so any one column
    equal ignoring case. -#}
{% macro resolve_column(name, columns) -%}
  {{- return(adapter.dispatch('resolve_column', 'dbt_sync')(name, columns)) -}}
{%- endmacro %}

{% macro default__resolve_column(name, columns) -%}
  {%- if name in columns -%}{{ return(name) }}{%- endif -%}
  {%- if name | lower in columns -%}{{ return(name | lower) }}{%- endif -%}
  {{- return(none) -}}
{%- endmacro %}

{% macro duckdb__resolve_column(name, columns) -%}
  {%- if name in columns -%}{{ return(name) }}{%- endif -%}
  {%- set found = [] -%}
  {%- for column in columns -%}
    {%- if column | lower == name | lower -%}{%- do found.append(column) -%}{%- endif -%}
  {%- endfor -%}
  {{- return(found[0] if found | length == 1 else none) -}}
{%- endmacro %}


{#- {name: relation column or none} for each name, resolved against the
    built relation (dbt_sync.resolve_column), and every column's type
    (dbt_sync.column_types). Python's engine calls it to check a spec before
    capturing; validate --check-destinations for the types of undocumented
    columns. -#}
{% macro resolve_columns(relation, names) -%}
  {%- set types = dbt_sync.column_types(relation) -%}
  {%- set columns = types.keys() | list -%}
  {%- set resolved = {} -%}
  {%- for name in names -%}
    {%- do resolved.update({name: dbt_sync.resolve_column(name, columns)}) -%}
  {%- endfor -%}
  {{- return({'columns': columns, 'resolved': resolved, 'types': types}) -}}
{%- endmacro %}


{#- Statements that rebuild the changesets of the given syncs of one model. -#}
{% macro capture_sql(relation, specs) -%}
  {{- return(adapter.dispatch('capture_sql', 'dbt_sync')(relation, specs)) -}}
{%- endmacro %}
{% macro default__capture_sql(relation, specs) -%}
  {%- if specs | length == 0 -%}{{ return([]) }}{%- endif -%}
  {%- set types = dbt_sync.column_types(relation) -%}
  {%- set statements = [] -%}
  {%- for spec in specs -%}
    {%- set resolved = dbt_sync.resolved_spec(relation, spec, types) -%}
    {%- set new = dbt_sync.audit_relation(dbt_sync.changes_table_name(spec['name'], 'new')) -%}
    {%- set changes_name = dbt_sync.changes_table_name(spec['name'], 'changes') -%}
    {%- do statements.append('drop table if exists ' ~ new) -%}
    {%- do statements.append('create table ' ~ new ~ ' as ' ~ dbt_sync.changeset_select(relation, resolved, types)) -%}
    {%- do statements.extend(dbt_sync.changeset_index_sql(new)) -%}
    {%- do statements.append('drop table if exists ' ~ dbt_sync.audit_relation(changes_name)) -%}
    {%- do statements.append('alter table ' ~ new ~ ' rename to ' ~ dbt_sync.quote_identifier(changes_name)) -%}
  {%- endfor -%}
  {{- return(statements) -}}
{%- endmacro %}


{#- Statements that make reading a changeset page by page linear: each
    page selects a window of _dbt_sync_seq (dbt_sync.changes_page_sql), so
    without an index every page is a full scan of the changeset and reading
    it is quadratic in its size. The index is built on the new table and
    follows it through the renames to changes and pending (an unnamed index:
    PostgreSQL picks a name free in the schema). ANALYZE gives the planner
    the table's statistics for the page query's join with the state. DuckDB
    needs none (its zone maps prune the window); Redshift has no indexes
    (it would otherwise inherit the postgres variant). -#}
{% macro changeset_index_sql(relation) -%}
  {{- return(adapter.dispatch('changeset_index_sql', 'dbt_sync')(relation)) -}}
{%- endmacro %}

{% macro default__changeset_index_sql(relation) -%}
  {{- return([]) -}}
{%- endmacro %}

{% macro postgres__changeset_index_sql(relation) -%}
  {{- return(['create index on ' ~ relation ~ ' (_dbt_sync_seq)', 'analyze ' ~ relation]) -}}
{%- endmacro %}

{% macro redshift__changeset_index_sql(relation) -%}
  {{- return(dbt_sync.default__changeset_index_sql(relation)) -}}
{%- endmacro %}


{#- The spec with its key and sent columns replaced by the relation columns
    they refer to (dbt_sync.resolve_column), so the SQL quotes the names the
    warehouse really has. A sync naming a column the built model lacks fails
    here with a clear message, before any SQL refers to it (models whose
    columns are not documented are only checked now). When the relation's
    columns cannot be read (types is empty), names are used as written. -#}
{% macro resolved_spec(relation, spec, types) -%}
  {%- set columns = types.keys() | list -%}
  {%- set missing = [] -%}
  {%- set mapped = {} -%}
  {%- for name in spec['key_columns'] + spec['columns'] -%}
    {%- if (name | lower).startswith('_dbt_sync_') -%}
      {{- exceptions.raise_compiler_error(
          "dbt_sync: sync '" ~ spec['name'] ~ "' maps column " ~ name ~ " of " ~ relation
          ~ ": names starting with '_dbt_sync_' are reserved for the changeset's own columns; rename the column.") -}}
    {%- endif -%}
    {%- set found = dbt_sync.resolve_column(name, columns) if columns else name -%}
    {%- if found is none -%}
      {%- if name not in missing -%}{%- do missing.append(name) -%}{%- endif -%}
    {%- else -%}
      {%- do mapped.update({name: found}) -%}
    {%- endif -%}
  {%- endfor -%}
  {%- if missing -%}
    {{- exceptions.raise_compiler_error(
        "dbt_sync: sync '" ~ spec['name'] ~ "' maps column(s) " ~ missing | join(', ') ~ " that do not exist in "
        ~ relation ~ ". Columns: " ~ columns | sort | join(', ')
        ~ ". A name matches a column written the same way, or "
        ~ ("ignoring case" if adapter.type() == 'duckdb' else "in lower case (how the warehouse folds unquoted names)")
        ~ ". Fix primary_key, fields or associations in the model's config.meta.dbt_sync (dbt-sync validate shows where).") -}}
  {%- endif -%}
  {%- set keys, hashed, sent = [], [], [] -%}
  {%- for name in spec['key_columns'] -%}{%- do keys.append(mapped[name]) -%}{%- endfor -%}
  {%- for name in spec['columns'] -%}
    {%- do hashed.append(mapped[name]) -%}
    {%- if mapped[name] not in sent -%}{%- do sent.append(mapped[name]) -%}{%- endif -%}
  {%- endfor -%}
  {%- set out = {} -%}
  {%- do out.update(spec) -%}
  {%- do out.update({'key_columns': keys, 'hashed_columns': hashed, 'columns': sent}) -%}
  {{- return(out) -}}
{%- endmacro %}


{#- The changeset query: one scan of the model, one join with the state.
    Ops: insert (no state row), update (content differs from what the
    destination confirmed, or the outcome of its last send is unknown:
    row_hash NULL), confirmed (unchanged, but with an open failure to close:
    a failed write, or a failed mirror delete whose row came back),
    gone (an open failure whose row left the model), delete (mirror: a state
    row whose row left the model), invalid_null_key, invalid_duplicate_key.
    fresh: compare as --full-refresh does (every confirmed hash forgotten,
    ids kept: every row is sent, deletes still computed), for a
    --full-refresh dry run. -#}
{% macro changeset_select(relation, spec, types, fresh=false) -%}
  {%- set columns = spec['columns'] -%}
  {%- set sql -%}
with src as (
    select
        {{ dbt_sync.key_expr(spec['key_columns'], types) }} as _dbt_sync_key,
        {{ dbt_sync.row_hash_expr(spec['fingerprint'], spec.get('hashed_columns', columns), types) }} as _dbt_sync_hash
        {%- for column in columns %},
        {{ dbt_sync.quote_identifier(column) }}
        {%- endfor %}
    from {{ relation }}
),
counted as (
    select src.*, count(*) over (partition by _dbt_sync_key) as _dbt_sync_n
    from src
),
st as (
    select record_key, {{ 'cast(null as varchar(32))' if fresh else 'row_hash' }} as row_hash, destination_id
    from {{ dbt_sync.audit_relation('dbt_sync_state') }}
    where sync_name = {{ dbt_sync.string_literal(spec['name']) }}
),
open_f as (
    select distinct record_key
    from {{ dbt_sync.audit_relation('dbt_sync_open_failures') }}
    where sync_name = {{ dbt_sync.string_literal(spec['name']) }} and record_key is not null
),
changes as (
    select
        c._dbt_sync_key,
        c._dbt_sync_hash,
        case
            when c._dbt_sync_key is null then 'invalid_null_key'
            when c._dbt_sync_n > 1 then 'invalid_duplicate_key'
            when st.record_key is null then 'insert'
            when st.row_hash = c._dbt_sync_hash then 'confirmed'
            else 'update'
        end as _dbt_sync_op,
        st.destination_id as _dbt_sync_destination_id
        {%- for column in columns %},
        c.{{ dbt_sync.quote_identifier(column) }}
        {%- endfor %}
    from counted as c
    left join st on st.record_key = c._dbt_sync_key
    where c._dbt_sync_key is null
       or c._dbt_sync_n > 1
       or st.record_key is null
       or st.row_hash is null
       or st.row_hash <> c._dbt_sync_hash
       or exists (select 1 from open_f where open_f.record_key = c._dbt_sync_key)
    {%- if spec['mode'] == 'mirror' %}
    union all
    select
        st.record_key,
        st.row_hash,
        'delete',
        st.destination_id
        {%- for column in columns %},
        null
        {%- endfor %}
    from st
    where not exists (select 1 from src where src._dbt_sync_key = st.record_key)
    {%- endif %}
    union all
    select
        f.record_key,
        null,
        'gone',
        st.destination_id
        {%- for column in columns %},
        null
        {%- endfor %}
    from open_f as f
    left join st on st.record_key = f.record_key
    where not exists (select 1 from src where src._dbt_sync_key = f.record_key)
      and f.record_key not like '<null:%'
      {%- if spec['mode'] == 'mirror' %}
      and st.record_key is null
      {%- endif %}
)
select row_number() over (order by _dbt_sync_key, _dbt_sync_hash) as _dbt_sync_seq, changes.*
from changes
  {%- endset -%}
  {{- return(sql) -}}
{%- endmacro %}
