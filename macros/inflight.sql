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
