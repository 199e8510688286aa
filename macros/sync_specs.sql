{#- Extract, from a model node, what change capture needs for each enabled
    sync: name, mode, primary-key columns, the ordered sent columns (mapped
    field columns, lookup columns, association columns) and a fingerprint of
    the mapping and constants. Full validation lives in Python (dbt_sync.spec);
    this only reads. Works with a node object (hook context) or a graph dict. -#}
{% macro sync_specs(node) -%}
  {%- set config = node.get('config') if node is mapping else node.config -%}
  {%- set config_meta = (config.get('meta') if config is mapping else config.meta) or {} -%}
  {%- set top_meta = (node.get('meta') if node is mapping else node.meta) or {} -%}
  {%- set raw = config_meta.get('dbt_sync') or top_meta.get('dbt_sync') -%}
  {%- set model_name = node.get('name') if node is mapping else node.name -%}
  {%- if raw is none -%}{{ return([]) }}{%- endif -%}
  {%- set entries = [raw] if raw is mapping else raw -%}
  {%- set specs = [] -%}
  {%- for entry in entries -%}
    {%- if entry.get('enabled', true) -%}
      {%- set name = entry.get('name') or dbt_sync.slug(model_name ~ '__' ~ entry.get('destination', '') ~ '__' ~ entry.get('object', '')) -%}
      {%- set pk = entry.get('primary_key') -%}
      {%- set key_columns = [pk] if pk is string else (pk or []) | list -%}
      {%- set columns = [] -%}
      {%- set mapping = entry.get('fields') or {} -%}
      {%- for dest_field in mapping -%}
        {%- set source = mapping[dest_field] -%}
        {%- set column = none -%}
        {%- if source is string -%}
          {%- set column = source -%}
        {%- elif source is mapping and source.get('column') -%}
          {%- set column = source.get('column') -%}
        {%- elif source is mapping and source.get('lookup') is mapping -%}
          {%- set column = source.get('lookup').get('column') -%}
        {%- endif -%}
        {%- if column and column not in columns -%}{%- do columns.append(column) -%}{%- endif -%}
      {%- endfor -%}
      {%- for assoc in (entry.get('associations') or []) -%}
        {%- set column = assoc.get('column') -%}
        {%- if column and column not in columns -%}{%- do columns.append(column) -%}{%- endif -%}
      {%- endfor -%}
      {%- set fingerprint = local_md5(tojson({
          'destination': entry.get('destination'), 'object': entry.get('object'),
          'match': entry.get('match'), 'primary_key': key_columns,
          'fields': mapping, 'associations': entry.get('associations') or []}, sort_keys=true)) -%}
      {%- do specs.append({
          'name': name, 'mode': entry.get('mode', 'upsert'), 'key_columns': key_columns,
          'columns': columns, 'fingerprint': fingerprint}) -%}
    {%- endif -%}
  {%- endfor -%}
  {{- return(specs) -}}
{%- endmacro %}
