{#- Where dbt-sync keeps state, changesets and audit tables.
    One source of truth: the Python warehouse layer calls this macro too. -#}
{% macro audit_schema() -%}
  {%- set configured = var('dbt_sync_schema', none) -%}
  {%- if configured -%}
    {{- return(configured | string) -}}
  {%- endif -%}
  {{- return(target.schema ~ '_dbt_sync') -}}
{%- endmacro %}


{#- A relation in the audit schema. -#}
{% macro audit_relation(identifier) -%}
  {{- return(api.Relation.create(database=target.database, schema=dbt_sync.audit_schema(),
                                 identifier=identifier, type='table')) -}}
{%- endmacro %}


{#- Lowercase and replace every run of characters outside [a-z0-9_] by '_'. -#}
{% macro slug(value) -%}
  {{- return(modules.re.sub('[^a-z0-9_]+', '_', (value | string) | lower)) -}}
{%- endmacro %}


{#- Table name for one sync's changeset. kind: 'changes' (latest capture),
    'pending' (claimed by a dbt-sync run) or 'new' (being built by a capture).
    Long names are shortened with a hash so they fit PostgreSQL's 63 bytes. -#}
{% macro changes_table_name(sync_name, kind='changes') -%}
  {%- set base = dbt_sync.slug(sync_name) -%}
  {%- set prefix = 'dbt_sync_' ~ kind ~ '__' -%}
  {%- if (prefix ~ base) | length > 63 -%}
    {%- set base = base[:(63 - (prefix | length) - 9)] ~ '_' ~ local_md5(sync_name)[:8] -%}
  {%- endif -%}
  {{- return(prefix ~ base) -}}
{%- endmacro %}


{#- An identifier (column, schema) quoted for the adapter: always quoted,
    with double quotes inside the name doubled (SQL's escape; adapter.quote
    only wraps the name). Quoting every name is what makes reserved words
    (user, order, group, select), spaces and mixed case safe; which name to
    quote comes from dbt_sync.resolve_column, so case follows the warehouse. -#}
{% macro quote_identifier(name) -%}
  {{- return(adapter.dispatch('quote_identifier', 'dbt_sync')(name)) -}}
{%- endmacro %}

{% macro default__quote_identifier(name) -%}
  {{- return(adapter.quote((name | string) | replace('"', '""'))) -}}
{%- endmacro %}


{#- A string literal that reads back as exactly value (quotes doubled;
    Redshift reads a backslash in a literal as an escape, so backslashes are
    spliced in with chr(92)). The Python twin is dbt_sync.warehouse.literals. -#}
{% macro string_literal(value) -%}
  {{- return(adapter.dispatch('string_literal', 'dbt_sync')(value)) -}}
{%- endmacro %}

{% macro default__string_literal(value) -%}
  {{- return("'" ~ (value | string) | replace("'", "''") ~ "'") -}}
{%- endmacro %}

{% macro redshift__string_literal(value) -%}
  {{- return(dbt_sync.default__string_literal(value) | replace('\\', "' || chr(92) || '")) -}}
{%- endmacro %}


{#- A Python value as a SQL literal of the adapter, for the statements the
    Python warehouse layer runs with arguments: None as null, booleans,
    numbers, a datetime (naive: UTC) as dbt_sync.utc_timestamp_literal, and
    anything else as text through dbt_sync.string_literal (NUL characters,
    which PostgreSQL text cannot hold, are dropped). -#}
{% macro sql_value(value) -%}
  {%- if value is none -%}
    {{- return('null') -}}
  {%- elif value is sameas true or value is sameas false -%}
    {{- return('true' if value else 'false') -}}
  {%- elif value is number -%}
    {{- return(value | string) -}}
  {%- elif value is not string and value.isoformat is defined and value.hour is defined -%}
    {%- set utc = value.astimezone(modules.pytz.utc).replace(tzinfo=none) if value.tzinfo is not none else value -%}
    {{- return(dbt_sync.utc_timestamp_literal(utc.isoformat(' '))) -}}
  {%- elif value is not string and value.isoformat is defined -%}
    {{- return("cast('" ~ value.isoformat() ~ "' as date)") -}}
  {%- endif -%}
  {{- return(dbt_sync.string_literal((value | string).replace('\x00', ''))) -}}
{%- endmacro %}


{#- Values as "v1, v2, ..." for an IN (...) list (dbt_sync.sql_value each). -#}
{% macro sql_values(values) -%}
  {%- set out = [] -%}
  {%- for value in values -%}{%- do out.append(dbt_sync.sql_value(value)) -%}{%- endfor -%}
  {{- return(out | join(', ')) -}}
{%- endmacro %}
