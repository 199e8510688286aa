"""The report page without a warehouse: data embedded safely whatever it holds; report_url in config and alerts."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dbt_sync import secrets
from dbt_sync.alerts.health import FAILURE
from dbt_sync.alerts.render import build_payload, render_html, render_slack, render_text
from dbt_sync.project.config import validate_document
from dbt_sync.report.page import embed_json, render
from tests.alerts import helpers as th

HOSTILE = ["</script><script>alert(1)</script>", "<!-- x", "</SCRIPT >", "a\u2028b\u2029c", "<![CDATA[", "&amp;"]


def page_data(message: str, name: str = "contacts_to_salesforce") -> dict[str, Any]:
    return {
        "generated_at": "2026-01-01T00:00:00Z", "since": "2025-12-02T00:00:00Z", "days": 30, "target": "dev",
        "run_columns": [], "failure_columns": [], "caps": {"runs": 1, "failures": 1, "alerts": 1},
        "stages": [[name]], "edges": [],
        "syncs": [{"name": name, "failures": [["K-1", "CODE", message, 1, None]], "error_codes": [
            {"code": "CODE", "count": 1, "sample": message}]}],
    }


def embedded(text: str) -> Any:
    match = re.search(r'<script type="application/json" id="dbt-sync-report-data">(.*?)</script>', text, re.S)
    assert match
    return json.loads(match.group(1))


@pytest.mark.parametrize("value", HOSTILE)
def test_a_value_cannot_end_the_data_element_or_open_a_comment(value: str) -> None:
    text = render(page_data(value))
    scripts = re.findall(r"<script\b", text, re.I)
    assert len(scripts) == 3  # the data, uPlot, the page's own script: none added by a value
    data_part = text.split('id="dbt-sync-report-data">', 1)[1].split("</script>", 1)[0]
    assert "<" not in data_part and ">" not in data_part and "\u2028" not in data_part
    assert embedded(text)["syncs"][0]["failures"][0][2] == value


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
                    max_leaves=20))
def test_embedded_json_round_trips_and_holds_no_markup(value: Any) -> None:
    text = embed_json(value)
    assert json.loads(text) == value
    assert not re.search(r"[<>&\u2028\u2029]", text)


def test_a_registered_secret_never_reaches_the_page() -> None:
    secrets.clear()
    secrets.register(["s3cr3t-token-value"])
    try:
        text = render(page_data("login failed with s3cr3t-token-value"))
    finally:
        secrets.clear()
    assert "s3cr3t-token-value" not in text and "login failed with ****" in text


def test_report_url_is_validated_with_the_file() -> None:
    assert validate_document({"version": 1, "report_url": "https://reports.example.com/sync.html"}) == []
    for bad in ("reports.example.com/sync.html", "https://reports.example.com/sync.html#top", 3):
        (problem,) = validate_document({"version": 1, "report_url": bad})
        assert problem.startswith("report_url: expected an http(s) URL without a #fragment")


def test_alerts_link_to_the_sync_in_the_published_report() -> None:
    now = th.T0 + dt.timedelta(hours=1)
    sync = th.bad_records(at=now)
    payload = build_payload(FAILURE, sync, th.run("r1", sync, at=now), reason="failing", failures_sql="select 1",
                            failing_since=now, failing_seconds=None, dominant_error="INVALID_EMAIL", created_at=now,
                            report_url="https://reports.example.com/r.html")
    link = f"https://reports.example.com/r.html#sync-{sync.name}"
    assert payload["report_url"] == link
    assert f"Report: {link}" in " ".join(render_text(payload).split())
    assert f'<a href="{link}">' in render_html(payload)
    assert f"<{link}|Open the report for {sync.name}>" in json.dumps(render_slack(payload))
    unset = build_payload(FAILURE, sync, th.run("r1", sync, at=now), reason="failing", failures_sql=None,
                          failing_since=now, failing_seconds=None, dominant_error=None, created_at=now)
    assert unset["report_url"] is None and "Report" not in render_text(unset)


def test_report_command_checks_its_options() -> None:
    from click.testing import CliRunner

    from dbt_sync.cli import main

    done = CliRunner().invoke(main, ["report", "--days", "0"])
    assert done.exit_code == 2 and "--days" in done.output
    # regression: a day count past the calendar said "Internal error: OverflowError"
    for days in ("1000000", "99999999999"):
        huge = CliRunner().invoke(main, ["report", "--days", days])
        assert huge.exit_code == 2 and "not in the range 1<=x<=36500" in huge.output, huge.output
    helped = CliRunner().invoke(main, ["report", "--help"])
    assert helped.exit_code == 0 and "dbt_sync_report.html in dbt's target" in " ".join(helped.output.split())
