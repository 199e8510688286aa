"""Runs a DAG file's ``dag.test()`` in the Airflow environment (.venv-airflow) and writes what happened as JSON.

``python airflow_run.py RUNS_JSON OUT_JSON``, with ``AIRFLOW_HOME`` (a fresh
folder, SQLite metadata database) and the DAG files in its dags folder.
RUNS_JSON is a list of ``{"file": DAG_FILE, "env": {...}}``. Creates the
metadata database, then for each run sets ``env``, loads the file and runs
its ``dag`` with ``dag.test()`` (what the example DAG does as ``__main__``),
and writes to OUT_JSON, per DAG id: the DAG run's state, each task's
upstream task ids and trigger rule, and each task instance's state, start,
end and XComs; last it logs a secret through dbt-sync's logger with the
operator's masking (:func:`probe_log_masking`). tests/integrations/test_airflow.py drives it; it imports Airflow, so it
runs only in .venv-airflow.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
from typing import Any


def main(runs: list[dict[str, Any]], out: str) -> None:
    from airflow.utils.db import initdb

    initdb()
    report = {}
    for run in runs:
        os.environ.update(run.get("env", {}))
        dag = runpy.run_path(run["file"], run_name="dag_file")["dag"]
        dag.test()
        report[dag.dag_id] = describe(dag)
    probe_log_masking()
    with open(out, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2, default=str)


#: a secret logged through dbt-sync's logger under Airflow's logging, which the task log must show masked
PROBE_SECRET = "probe-secret-7d1f0c"


def probe_log_masking() -> None:
    """Log a registered secret the way dbt-sync's modules log, inside the operator's masking, in Airflow's logging."""
    import logging

    from dbt_sync import secrets
    from dbt_sync.airflow import _masked_logs

    secrets.register([PROBE_SECRET])
    with _masked_logs():
        logging.getLogger("dbt_sync.engine").warning("log masking probe: %s", PROBE_SECRET)


def describe(dag: Any) -> dict[str, Any]:
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        runs = session.scalars(select(DagRun).where(DagRun.dag_id == dag.dag_id)).all()
        tis = session.scalars(select(TaskInstance).where(TaskInstance.dag_id == dag.dag_id)).all()
        xcoms = session.scalars(select(XComModel).where(XComModel.dag_id == dag.dag_id)).all()
        return {
            "dag_runs": [str(run.state) for run in runs],
            "upstream": {task.task_id: sorted(task.upstream_task_ids) for task in dag.tasks},
            "trigger_rules": {task.task_id: str(task.trigger_rule) for task in dag.tasks},
            "tasks": {
                ti.task_id: {
                    "state": str(ti.state),
                    "start": ti.start_date.isoformat() if ti.start_date else None,
                    "end": ti.end_date.isoformat() if ti.end_date else None,
                    "try_number": ti.try_number,
                }
                for ti in tis
            },
            "xcom": {f"{x.task_id}/{x.key}": XComModel.deserialize_value(x) for x in xcoms},
        }


if __name__ == "__main__":
    main(json.loads(sys.argv[1]), sys.argv[2])
