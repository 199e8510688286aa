"""HubSpot destination: batch upsert/create/update/archive plus v4 associations.

Submodules, one purpose each: ``config`` (dbt_sync.yml entry), ``values``
(warehouse value → HubSpot string), ``transport`` (the hubspot-api-client
calls, auth, rate-limit headers), ``errors`` (error bodies → reasons),
``properties`` (metadata cache), ``batches`` (records → inputs → outcomes),
``lookup`` and ``associations`` (targets and links), ``check`` (mapping
validation) and ``destination`` (the engine-facing class).
"""

from dbt_sync.destinations.hubspot.destination import HubSpotDestination

__all__ = ["HubSpotDestination"]
