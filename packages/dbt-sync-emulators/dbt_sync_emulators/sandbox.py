"""Local stand-ins for Salesforce and HubSpot, wired to a dbt project.

``dbt-sync sandbox`` runs them for people trying dbt-sync without a CRM
account; ``dbt-sync demo`` uses them to show a whole cycle; the test suite
uses them end to end. The environment variables set here are the ones
``integration_tests/dbt_sync.yml`` reads, so the same project file serves
the emulators and real orgs.
"""

from __future__ import annotations

import secrets as pysecrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from dbt_sync_emulators.hubspot import HubSpotEmulator
from dbt_sync_emulators.salesforce import SalesforceEmulator

SF_USERNAME = "integration@dbt-sync.example"

#: the ``destinations`` of a dbt_sync.yml that reads :meth:`Sandbox.env` (the README's example uses it verbatim,
#: and the same file serves real orgs: every setting the sandbox overrides has the real API as its default)
DBT_SYNC_YML = """\
version: 1
destinations:
  salesforce:
    type: salesforce
    auth: password
    username: "{{ env_var('DBT_SYNC_SF_USERNAME') }}"
    password: "{{ env_var('DBT_SYNC_SF_PASSWORD') }}"
    security_token: "{{ env_var('DBT_SYNC_SF_TOKEN', '') }}"
    login_url: "{{ env_var('DBT_SYNC_SF_LOGIN_URL', 'https://login.salesforce.com') }}"
    ca_bundle: "{{ env_var('DBT_SYNC_SF_CA_BUNDLE', '') }}"
  hubspot:
    type: hubspot
    access_token: "{{ env_var('DBT_SYNC_HUBSPOT_TOKEN') }}"
    host: "{{ env_var('DBT_SYNC_HUBSPOT_HOST', 'https://api.hubapi.com') }}"
    tier: professional
"""


@dataclass
class Sandbox:
    salesforce: SalesforceEmulator
    hubspot: HubSpotEmulator
    sf_password: str

    def env(self) -> dict[str, str]:
        """Environment for ``integration_tests/dbt_sync.yml`` (and any project using the same names)."""
        return {
            "DBT_SYNC_SF_USERNAME": SF_USERNAME,
            "DBT_SYNC_SF_PASSWORD": self.sf_password,
            "DBT_SYNC_SF_TOKEN": "",
            "DBT_SYNC_SF_LOGIN_URL": self.salesforce.instance_url,
            "DBT_SYNC_SF_CA_BUNDLE": self.salesforce.ca_cert_path,
            "DBT_SYNC_HUBSPOT_TOKEN": self.hubspot.token,
            "DBT_SYNC_HUBSPOT_HOST": self.hubspot.url,
        }


@contextmanager
def running_sandbox(
    *, sf_port: int = 0, hubspot_port: int = 0, hubspot_rate_limit: int = 190, latency: float = 0.0
) -> Iterator[Sandbox]:
    """Start both emulators on loopback; stop them on exit."""
    password = pysecrets.token_urlsafe(12)
    salesforce = SalesforceEmulator(host="127.0.0.1", port=sf_port)
    hubspot = HubSpotEmulator(host="127.0.0.1", port=hubspot_port, rate_limit=hubspot_rate_limit)
    salesforce.start()
    try:
        hubspot.start()
        try:
            salesforce.add_user(SF_USERNAME, password)
            if latency:
                salesforce.faults.latency = latency
                hubspot.faults.latency = latency
            yield Sandbox(salesforce, hubspot, password)
        finally:
            hubspot.stop()
    finally:
        salesforce.stop()
