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


{#- Quote a column name only when it needs it, so lowercase names stay
    portable across adapters. -#}
{% macro ident(name) -%}
  {%- if modules.re.match('^[a-z_][a-z0-9_]*$', name) -%}
    {{- return(name) -}}
  {%- endif -%}
  {{- return(adapter.quote(name)) -}}
{%- endmacro %}
