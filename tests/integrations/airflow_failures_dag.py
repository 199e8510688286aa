"""A DAG for tests/integrations/test_airflow.py: a whole-sync failure and record failures in one task group.

Run with a HubSpot token the emulator refuses: accounts_to_hubspot fails as a
whole, so the HubSpot syncs that need it are skipped; contacts_to_salesforce
resends its records (two of which the CRM rejects) and, with
``record_failures_fatal=False``, succeeds.
"""

import os
from datetime import datetime

from airflow.sdk import DAG

from dbt_sync.airflow import dbt_sync_task_group

PROJECT_DIR = os.environ["DBT_PROJECT_DIR"]

with DAG("dbt_sync_failures", schedule=None, start_date=datetime(2026, 1, 1), catchup=False) as dag:
    dbt_sync_task_group(
        PROJECT_DIR,
        profiles_dir=PROJECT_DIR,
        select=["destination:hubspot", "contacts_to_salesforce"],
        full_refresh=True,
        record_failures_fatal=False,
    )
