"""``dbt-sync report`` from real runs, opened in a real browser (headless Chromium, Debian's package).

The browser test runs dbt and both emulators through a small history: a first
run where an account's industry is not in Salesforce's restricted picklist and
a contact's masked email is invalid for both CRMs (alerts go out to a real
webhook receiver), then a data fix after which the accounts sync recovers.
It writes the report with the real CLI, opens it with no network allowed, and
checks what a person sees; the file must hold no secret and no masked value.

``DBT_SYNC_UPDATE_SCREENSHOT=1`` also writes the screenshot to
``docs/img/report.png``.
"""

from __future__ import annotations

import json
import os
import re
import secrets as pysecrets
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from dbt_sync import masking
from dbt_sync.api import build_options
from dbt_sync.cli import main
from dbt_sync.report import Caps, build_report
from tests.alerts.conftest import http_server  # noqa: F401 (the real webhook receiver)
from tests.engine.conftest import Stack, stack_for

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "docs" / "img" / "report.png"
REPORT_URL = "https://reports.example.com/dbt-sync/report.html"
HOOK_PATH = "/hooks/dbt-sync"


def chromium() -> str:
    """The system Chromium (scripts/ensure-chromium installs Debian's package)."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    assert path, "chromium is not installed: run scripts/ensure-chromium"
    return path


def embedded(text: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/json" id="dbt-sync-report-data">(.*?)</script>', text, re.S)
    assert match, "no embedded data"
    data: dict[str, Any] = json.loads(match.group(1))
    return data


def write_report(stack: Stack, output: Path, *args: str) -> str:
    with stack.environ():
        done = CliRunner().invoke(main, ["report", "--project-dir", str(stack.project.path), "--profiles-dir",
                                         str(stack.project.path), "--output", str(output), *args])
    assert done.exit_code == 0, done.output
    assert f"Wrote {output}" in done.output
    return output.read_text(encoding="utf-8")


def assert_matches_warehouse(stack: Stack, data: dict[str, Any]) -> None:
    """What the page embeds is what the audit tables hold (every open failure, every run, each last run)."""
    open_rows = stack.query("select sync_name, record_key, error_code from {schema}.dbt_sync_open_failures")
    runs = stack.query("select sync_name, run_id, status, failed from {schema}.dbt_sync_runs")
    assert data["syncs"]
    for sync in data["syncs"]:
        held = {(r["record_key"], r["error_code"]) for r in open_rows if r["sync_name"] == sync["name"]}
        assert {(f[0], f[1]) for f in sync["failures"]} == held
        assert sync["open_failures"] == len(held) == sum(c["count"] for c in sync["error_codes"])
        its_runs = {r["run_id"]: r for r in runs if r["sync_name"] == sync["name"]}
        assert len(sync["runs"]) == len(its_runs)
        last = its_runs[sync["last_run"]["run_id"]]
        assert (sync["last_run"]["status"], sync["last_run"]["failed"]) == (last["status"], last["failed"])


def edit_seed(project: Any, seed: str, edits: dict[str, dict[str, str]]) -> None:
    header, rows = project.read_seed(seed)
    for row in rows:
        for column, value in edits.get(row[0], {}).items():
            row[header.index(column)] = value
    project.write_seed(seed, header, rows)


def configure(project: Any, hook_url: str) -> None:
    config = yaml.safe_load((project.path / "dbt_sync.yml").read_text())
    config["channels"] = {"pager": {"type": "webhook", "url": hook_url, "attempts": 1}}
    config["defaults"] = {"alerts": {"channels": ["pager"], "failed_records": 1}}
    config["report_url"] = REPORT_URL
    (project.path / "dbt_sync.yml").write_text(yaml.safe_dump(config))


def test_report_in_a_browser(dbt_project_factory: Any, http_server: Any, tmp_path: Path) -> None:  # noqa: F811
    from playwright.sync_api import sync_playwright

    project = dbt_project_factory("duckdb", "report", build=False)
    masked = f"Zoë.{pysecrets.token_hex(5)}@@Invalid Host.example"  # invalid for both CRMs, masked (crm.yml)
    edit_seed(project, "raw_contacts", {"C-2006": {"email": masked}})
    edit_seed(project, "raw_accounts", {"A-1002": {"industry": "Spaceflight"}})
    configure(project, http_server.url + HOOK_PATH)
    with stack_for(project) as stack:
        stack.dbt("build")
        first = stack.run()
        assert first.sync("accounts_to_salesforce").failed == 1
        assert first.sync("contacts_to_salesforce").error_codes.keys() >= {
            "INVALID_EMAIL_ADDRESS", "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"}
        edit_seed(project, "raw_accounts", {"A-1002": {"industry": "Retail"}})
        stack.dbt("build", "--select", "raw_accounts+")
        second = stack.run()
        assert second.sync("accounts_to_salesforce").failed == 0
        secrets = [stack.sandbox.sf_password, stack.sandbox.hubspot.token]
        text = write_report(stack, tmp_path / "report.html")
        assert_matches_warehouse(stack, embedded(text))
        with stack.environ():
            capped = build_report(build_options(project.path, project.path),
                                  ["accounts_to_salesforce contacts_to_salesforce"],
                                  output=tmp_path / "capped.html", caps=Caps(runs=1, failures=1, alerts=1))

    # capped: the newest run, the oldest open failure and the newest alert embedded; every failure still counted
    accounts, contacts = embedded(capped.path.read_text(encoding="utf-8"))["syncs"]
    assert len(contacts["runs"]) == 1 and contacts["runs_capped"] and contacts["runs"][0][-2] == second.run_id
    assert len(contacts["failures"]) == 1 and contacts["open_failures"] == 2
    assert [a["kind"] for a in accounts["alerts"]] == ["recovery"] and accounts["alerts_capped"]

    # alerts link to the sync's part of the published report
    bodies = [json.loads(r.body) for r in http_server.requests if r.path == HOOK_PATH]
    kinds = {(b["sync"], b["kind"]) for b in bodies}
    assert {("accounts_to_salesforce", "failure"), ("accounts_to_salesforce", "recovery"),
            ("contacts_to_salesforce", "failure")} <= kinds
    assert all(b["report_url"] == f"{REPORT_URL}#sync-{b['sync']}" for b in bodies)

    # nothing secret or masked anywhere in the file, in any form
    folded = masking.fold(text)
    assert sorted(form for form in masking.variants(masked) if form in folded) == []
    assert [s for s in secrets if s in text] == []
    # self-contained: nothing is loaded from elsewhere; small (docs/report.md: about 80 KB, 53 KB of it uPlot)
    assert not re.search(r"<(?:script|link|img)[^>]+(?:src|href)=", text)
    print(f"report page: {len(text.encode('utf-8'))} bytes")
    assert len(text.encode("utf-8")) < 150_000

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        fetched: list[str] = []

        def only_the_file(route: Any) -> None:
            if route.request.url.startswith("file:"):
                route.continue_()
            else:
                fetched.append(route.request.url)
                route.abort()

        page.route("**/*", only_the_file)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto((tmp_path / "report.html").as_uri())
        page.wait_for_selector("body[data-ready=true]", timeout=10_000)
        assert errors == [] and fetched == []

        # the overview: one row per sync, with its health
        rows = page.locator("table.overview tbody tr")
        assert rows.count() == 6
        contacts = page.locator('table.overview tr[data-sync="contacts_to_salesforce"]')
        assert "failing since" in contacts.inner_text()
        assert "salesforce\tContact\tupsert" in contacts.inner_text()
        accounts = page.locator('table.overview tr[data-sync="accounts_to_salesforce"]')
        assert "healthy" in accounts.inner_text()
        # the plan graph: stages, and the contacts sync drawn after the accounts sync it looks up
        assert page.locator("svg.plan rect.node").count() == 6
        assert page.locator("svg.plan path.edge").count() >= 1
        assert page.locator("svg.plan text.stage").count() >= 2

        section = page.locator("#sync-contacts_to_salesforce")
        # the chart is drawn: canvas pixels painted, one legend entry per series
        painted = page.evaluate(
            """() => { const c = document.querySelector('#sync-contacts_to_salesforce .uplot canvas');
                       const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                       let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; }""")
        assert painted > 1000
        legend = section.locator(".u-legend").first.inner_text()
        assert "attempted" in legend and "succeeded" in legend and "failed" in legend
        # a failing record's key and (masked) message
        table = section.locator("table.failures-table tbody tr")
        assert table.count() == 2
        assert "C-2007" in section.locator("table.failures-table").inner_text()
        row_2006 = table.filter(has_text="C-2006").inner_text()
        assert "INVALID_EMAIL_ADDRESS" in row_2006 and "****" in row_2006
        # search by key narrows the table; the error-code filter too
        section.locator("input.search").fill("2007")
        assert table.count() == 1 and "C-2007" in table.first.inner_text()
        section.locator("input.search").fill("")
        section.locator("select.code-filter").select_option("INVALID_EMAIL_ADDRESS")
        assert table.count() == 1 and "C-2006" in table.first.inner_text()
        # top codes, alert history and the SQL to paste
        assert "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST" in section.locator("table.codes").inner_text()
        assert "failure" in section.locator("table.alerts").inner_text()
        assert "dbt_sync_open_failures" in section.locator("pre.sql").first.inner_text()
        assert "recovery" in page.locator("#sync-accounts_to_salesforce table.alerts").inner_text()

        shot = tmp_path / "report.png"
        page.evaluate("() => window.scrollTo(0, 0)")
        page.screenshot(path=str(shot))
        assert shot.stat().st_size > 10_000
        if os.environ.get("DBT_SYNC_UPDATE_SCREENSHOT"):
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shot, SCREENSHOT)
        browser.close()


@pytest.mark.postgres
def test_report_on_postgres(dbt_project_factory: Any, tmp_path: Path) -> None:
    """The same report from PostgreSQL (the browser test above is the DuckDB one)."""
    project = dbt_project_factory("postgres", "report_postgres")
    with stack_for(project) as stack:
        result = stack.run()
        failed = {s.name: s.failed for s in result.syncs}
        text = write_report(stack, tmp_path / "report.html", "--select", "contacts_to_salesforce contacts_to_hubspot",
                            "--days", "7")
        data = embedded(text)
        assert_matches_warehouse(stack, data)
    assert set(s["name"] for s in data["syncs"]) == {"contacts_to_salesforce", "contacts_to_hubspot"}
    assert data["days"] == 7 and data["target"] == "postgres"
    for sync in data["syncs"]:
        assert sync["last_run"]["failed"] == failed[sync["name"]] > 0 and len(sync["runs"]) == 1
    assert {f[0] for f in {s["name"]: s for s in data["syncs"]}["contacts_to_salesforce"]["failures"]} == {
        "C-2006", "C-2007"}
