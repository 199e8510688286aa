"""The alert tables and the whole failure -> rerun -> recovery path on PostgreSQL and Redshift.

The DuckDB suite covers behaviour; this checks the SQL (create, insert-if-absent,
portable upsert, timestamps) holds on the other adapters dbt-sync supports.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from dbt_sync.alerts import evaluate_alerts
from dbt_sync.alerts.store import AlertStore
from tests.alerts import helpers as th


@pytest.mark.parametrize("target", ["postgres", "redshift"])
def test_alert_path_on_target(target: str, dbt_project_factory: Any, tmp_path: Path, http_server: Any) -> None:
    project_dir = dbt_project_factory(target, name="alerts", build=False)
    project = th.project(tmp_path, {"slack": {"type": "slack", "webhook_url": http_server.url + th.SLACK_PATH}})
    with project_dir.warehouse() as wh:
        failing = th.run("r1", th.bad_records())
        first = th.evaluate(project, wh, failing, now=th.T0)
        assert [a["status"] for a in first] == ["sent"], [a["error"] for a in first]
        assert evaluate_alerts(project, wh, failing, now=th.T0) == []  # rerun: nothing twice
        later = th.T0 + dt.timedelta(hours=2, minutes=30)
        out = th.evaluate(project, wh, th.run("r2", th.ok(at=later)), now=later)
        assert [(a["kind"], a["status"]) for a in out] == [("recovery", "sent")]
        store = AlertStore(wh)
        rows = store.rows_for("contacts_to_hubspot")
        assert [(r.kind, r.status, r.created_at) for r in rows] == [("failure", "sent", th.T0),
                                                                     ("recovery", "sent", later)]
        assert rows[0].payload["errors"][0]["code"] == "INVALID_EMAIL"
        health = store.load_health(["contacts_to_hubspot"])["contacts_to_hubspot"]
        assert (health.state, health.since, health.last_run_id) == ("healthy", later, "r2")
        body = th.slack_bodies(http_server)
        assert body[1]["text"].startswith("RECOVERED: contacts_to_hubspot")
        assert wh.query(th.webhook_sql(rows[0].payload)) == []  # the SQL in the alert runs as written
