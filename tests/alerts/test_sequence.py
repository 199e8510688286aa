"""Runs in sequence against a real warehouse and real receivers: one alert per episode edge."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from pathlib import Path
from typing import Any

from dbt_sync.alerts.store import AlertStore
from tests.alerts import helpers as th

H = dt.timedelta(hours=1)


def test_one_failure_and_one_recovery_per_episode_on_every_channel(
    tmp_path: Path, warehouse: Any, smtp_server: Any, http_server: Any, tls_cert: tuple[str, str]
) -> None:
    project = th.project(tmp_path, th.channels(smtp_server, http_server, tls_cert[0]))
    steps = [
        ("ok", th.ok),
        ("ok", th.ok),
        ("fail", th.bad_records),
        ("fail", th.bad_records),
        ("down", th.sync_error),  # still failing, another way (records -> sync down): a new alert
        ("ok", th.ok),
        ("flaky-but-recovered", lambda at: th.ok(at=at, retries=4)),
        ("fail", th.bad_records),
    ]
    returned: list[list[dict[str, Any]]] = []
    for i, (_, make) in enumerate(steps):
        at = th.T0 + i * H
        result = th.run(f"run-{i}", make(at=at), at=at)
        returned.append(th.evaluate(project, warehouse, result, now=at + 3 * dt.timedelta(minutes=1)))

    kinds = [[(a["kind"], a["channel"], a["status"]) for a in r] for r in returned]
    channels = ["ops_email", "pager", "slack_data"]
    assert kinds == [
        [], [],
        [("failure", ch, "sent") for ch in channels],
        [],
        [("failure", ch, "sent") for ch in channels],
        [("recovery", ch, "sent") for ch in channels],
        [],
        [("failure", ch, "sent") for ch in channels],
    ]

    # email: three messages, each to both recipients, over STARTTLS with AUTH
    subjects = [m["Subject"] for m in smtp_server.messages]
    assert subjects == [
        "[dbt-sync prod] FAILING: contacts_to_hubspot (40 of 200 records failed)",
        "[dbt-sync prod] FAILING: contacts_to_hubspot (sync failed: AUTHENTICATION)",
        "[dbt-sync prod] RECOVERED: contacts_to_hubspot after 3 h",
        "[dbt-sync prod] FAILING: contacts_to_hubspot (40 of 200 records failed)",
    ]
    assert all(sorted(m.envelope_to) == ["data-team@example.com", "oncall@example.com"]  # type: ignore[attr-defined]
               for m in smtp_server.messages)
    assert smtp_server.tls_used == [True] * 4 and smtp_server.authenticated == [True] * 4

    # slack and webhook: four posts each, the webhook signed and as documented
    assert [b["text"].split(":")[0] for b in th.slack_bodies(http_server)] == [
        "FAILING", "FAILING", "RECOVERED", "FAILING"]
    hooks = http_server.to("/hooks/dbt-sync")
    assert [(b["kind"], b["failing_kind"], b["run"]["run_id"]) for b in th.webhook_bodies(http_server)] == [
        ("failure", "records", "run-2"), ("failure", "sync", "run-4"), ("recovery", None, "run-5"),
        ("failure", "records", "run-7")]
    for body in th.webhook_bodies(http_server):
        th.validate_payload(body)
    first, down, recovered, _ = th.webhook_bodies(http_server)
    assert (first["failing_seconds"], first["failing_for"]) == (None, None)  # the episode starts here
    assert down["failing_seconds"] == 2 * 3600 and down["failures_sql"] is not None  # 40 records still open
    assert recovered["failures_sql"] is None and recovered["failing_records"] == []
    assert first["run"]["target"] == "prod"
    for req in hooks:
        expected = "sha256=" + hmac.new(th.WEBHOOK_SECRET.encode(), req.body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(req.headers["X-DbtSync-Signature"], expected)
        assert req.headers["X-Team"] == "data"
        assert int(req.headers["X-DbtSync-Timestamp"]) > 0

    recovery = th.webhook_bodies(http_server)[2]
    assert recovery["failing_since"] == "2024-05-06T10:03:00Z"
    assert recovery["failing_seconds"] == 3 * 3600 and recovery["failing_for"] == "3 h"

    # the warehouse remembers: 12 sent rows, and the sync is failing since run-7
    store = AlertStore(warehouse)
    rows = store.rows_for("contacts_to_hubspot")
    for row in rows:
        th.validate_payload(row.payload)
    assert len(rows) == 12 and {r.status for r in rows} == {"sent"} and {r.attempts for r in rows} == {1}
    assert all(r.sent_at is not None for r in rows)
    health = store.load_health(["contacts_to_hubspot"])["contacts_to_hubspot"]
    assert (health.state, health.last_run_id, health.dominant_error) == ("failing", "run-7", "INVALID_EMAIL")
    assert health.since == th.T0 + 7 * H + 3 * dt.timedelta(minutes=1)


def test_skipped_dry_run_and_empty_runs_do_not_move_health(
    tmp_path: Path, warehouse: Any, http_server: Any
) -> None:
    project = th.project(tmp_path, {"slack": {"type": "slack", "webhook_url": http_server.url + th.SLACK_PATH}})
    th.evaluate(project, warehouse, th.run("r1", th.bad_records(at=th.T0)), now=th.T0)
    assert len(th.slack_bodies(http_server)) == 1
    # nothing attempted: proves nothing, so no "recovered" while the destination was never reached
    for i, result in enumerate([th.sync_result(status="skipped", attempted=0),
                                th.sync_result(status="dry_run", attempted=0),
                                th.sync_result(attempted=0)]):
        assert th.evaluate(project, warehouse, th.run(f"r{i + 2}", result), now=th.T0 + (i + 1) * H) == []
    health = AlertStore(warehouse).load_health(["contacts_to_hubspot"])["contacts_to_hubspot"]
    # the empty success saw the same open failures: still failing since r1, nothing sent
    assert (health.state, health.since, health.last_run_id) == ("failing", th.T0, "r4")
    assert len(th.slack_bodies(http_server)) == 1


def test_reminder_after_remind_after_hours(tmp_path: Path, warehouse: Any, http_server: Any) -> None:
    project = th.project(tmp_path, {"slack": {"type": "slack", "webhook_url": http_server.url + th.SLACK_PATH}},
                         defaults={"remind_after_hours": 24})
    times = [th.T0, th.T0 + 12 * H, th.T0 + 25 * H, th.T0 + 30 * H, th.T0 + 50 * H]
    kinds = []
    for i, at in enumerate(times):
        out = th.evaluate(project, warehouse, th.run(f"r{i}", th.bad_records(at=at)), now=at)
        kinds.append([a["kind"] for a in out])
    assert kinds == [["failure"], [], ["reminder"], [], ["reminder"]]
    bodies = th.slack_bodies(http_server)
    assert bodies[1]["text"].startswith("STILL FAILING: contacts_to_hubspot")
    assert "for 1 d 1 h" in bodies[1]["blocks"][2]["fields"][4]["text"]
