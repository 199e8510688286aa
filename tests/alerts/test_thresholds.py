"""When a sync is failing: count and share thresholds over its open failures, per sync over project defaults.

Here each sync's records are ``attempted`` records of which ``failed`` are failing (open failures).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dbt_sync.alerts.health import BUILTIN_FAILED_RECORDS, BUILTIN_FAILED_SHARE, OpenFailures, assess, resolve_policy
from dbt_sync.alerts.store import AlertStore
from dbt_sync.spec import AlertSpec
from tests.alerts import helpers as th

ALL = ("email", "slack")


@pytest.mark.parametrize(
    ("attempted", "failed", "failing"),
    [
        (1000, 0, False),
        (1000, 9, False),  # 0.9%: under both built-in thresholds
        (1000, 10, True),  # count reached
        (100, 5, True),  # share reached (5%)
        (100, 4, False),
        (3, 1, True),  # a third of a small sync failing is worth a person's time
    ],
)
def test_builtin_thresholds(attempted: int, failed: int, failing: bool) -> None:
    policy = resolve_policy(None, None, ALL)
    assert (policy.failed_records, policy.failed_share) == (BUILTIN_FAILED_RECORDS, BUILTIN_FAILED_SHARE)
    open_failures = OpenFailures(count=failed, records=attempted)
    result = th.sync_result(status="partial", attempted=attempted, failed=failed)
    assert assess(result, policy, open_failures).failing is failing


def test_sync_settings_override_project_defaults_key_by_key() -> None:
    defaults = {"failed_records": 100, "failed_share": 0.5, "channels": ["slack"], "remind_after_hours": 12}
    project_only = resolve_policy(None, defaults, ALL)
    assert (project_only.failed_records, project_only.failed_share, project_only.channels,
            project_only.remind_after_hours) == (100, 0.5, ("slack",), 12)
    own = resolve_policy(AlertSpec(failed_records=1, channels=("email",)), defaults, ALL)
    assert (own.failed_records, own.failed_share, own.channels, own.remind_after_hours) == (1, 0.5, ("email",), 12)
    assert resolve_policy(None, None, ALL).channels == ALL  # no choice anywhere: every channel
    assert resolve_policy(AlertSpec(enabled=False), defaults, ALL).enabled is False


@pytest.mark.parametrize(
    ("alerts", "attempted", "failed", "failing"),
    [
        (AlertSpec(failed_records=1), 100_000, 1, True),  # "tell me about any failed record"
        (AlertSpec(failed_share=0.2, failed_records=1_000_000), 100, 19, False),  # share only
        (AlertSpec(failed_share=0.2, failed_records=1_000_000), 100, 20, True),
        (AlertSpec(failed_records=0), 100_000, 1, True),  # 0 means any failure, never "always failing"
        (AlertSpec(failed_records=0), 100_000, 0, False),
    ],
)
def test_per_sync_thresholds(alerts: AlertSpec, attempted: int, failed: int, failing: bool) -> None:
    policy = resolve_policy(alerts, {"failed_records": 50, "failed_share": 0.5}, ALL)
    open_failures = OpenFailures(count=failed, records=attempted)
    result = th.sync_result(status="partial", attempted=attempted, failed=failed)
    assert assess(result, policy, open_failures).failing is failing


def test_whole_sync_error_is_failing_whatever_the_thresholds() -> None:
    policy = resolve_policy(AlertSpec(failed_records=1_000_000, failed_share=1.0), None, ALL)
    assert assess(th.sync_error(), policy).failing is True


def test_thresholds_through_the_warehouse_per_sync(tmp_path: Path, warehouse: Any, http_server: Any) -> None:
    """Two syncs, same run, same failures: only the strict one alerts; the other stays healthy."""
    specs = [th.spec("strict", AlertSpec(failed_records=1)), th.spec("lenient")]
    project = th.project(tmp_path, {"slack": {"type": "slack", "webhook_url": http_server.url + th.SLACK_PATH}},
                         defaults={"failed_records": 50, "failed_share": 0.5}, specs=specs)
    result = th.run("r1", th.bad_records("strict", failed=20), th.bad_records("lenient", failed=20))
    out = th.evaluate(project, warehouse, result, now=th.T0)
    assert [(a["sync"], a["kind"]) for a in out] == [("strict", "failure")]
    health = AlertStore(warehouse).load_health(["strict", "lenient"])
    assert (health["strict"].state, health["lenient"].state) == ("failing", "healthy")
    body = th.slack_bodies(http_server)[0]
    assert "20 of 200 records failing (10.0%); alert threshold: 1 record or 50.0%" in body["blocks"][1]["text"]["text"]


def test_disabled_alerts_track_health_but_send_nothing(tmp_path: Path, warehouse: Any, http_server: Any) -> None:
    project = th.project(tmp_path, {"slack": {"type": "slack", "webhook_url": http_server.url + th.SLACK_PATH}},
                         specs=[th.spec("contacts_to_hubspot", AlertSpec(enabled=False))])
    assert th.evaluate(project, warehouse, th.run("r1", th.bad_records()), now=th.T0) == []
    assert http_server.requests == []
    assert AlertStore(warehouse).load_health(["contacts_to_hubspot"])["contacts_to_hubspot"].state == "failing"
