"""Channels that are down, reruns after a crash, catch-up, secrets, test alerts, and never raising."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from dbt_sync import secrets
from dbt_sync.alerts import evaluate_alerts, send_test
from dbt_sync.alerts.store import AlertStore
from dbt_sync.errors import ConfigError
from tests.alerts import helpers as th
from tests.alerts.conftest import free_port

H = dt.timedelta(hours=1)


def _rows(warehouse: Any) -> dict[str, tuple[str, int]]:
    return {r.channel: (r.status, r.attempts) for r in AlertStore(warehouse).rows_for("contacts_to_hubspot")}


def test_down_channel_is_retried_recorded_and_does_not_block_or_duplicate_others(
    tmp_path: Path, warehouse: Any, smtp_server: Any, http_server: Any, tls_cert: tuple[str, str]
) -> None:
    dead = f"http://127.0.0.1:{free_port()}/hooks/dbt-sync"  # nothing listens there
    settings = th.channels(smtp_server, http_server, tls_cert[0], webhook_url=dead)
    project = th.project(tmp_path, settings)
    sleeps: list[float] = []
    result = th.run("run-1", th.bad_records())

    out = th.evaluate(project, warehouse, result, now=th.T0, sleep=sleeps.append)

    by_channel = {a["channel"]: a for a in out}
    assert by_channel["ops_email"]["status"] == "sent" and by_channel["slack_data"]["status"] == "sent"
    assert by_channel["pager"]["status"] == "failed"
    assert "cannot reach the server" in by_channel["pager"]["error"]
    assert "after 3 attempts" in by_channel["pager"]["error"]
    assert sleeps == [0.01, 0.02]  # short exponential backoff between the 3 attempts
    assert _rows(warehouse) == {"ops_email": ("sent", 1), "slack_data": ("sent", 1), "pager": ("failed", 3)}
    json.dumps(out)  # what the CLI prints and writes to the results file

    # a rerun of the same run (say, after a crash) sends nothing that was sent, retries what was not
    out = evaluate_alerts(project, warehouse, result, now=th.T0 + dt.timedelta(minutes=5), sleep=sleeps.append)
    assert [(a["channel"], a["status"]) for a in out] == [("pager", "failed")]
    assert len(smtp_server.messages) == 1 and len(th.slack_bodies(http_server)) == 1
    assert _rows(warehouse)["pager"] == ("failed", 6)

    # the webhook comes back; the next run is still failing: the missed failure alert is caught up, once
    settings["pager"]["url"] = http_server.url + "/hooks/dbt-sync"
    project = th.project(tmp_path, settings)
    out = th.evaluate(project, warehouse, th.run("run-2", th.bad_records(at=th.T0 + H)), now=th.T0 + H)
    assert [(a["kind"], a["channel"], a["status"]) for a in out] == [("failure", "pager", "sent")]
    assert [b["run"]["run_id"] for b in th.webhook_bodies(http_server)] == ["run-1"]
    assert _rows(warehouse) == {"ops_email": ("sent", 1), "slack_data": ("sent", 1), "pager": ("sent", 7)}
    assert th.evaluate(project, warehouse, th.run("run-3", th.bad_records(at=th.T0 + 2 * H)),
                       now=th.T0 + 2 * H) == []
    assert len(smtp_server.messages) == 1 and len(th.slack_bodies(http_server)) == 1
    assert len(th.webhook_bodies(http_server)) == 1


def test_client_errors_are_not_retried_and_server_errors_are(
    tmp_path: Path, warehouse: Any, http_server: Any
) -> None:
    http_server.status[th.SLACK_PATH] = 404  # Slack: no_service, a revoked webhook; retrying cannot help
    http_server.status["/hooks/dbt-sync"] = 503
    project = th.project(tmp_path, {
        "slack": {"type": "slack", "webhook_url": http_server.url + th.SLACK_PATH, "backoff_seconds": 0},
        "hook": {"type": "webhook", "url": http_server.url + "/hooks/dbt-sync", "attempts": 4, "backoff_seconds": 0},
    })
    out = th.evaluate(project, warehouse, th.run("r1", th.bad_records()), now=th.T0)
    assert {a["channel"]: a["status"] for a in out} == {"slack": "failed", "hook": "failed"}
    assert len(http_server.to(th.SLACK_PATH)) == 1 and len(http_server.to("/hooks/dbt-sync")) == 4
    slack_error = next(a["error"] for a in out if a["channel"] == "slack")
    assert "HTTP 404" in slack_error
    assert "slack-hook-secret" not in slack_error  # the webhook URL is a secret


def test_crash_between_pending_and_health_does_not_lose_or_double_alerts(
    tmp_path: Path, warehouse: Any, http_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = th.project(tmp_path, {"slack": {"type": "slack", "webhook_url": http_server.url + th.SLACK_PATH}})
    result = th.run("r1", th.bad_records())

    def crash(self: Any, health: Any) -> None:
        raise RuntimeError("connection lost")

    monkeypatch.setattr(AlertStore, "save_health", crash)
    out = th.evaluate(project, warehouse, result, now=th.T0)
    assert out[0]["status"] == "failed" and "connection lost" in out[0]["error"]
    assert _rows(warehouse) == {"slack": ("pending", 0)} and th.slack_bodies(http_server) == []

    monkeypatch.undo()
    later = th.T0 + dt.timedelta(minutes=10)
    assert [a["status"] for a in evaluate_alerts(project, warehouse, result, now=later)] == ["sent"]
    assert [a["status"] for a in evaluate_alerts(project, warehouse, result, now=later)] == []
    assert len(th.slack_bodies(http_server)) == 1


def test_secrets_never_reach_messages_or_the_alerts_table(
    tmp_path: Path, warehouse: Any, smtp_server: Any, http_server: Any, tls_cert: tuple[str, str]
) -> None:
    project = th.project(tmp_path, th.channels(smtp_server, http_server, tls_cert[0]))
    secrets.register(["pat-na1-0000-super-secret"])
    leaky = th.sync_result(status="error", attempted=0, message="login failed with token pat-na1-0000-super-secret",
                           errors={"AUTH": (1, "Bearer pat-na1-0000-super-secret rejected; smtp-pa55word")})
    evaluate_alerts(project, warehouse, th.run("r1", leaky), now=th.T0)
    email_body = smtp_server.messages[0].as_string()
    everything = [email_body, *(r.body.decode() for r in http_server.requests)]
    stored = warehouse.query(f"select * from {AlertStore(warehouse).table('dbt_sync_alerts')}")
    everything.append(json.dumps(stored, default=str))
    for text in everything:
        for secret in ("pat-na1-0000-super-secret", th.SMTP_PASSWORD, th.WEBHOOK_SECRET, "slack-hook-secret"):
            assert secret not in text
    assert "Bearer **** rejected" in email_body


def test_send_test_reaches_each_channel_and_is_recorded(
    tmp_path: Path, warehouse: Any, smtp_server: Any, http_server: Any, tls_cert: tuple[str, str]
) -> None:
    project = th.project(tmp_path, th.channels(smtp_server, http_server, tls_cert[0]))
    for name in ("ops_email", "slack_data", "pager"):
        out = send_test(project, name, warehouse=warehouse, now=th.T0)
        assert out == {"sync": "dbt_sync_alerts_test", "kind": "test", "channel": name, "status": "sent",
                       "attempts": 1, "error": None}
    assert smtp_server.messages[0]["Subject"] == "[dbt-sync prod] TEST alert from dbt-sync (dbt_sync_alerts_test)"
    assert th.webhook_bodies(http_server)[0]["kind"] == "test"
    th.validate_payload(th.webhook_bodies(http_server)[0])  # a test alert shows every part of a real one
    assert th.slack_bodies(http_server)[0]["text"].startswith("TEST: ")
    rows = AlertStore(warehouse).rows_for("dbt_sync_alerts_test")
    assert sorted((r.channel, r.kind, r.status) for r in rows) == [
        ("ops_email", "test", "sent"), ("pager", "test", "sent"), ("slack_data", "test", "sent")]
    with pytest.raises(ConfigError, match=r"unknown channel 'slack_dta'.*Did you mean 'slack_data'"):
        send_test(project, "slack_dta")


def test_send_test_reports_a_wrong_password_without_retrying(
    tmp_path: Path, smtp_server: Any, http_server: Any, tls_cert: tuple[str, str]
) -> None:
    settings = th.channels(smtp_server, http_server, tls_cert[0])
    settings["ops_email"]["password"] = "wrong-password-123"
    project = th.project(tmp_path, settings)
    out = send_test(project, "ops_email", sleep=lambda s: None)
    assert (out["status"], out["attempts"]) == ("failed", 1)
    assert "authentication failed" in out["error"] and "wrong-password-123" not in out["error"]
    assert smtp_server.messages == []


def test_untrusted_certificate_fails_clearly(tmp_path: Path, smtp_server: Any, http_server: Any,
                                             tls_cert: tuple[str, str]) -> None:
    settings = th.channels(smtp_server, http_server, tls_cert[0])
    del settings["ops_email"]["ca_bundle"]
    out = send_test(th.project(tmp_path, settings), "ops_email", sleep=lambda s: None)
    assert out["status"] == "failed" and "TLS error" in out["error"] and out["attempts"] == 1


def test_evaluate_never_raises_into_the_run(tmp_path: Path, http_server: Any) -> None:
    class Broken:
        def ensure_tables(self) -> None:
            raise RuntimeError("warehouse is gone")

    project = th.project(tmp_path, {"slack": {"type": "slack", "webhook_url": http_server.url + th.SLACK_PATH}})
    out = evaluate_alerts(project, Broken(), th.run("r1", th.bad_records()))
    assert out == [{"sync": None, "kind": None, "channel": None, "status": "failed",
                    "error": "cannot read the alert tables: RuntimeError: warehouse is gone"}]


def test_the_sql_in_the_alert_lists_the_failed_records(tmp_path: Path, warehouse: Any, http_server: Any) -> None:
    from dbt_sync.warehouse import FailureRow

    name = "alerts_sql_check"
    # an earlier run's failure that is still open belongs in the alert too
    warehouse.commit(name, "run-old", failures=[FailureRow("c-0", "upsert", "REQUIRED_FIELD_MISSING", "LastName")])
    warehouse.commit(name, "run-sql", failures=[
        FailureRow("c-1", "upsert", "INVALID_EMAIL", "email 'x@@y' is not valid"),
        FailureRow("c-2", "upsert", "INVALID_EMAIL", "email 'z@@y' is not valid"),
    ])
    project = th.project(tmp_path, {"hook": {"type": "webhook", "url": http_server.url + "/hooks/dbt-sync"}})
    failed = th.sync_result(name, status="partial", attempted=2, failed=2,
                            errors={"INVALID_EMAIL": (2, "email 'x@@y' is not valid")})
    evaluate_alerts(project, warehouse, th.run("run-sql", failed), now=th.T0)
    body = th.webhook_bodies(http_server)[0]
    rows = warehouse.query(body["failures_sql"])
    assert [(r["record_key"], r["error_code"]) for r in rows] == [
        ("c-1", "INVALID_EMAIL"), ("c-2", "INVALID_EMAIL"), ("c-0", "REQUIRED_FIELD_MISSING")]
    assert body["open_failures"] == {"count": 3, "records": 3}
    assert sorted((r["record_key"], r["error_code"]) for r in body["failing_records"]) == [
        ("c-0", "REQUIRED_FIELD_MISSING"), ("c-1", "INVALID_EMAIL"), ("c-2", "INVALID_EMAIL")]
    assert body["failing_records"][0]["error_message"] in ("email 'x@@y' is not valid", "email 'z@@y' is not valid")
    assert "x-dbtsync-signature" not in {k.lower() for k in http_server.requests[0].headers}  # no secret: unsigned


def test_email_over_implicit_tls(tmp_path: Path, http_server: Any, tls_cert: tuple[str, str]) -> None:
    """``security: tls`` (port 465 style): TLS from the first byte."""
    import ssl

    from aiosmtpd.controller import Controller

    from tests.alerts.conftest import SmtpServer, _Handler

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(*tls_cert)
    server = SmtpServer("127.0.0.1", free_port())
    controller = Controller(_Handler(server), hostname=server.host, port=server.port, ssl_context=ctx)
    controller.start()
    try:
        settings = th.channels(server, http_server, tls_cert[0])
        settings["ops_email"].update(security="tls", username=None, password=None)
        out = send_test(th.project(tmp_path, settings), "ops_email")
    finally:
        controller.stop()
    assert (out["status"], out["error"]) == ("sent", None)
    assert len(server.messages) == 1 and server.messages[0]["From"] == "dbt-sync@example.com"


def test_a_down_channel_costs_one_short_budget_and_is_reported_once(
    tmp_path: Path, warehouse: Any, http_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A refused and a blackholed channel, with their default retries and timeouts (3 attempts, 10 s)."""
    import logging
    import socket
    import time

    from dbt_sync.alerts.evaluate import DELIVERY_BUDGET_SECONDS
    from dbt_sync.cli.run import render_summary

    blackhole = socket.socket()
    blackhole.bind(("127.0.0.1", 0))
    blackhole.listen(16)  # connections complete in the backlog; nothing ever answers
    try:
        project = th.project(tmp_path, {
            "slack": {"type": "slack", "webhook_url": http_server.url + th.SLACK_PATH},
            "refused": {"type": "webhook", "url": f"http://127.0.0.1:{free_port()}/hooks"},
            "blackhole": {"type": "webhook", "url": f"http://127.0.0.1:{blackhole.getsockname()[1]}/hooks"},
        })
        result = th.run("r1", th.bad_records())
        th.record(warehouse, result)
        started = time.monotonic()
        with caplog.at_level(logging.DEBUG, logger="dbt_sync"):
            result.alerts = evaluate_alerts(project, warehouse, result, now=th.T0)
        elapsed = time.monotonic() - started
    finally:
        blackhole.close()
    assert {a["channel"]: a["status"] for a in result.alerts} == {
        "slack": "sent", "refused": "failed", "blackhole": "failed"}
    assert elapsed < DELIVERY_BUDGET_SECONDS + 2.5, elapsed  # one after another: 3 + 30 s and more
    # reported once: in the run summary, not again as a log line
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    summary = render_summary(result)
    assert summary.count("via refused: failed") == 1 and summary.count("via blackhole: failed") == 1
