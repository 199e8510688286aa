-- Open and closed deals. Salesforce wants its own stage labels; HubSpot takes
-- the pipeline stage's internal value.
select
    d.deal_id,
    d.account_id,
    d.contact_id,
    d.deal_name,
    d.amount,
    d.stage as hubspot_stage,
    case d.stage
        when 'appointmentscheduled' then 'Prospecting'
        when 'qualifiedtobuy' then 'Qualification'
        when 'closedwon' then 'Closed Won'
        when 'closedlost' then 'Closed Lost'
    end as salesforce_stage,
    d.close_date
from {{ ref('raw_deals') }} as d
inner join {{ ref('dim_contacts') }} as c
    on c.contact_id = d.contact_id
