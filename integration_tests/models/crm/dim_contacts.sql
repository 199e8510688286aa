-- Contacts, each pointing at its account. Synced after dim_accounts so the
-- account exists in the CRM before a contact refers to it.
select
    c.contact_id,
    c.account_id,
    c.first_name,
    c.last_name,
    lower(trim(c.email)) as email,
    c.phone,
    c.birthdate,
    c.lead_score,
    c.is_customer,
    c.last_seen_at,
    c.tier,
    c.lifecycle_stage
from {{ ref('raw_contacts') }} as c
inner join {{ ref('dim_accounts') }} as a
    on a.account_id = c.account_id
