{#- Deterministic text for a column value, per adapter: the same value gives
    the same text on every run (timestamps, decimals, booleans, unicode).
    data_type is the lowercased adapter type name of the column. -#}
{% macro text_expr(column, data_type) -%}
  {{- return(adapter.dispatch('text_expr', 'dbt_sync')(column, data_type)) -}}
{%- endmacro %}

{% macro default__text_expr(column, data_type) -%}
  {%- if data_type.startswith('bool') -%}
    {{- return("case when " ~ column ~ " then 'true' when not " ~ column ~ " then 'false' end") -}}
  {%- endif -%}
  {{- return("cast(" ~ column ~ " as " ~ dbt.type_string() ~ ")") -}}
{%- endmacro %}

{% macro duckdb__text_expr(column, data_type) -%}
  {%- if data_type.startswith('bool') -%}
    {{- return("case when " ~ column ~ " then 'true' when not " ~ column ~ " then 'false' end") -}}
  {%- elif data_type in ('timestamp with time zone', 'timestamptz') -%}
    {{- return("strftime(timezone('UTC', " ~ column ~ "), '%Y-%m-%d %H:%M:%S.%f')") -}}
  {%- endif -%}
  {{- return("cast(" ~ column ~ " as varchar)") -}}
{%- endmacro %}

{% macro postgres__text_expr(column, data_type) -%}
  {%- if data_type.startswith('bool') -%}
    {{- return("case when " ~ column ~ " then 'true' when not " ~ column ~ " then 'false' end") -}}
  {%- elif data_type in ('timestamp with time zone', 'timestamptz') -%}
    {{- return("to_char(" ~ column ~ " at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')") -}}
  {%- elif data_type.startswith('timestamp') -%}
    {{- return("to_char(" ~ column ~ ", 'YYYY-MM-DD HH24:MI:SS.US')") -}}
  {%- elif data_type == 'date' -%}
    {{- return("to_char(" ~ column ~ ", 'YYYY-MM-DD')") -}}
  {%- endif -%}
  {{- return("cast(" ~ column ~ " as text)") -}}
{%- endmacro %}

{#- Redshift: PostgreSQL's text for booleans, timestamps and dates; no
    boolean -> varchar cast, and a bare varchar cast means varchar(256), which
    would truncate, so strings are used as they are. -#}
{% macro redshift__text_expr(column, data_type) -%}
  {%- if data_type.startswith('bool') or data_type.startswith('timestamp') or data_type == 'date' -%}
    {{- return(dbt_sync.postgres__text_expr(column, data_type)) -}}
  {%- elif data_type.startswith('character') or data_type.startswith('varchar')
        or data_type.startswith('text') or data_type.startswith('char') or data_type == 'string' -%}
    {{- return(column) -}}
  {%- endif -%}
  {{- return("cast(" ~ column ~ " as varchar(65535))") -}}
{%- endmacro %}


{#- md5 hex digest of a text expression. -#}
{% macro md5_expr(expr) -%}
  {{- return(adapter.dispatch('md5_expr', 'dbt_sync')(expr)) -}}
{%- endmacro %}

{% macro default__md5_expr(expr) -%}
  {{- return('md5(' ~ expr ~ ')') -}}
{%- endmacro %}


{#- One column's contribution to the row hash: NULL and '' differ
    ('N' vs 'V0:'), and the length prefix keeps column boundaries
    unambiguous. -#}
{% macro hash_part(column, data_type) -%}
  {%- set text = dbt_sync.text_expr(column, data_type) -%}
  {{- return("case when " ~ column ~ " is null then 'N' else 'V' || cast(length(" ~ text ~ ") as "
             ~ dbt_sync.short_string_type() ~ ") || ':' || " ~ text ~ " end") -}}
{%- endmacro %}

{% macro short_string_type() -%}
  {{- return(adapter.dispatch('short_string_type', 'dbt_sync')()) -}}
{%- endmacro %}
{% macro default__short_string_type() %}{{ return('varchar(32)') }}{% endmacro %}
{% macro duckdb__short_string_type() %}{{ return('varchar') }}{% endmacro %}


{#- The row hash: fingerprint of the mapping + every sent column. columns
    are relation column names (dbt_sync.resolve_column); types is keyed by
    them. -#}
{% macro row_hash_expr(fingerprint, columns, types) -%}
  {%- set parts = ["'" ~ fingerprint ~ "'"] -%}
  {%- for column in columns -%}
    {%- do parts.append(dbt_sync.hash_part(dbt_sync.quote_identifier(column), types.get(column, ''))) -%}
  {%- endfor -%}
  {{- return(dbt_sync.md5_expr(parts | join(' || '))) -}}
{%- endmacro %}


{#- The record key as text; composite keys joined with '|'; NULL when any
    part is NULL. Two keys that collide after joining show up as
    invalid_duplicate_key, never as a silent overwrite. -#}
{% macro key_expr(key_columns, types) -%}
  {%- set texts = [] -%}
  {%- set null_checks = [] -%}
  {%- for column in key_columns -%}
    {%- do texts.append(dbt_sync.text_expr(dbt_sync.quote_identifier(column), types.get(column, ''))) -%}
    {%- do null_checks.append(dbt_sync.quote_identifier(column) ~ ' is null') -%}
  {%- endfor -%}
  {%- if texts | length == 1 -%}
    {{- return(texts[0]) -}}
  {%- endif -%}
  {{- return('case when ' ~ (null_checks | join(' or ')) ~ ' then null else '
             ~ (texts | join(" || '|' || ")) ~ ' end') -}}
{%- endmacro %}
