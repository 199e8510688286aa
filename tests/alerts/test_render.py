"""Golden files for every rendering, with fixed ids and timestamps.

Regenerate after an intended change with ``UPDATE_GOLDEN=1 pytest tests/alerts/test_render.py``
and review the diff: these files are what people will read.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import pytest

from dbt_sync.alerts.channels.base import Settings
from dbt_sync.alerts.channels.email import build_message
from dbt_sync.alerts.channels.webhook import body_bytes, signature
from dbt_sync.alerts.health import FAILURE, RECOVERY, REMINDER, OpenFailures
from dbt_sync.alerts.render import build_payload, duration, render_html, render_slack, render_text, subject
from dbt_sync.project.config import ChannelConfig
from tests.alerts import helpers as th

GOLDEN = Path(__file__).parent / "golden"
FAILURES_SQL = (
    "select record_key, operation, error_code, error_message, error_fields, attempt, first_failed_at\n"
    'from "warehouse"."analytics_dbt_sync"."dbt_sync_open_failures"\n'
    "where sync_name = 'contacts_to_hubspot'\n"
    "order by error_code, record_key"
)
ALERT_ID = "0123456789abcdef0123456789abcdef"
OPEN = OpenFailures(count=40, records=200, by_code={"INVALID_EMAIL": 35, "PROPERTY_DOESNT_EXIST": 5}, sample=(
    {"record_key": "C-2041", "error_code": "INVALID_EMAIL", "error_message": "Email address **** is invalid"},
    {"record_key": "C-2040", "error_code": "PROPERTY_DOESNT_EXIST",
     "error_message": 'Property "lead_grade" does not exist'},
))


def _payload(kind: str) -> dict[str, Any]:
    now = th.T0 + dt.timedelta(hours=5, minutes=3)
    if kind == RECOVERY:
        sync = th.ok(at=now)
        reason = "all 200 records succeeded"
    else:
        sync = th.bad_records(at=now)
        sync.message = "40 records failed: see dbt_sync_failures"
        reason = "40 of 200 records failing (20.0%); alert threshold: 10 records or 5.0%"
    since = th.T0 if kind != FAILURE else now
    seconds = None if kind == FAILURE else (now - th.T0).total_seconds()
    return build_payload(
        kind, sync, th.run("2024-05-06T13-00-00-ab12cd", sync, at=now), reason=reason,
        failures_sql=None if kind == RECOVERY else FAILURES_SQL, failing_since=since, failing_seconds=seconds,
        dominant_error="INVALID_EMAIL", created_at=now,
        open_failures=OPEN if kind != RECOVERY else None, failing_kind="records" if kind != RECOVERY else None,
    )


def _check(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"missing golden file {path}; run with UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8"), f"{name} changed; review, then UPDATE_GOLDEN=1"


@pytest.mark.parametrize("kind", [FAILURE, REMINDER, RECOVERY])
def test_golden_renderings(kind: str) -> None:
    payload = _payload(kind)
    _check(f"{kind}.txt", subject(payload) + "\n\n" + render_text(payload))
    _check(f"{kind}.html", render_html(payload))
    _check(f"{kind}.slack.json", json.dumps(render_slack(payload), indent=2, ensure_ascii=False) + "\n")
    body = body_bytes(payload, ALERT_ID, "pager")
    _check(f"{kind}.webhook.json", json.dumps(json.loads(body), indent=2, ensure_ascii=False) + "\n")


def test_failure_content_has_everything_needed_to_act() -> None:
    payload = _payload(FAILURE)
    text = render_text(payload)
    for needed in ("contacts_to_hubspot", "dim_contacts", "hubspot / contacts", "2024-05-06T13-00-00-ab12cd",
                   "200 attempted, 160 succeeded, 40 failed", "INVALID_EMAIL x35", "PROPERTY_DOESNT_EXIST x5",
                   "bob@@example", FAILURES_SQL, "2024-05-06 13:03:00 UTC"):
        assert needed in text
    recovery = render_text(_payload(RECOVERY))
    assert "RECOVERED after failing for 5 h 3 min" in recovery and "dbt_sync_open_failures" not in recovery


@pytest.mark.parametrize("kind", [FAILURE, REMINDER, RECOVERY])
def test_webhook_body_follows_the_documented_schema(kind: str) -> None:
    th.validate_payload(json.loads(body_bytes(_payload(kind), ALERT_ID, "pager")))


def test_the_schema_rejects_what_the_docs_rule_out() -> None:
    import jsonschema

    bad = json.loads(body_bytes(_payload(RECOVERY), ALERT_ID, "pager"))
    bad["failures_sql"] = "select 1"  # docs: null for a recovery
    with pytest.raises(jsonschema.ValidationError):
        th.validate_payload(bad)
    bad = json.loads(body_bytes(_payload(FAILURE), ALERT_ID, "pager"))
    bad["run"]["target"] = None  # the target in use is always known
    with pytest.raises(jsonschema.ValidationError):
        th.validate_payload(bad)


def test_webhook_schema_is_stable_and_signed() -> None:
    body = body_bytes(_payload(FAILURE), ALERT_ID, "pager")
    data = json.loads(body)
    schema = json.loads(th.SCHEMA_PATH.read_text())
    assert sorted(data) == sorted([*schema["required"], "alert_id", "channel"]) == sorted(schema["properties"])
    assert data["errors"][0] == {"code": "INVALID_EMAIL", "count": 35,
                                 "sample": "Property values were not valid: email 'bob@@example' is not a valid email"}
    assert signature("s3cret", body) == signature("s3cret", body_bytes(_payload(FAILURE), ALERT_ID, "pager"))
    assert signature("s3cret", body) != signature("other", body)


def test_slack_respects_block_kit_limits() -> None:
    payload = _payload(FAILURE)
    payload["sync"] = "x" * 300
    payload["errors"] = [{"code": "E" * 50, "count": 1, "sample": "<b>&" * 2000}]
    blocks = render_slack(payload)["blocks"]
    assert len(blocks[0]["text"]["text"]) <= 150
    for block in blocks:
        if "text" in block and block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
        for f in block.get("fields", []):
            assert len(f["text"]) <= 2000
    assert "<b>" not in json.dumps(blocks)  # escaped, so Slack cannot read it as a link or mention


def test_email_is_multipart_text_and_html() -> None:
    settings = Settings(ChannelConfig("ops", "email", {"type": "email", "host": "h", "from": "a@example.com",
                                                       "to": "b@example.com, c@example.com"}))
    msg = build_message(settings, _payload(FAILURE), ALERT_ID)
    assert msg["To"] == "b@example.com, c@example.com"
    assert msg["Subject"] == "[dbt-sync] FAILING: contacts_to_hubspot (40 of 200 records failed)"
    assert msg.get_content_type() == "multipart/alternative"
    parts = {p.get_content_type(): p.get_content() for p in msg.iter_parts()}  # type: ignore[attr-defined]
    assert "INVALID_EMAIL" in parts["text/plain"] and "<code>INVALID_EMAIL</code>" in parts["text/html"]
    assert "bob@@example" in parts["text/html"]


@pytest.mark.parametrize(("seconds", "text"), [
    (None, None), (10, "less than a minute"), (59 * 60, "59 min"), (3600, "1 h"), (3 * 3600 + 720, "3 h 12 min"),
    (26 * 3600, "1 d 2 h"), (48 * 3600, "2 d"),
])
def test_durations(seconds: float | None, text: str | None) -> None:
    assert duration(seconds) == text
