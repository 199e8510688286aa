"""dbt builds the models, then each sync of the project runs as its own task, in plan order.

Put this file in Airflow's dags folder; the worker needs ``dbt-sync[airflow]``
and the dbt adapter, and dbt_sync.yml's environment variables (the CRM
credentials). The syncs are read from target/manifest.json when the file is
parsed: run ``dbt parse`` in the project when you deploy it.
"""

import os
from datetime import datetime

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG

from dbt_sync.airflow import dbt_sync_task_group

PROJECT_DIR = os.environ.get("DBT_PROJECT_DIR", "/opt/airflow/dbt/analytics")

with DAG("dbt_sync", schedule="@hourly", start_date=datetime(2026, 1, 1), catchup=False) as dag:
    dbt_build = BashOperator(
        task_id="dbt_build",
        bash_command="dbt build --project-dir $DBT_PROJECT_DIR --profiles-dir $DBT_PROJECT_DIR",
        env={"DBT_PROJECT_DIR": PROJECT_DIR},
        append_env=True,
    )
    # one task per sync: accounts before the contacts that look them up, each destination on its own
    syncs = dbt_sync_task_group(PROJECT_DIR, profiles_dir=PROJECT_DIR, retries=2)
    dbt_build >> syncs

if __name__ == "__main__":
    dag.test()
