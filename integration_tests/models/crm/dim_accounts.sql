-- One row per customer account: the single definition both CRMs receive.
select
    account_id,
    account_name,
    lower(domain) as domain,
    industry,
    annual_revenue,
    employees,
    website,
    updated_at
from {{ ref('raw_accounts') }}
