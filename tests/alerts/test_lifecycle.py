"""Lifecycle events (``channels.<name>.events``): validated up front, signed as alerts are, bounded in time.

The end-to-end path (a real run, a local server checking the HMAC of every
body) is in tests/engine/test_json_logs.py; these cover the rules around it
without a run.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from dbt_sync import secrets
from dbt_sync.alerts.lifecycle import LifecycleEvents, subscribed
from dbt_sync.cli import main
from dbt_sync.engine.events import RunStarted
from dbt_sync.engine.results import PARTIAL, OperationCounts, RunResult, SyncResult
from dbt_sync.project.config import load_config
from tests.core.builders import ProjectBuilder, hs_sync


@pytest.fixture(autouse=True)
def _forget_secrets() -> None:
    secrets.clear()


def config_with(tmp_path: Path, channels: dict[str, Any]) -> Any:
    (tmp_path / "dbt_sync.yml").write_text(yaml.safe_dump({"version": 1, "channels": channels}), encoding="utf-8")
    return load_config(tmp_path, environ={})


def test_an_unknown_event_name_is_one_error_naming_its_yaml_path_and_the_allowed_events(tmp_path: Path) -> None:
    b = ProjectBuilder(tmp_path)
    b.write_config(yaml.safe_dump({
        "version": 1,
        "destinations": {"hubspot": {"type": "hubspot", "access_token": "pat-na1-secret"}},
        "channels": {"ops": {"type": "webhook", "url": "http://127.0.0.1:9/hook",
                             "events": ["sync.completed", "run.finished"]}},
    }))
    b.model("dim_contacts", [hs_sync("contacts_hs")])
    b.write()
    result = CliRunner().invoke(main, ["validate", "--project-dir", str(tmp_path)], catch_exceptions=False)
    assert result.exit_code == 2
    assert "channels.ops.events[1]: 'run.finished' is not allowed. Allowed: run.completed, sync.completed." \
        in result.output


def test_only_webhook_channels_take_events(tmp_path: Path) -> None:
    from dbt_sync.errors import ConfigError

    with pytest.raises(ConfigError, match=r"channels\.team\.events: unknown key"):
        config_with(tmp_path, {"team": {"type": "slack", "webhook_url": "https://hooks.example/x",
                                        "events": ["run.completed"]}})


def test_an_event_listed_twice_is_refused_not_sent_twice(tmp_path: Path) -> None:
    """``events: [sync.completed, sync.completed]`` subscribed the channel twice: every sync.completed was
    POSTed to it twice per sync. It is one error naming the yaml path and what is allowed."""
    from dbt_sync.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        config_with(tmp_path, {"ops": {"type": "webhook", "url": "http://127.0.0.1:9/hook",
                                       "events": ["sync.completed", "sync.completed", "run.completed"]}})
    assert "channels.ops.events: expected each event at most once (run.completed, sync.completed)" in str(info.value)


def test_channels_without_events_get_none(tmp_path: Path) -> None:
    config = config_with(tmp_path, {
        "alerts_only": {"type": "webhook", "url": "http://127.0.0.1:9/a"},
        "both": {"type": "webhook", "url": "http://127.0.0.1:9/b", "events": ["sync.completed", "run.completed"]},
        "runs": {"type": "webhook", "url": "http://127.0.0.1:9/c", "events": ["run.completed"]},
    })
    found = {event: sorted(c.name for c in channels) for event, channels in subscribed(config).items()}
    assert found == {"sync.completed": ["both"], "run.completed": ["both", "runs"]}
    assert LifecycleEvents.for_config(config_with(tmp_path, {"a": {"type": "webhook", "url": "http://x.example/a"}})) \
        is None


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A server that accepts connections and never answers (a hung monitoring endpoint)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/hook"


def run_with_one_sync() -> tuple[RunResult, SyncResult]:
    sync = SyncResult(name="contacts_hs", model="dim_contacts", destination="hubspot", object="contacts",
                      mode="upsert", status=PARTIAL, planned=3, created=2, failed=1)
    sync.operations["upsert"] = OperationCounts(attempted=3, succeeded=2, failed=1)
    sync.count_error("INVALID_EMAIL", "Email address jane@@example.com is invalid")
    run = RunResult(run_id="r1", started_at="2026-01-31T12:00:00+00:00", finished_at="2026-01-31T12:00:05+00:00")
    run.syncs.append(sync)
    return run, sync


def test_a_webhook_that_never_answers_delays_the_run_end_by_the_budget_at_most(
    tmp_path: Path, silent_server: str
) -> None:
    config = config_with(tmp_path, {"hung": {"type": "webhook", "url": silent_server, "timeout_seconds": 60,
                                             "attempts": 5, "events": ["sync.completed", "run.completed"]}})
    sender = LifecycleEvents(subscribed(config), budget_seconds=1.0)
    run, sync = run_with_one_sync()
    sender.run_started(RunStarted(run_id="r1", started_at=run.started_at))
    started = time.monotonic()
    sender.sync_finished(sync)
    outcomes = sender.finish(run)
    elapsed = time.monotonic() - started
    assert elapsed < 4, f"the run's end waited {elapsed:.1f} s for a hung webhook"
    assert {(o["event"], o["status"]) for o in outcomes} == {("sync.completed", "failed"), ("run.completed", "failed")}
    assert len([w for w in run.warnings if "hung" in w]) == 2
    assert run.exit_code == 1, "a refused event changes nothing about the run's outcome"


def test_events_are_signed_by_the_alert_webhooks_signer_and_carry_no_record_value(
    tmp_path: Path, http_server: Any
) -> None:
    config = config_with(tmp_path, {"ops": {
        "type": "webhook", "url": http_server.url + "/ops", "secret": "s3cr3t-value", "headers": {"X-Team": "data"},
        "events": ["sync.completed"],
    }})
    sender = LifecycleEvents(subscribed(config))
    run, sync = run_with_one_sync()
    sender.run_started(RunStarted(run_id="r1", started_at=run.started_at))
    sender.sync_finished(sync)
    assert [o["status"] for o in sender.finish(run)] == ["sent"]
    (request,) = http_server.to("/ops")
    from dbt_sync.alerts.channels.webhook import signature

    assert request.headers["X-DbtSync-Signature"] == signature("s3cr3t-value", request.body)
    assert hmac.compare_digest(
        request.headers["X-DbtSync-Signature"],
        "sha256=" + hmac.new(b"s3cr3t-value", request.body, hashlib.sha256).hexdigest(),
    )
    assert request.headers["X-Team"] == "data" and request.headers["X-DbtSync-Event"] == "sync.completed"
    body = json.loads(request.body)
    assert body["sync"]["error_codes"] == {"INVALID_EMAIL": 1} and body["sync"]["failed"] == 1
    assert "jane@@example.com" not in request.body.decode() and "s3cr3t-value" not in request.body.decode()
    assert run.warnings == []


def test_the_readme_receiver_takes_lifecycle_events_and_the_alerts_of_the_same_channel(
    tmp_path: Path, http_server: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """README's receiver, copied as written: a channel with ``events`` also receives alerts on the same URL,
    whose body has ``kind`` and no ``event``; the receiver read ``event["event"]`` and raised KeyError on them
    (the webhook answers 500, and the alert is recorded as undelivered)."""
    import re
    from types import SimpleNamespace

    from dbt_sync.alerts import send_test

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    code = re.search(r"<!-- readme-receiver -->\s*```python\n(.*?)\n```", readme, re.S)
    assert code is not None, "README's receiver example is marked <!-- readme-receiver -->"
    namespace: dict[str, Any] = {}
    exec(compile(code.group(1), "README.md receiver", "exec"), namespace)
    config = config_with(tmp_path, {"monitoring": {
        "type": "webhook", "url": http_server.url + "/m", "secret": "s3cr3t-value", "events": ["sync.completed"],
    }})
    sender = LifecycleEvents(subscribed(config))
    run, sync = run_with_one_sync()
    sender.run_started(RunStarted(run_id="r1", started_at=run.started_at))
    sender.sync_finished(sync)
    assert [o["status"] for o in sender.finish(run)] == ["sent"]
    assert send_test(SimpleNamespace(config=config), "monitoring")["status"] == "sent"
    requests = http_server.to("/m")
    assert len(requests) == 2
    for request in requests:
        namespace["on_post"](request.body, dict(request.headers), "s3cr3t-value")
    assert capsys.readouterr().out.splitlines() == ["contacts_hs partial 3 2 1"]
