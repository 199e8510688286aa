"""``--log-format json``, ``--quiet`` and lifecycle webhook events from the real CLI on DuckDB against both
emulators.

The first run of integration_tests creates records in both CRMs and has
record failures (two contacts Salesforce refuses, one HubSpot refuses), so
its log holds info and error-level events. Every line of stderr must parse
on its own and follow docs/log-events.schema.json; the sync and run events
must carry what the results file holds. Two webhook channels ask for
lifecycle events: one receives them (a local server checks each body's
HMAC signature and docs/lifecycle-event.schema.json, and that no record
value is in it), the other answers 503, which is a warning, not a failure.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from tests.engine.conftest import stack_for

pytestmark = pytest.mark.slow

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "docs" / "log-events.schema.json").read_text())
VALIDATOR = Draft202012Validator(SCHEMA)
LIFECYCLE = Draft202012Validator(
    json.loads((Path(__file__).resolve().parents[2] / "docs" / "lifecycle-event.schema.json").read_text())
)
SECRET = "lifecycle-signing-secret-7f3a"


def parse_lines(text: str) -> list[dict[str, Any]]:
    """Every line of ``text`` as a JSON event that follows the schema (raises on the first that does not)."""
    events = []
    for number, line in enumerate(text.splitlines(), 1):
        event = json.loads(line)  # one JSON object per line, nothing else
        errors = sorted(VALIDATOR.iter_errors(event), key=str)
        assert not errors, f"line {number} does not follow docs/log-events.schema.json: {errors[0]}\n{line}"
        events.append(event)
    return events


def cli(env: dict[str, str], project: Any, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dbt_sync", *args, "--project-dir", str(project.path),
         "--profiles-dir", str(project.path)],
        env=env, cwd=project.path, capture_output=True, text=True, timeout=300, check=False,
    )


def test_json_logs_parse_line_by_line_and_carry_the_results(dbt_project_factory: Any, http_server: Any) -> None:
    project = dbt_project_factory("duckdb", "json_logs")
    config = yaml.safe_load((project.path / "dbt_sync.yml").read_text())
    config["channels"] = {
        "monitor": {"type": "webhook", "url": http_server.url + "/monitor", "secret": SECRET,
                    "events": ["run.completed", "sync.completed"], "attempts": 2, "backoff_seconds": 0.01},
        "down": {"type": "webhook", "url": http_server.url + "/down", "events": ["run.completed"],
                 "attempts": 2, "backoff_seconds": 0.01, "timeout_seconds": 2},
    }
    (project.path / "dbt_sync.yml").write_text(yaml.safe_dump(config))
    http_server.status["/down"] = 503
    with stack_for(project) as stack:
        env = {**os.environ, **project.env, **stack.sandbox.env(), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
        env.pop("DBT_QUIET", None)

        # -- a run with record failures, in json format ------------------------------------------------
        first = cli({**env, "DBT_LOG_FORMAT": "json"}, project, "run")
        assert first.returncode == 1, first.stderr
        assert first.stdout == "", "json format: no summary on stdout (RunFinished carries it)"
        events = parse_lines(first.stderr)
        names = [e["info"]["name"] for e in events]
        assert names.count("RunStarted") == 1 and names[-1] == "RunFinished", names
        events = events[names.index("RunStarted"):]  # log lines of the start-up may come first
        results = json.loads((project.path / "target" / "dbt_sync_results.json").read_text())
        finished = events[-1]["data"]
        assert finished["results_path"] == str(project.path / "target" / "dbt_sync_results.json")
        for key in ("started_at", "finished_at", "exit_code", "totals", "syncs", "alerts", "warnings"):
            assert finished[key] == results[key], key
        assert finished["exit_code"] == 1
        run_id = results["metadata"]["run_id"]
        assert events[0]["data"]["metadata"]["run_id"] == run_id
        assert all(e["info"]["run_id"] == run_id for e in events), "every event of the run names it"

        planned = events[0]["data"]["syncs"]
        assert sorted(planned) == sorted(s["name"] for s in results["syncs"] if s["skip_cause"] != "plan")
        by_sync: dict[str, list[dict[str, Any]]] = {}
        for event in events:
            sync = event["data"].get("sync")
            if isinstance(sync, dict):
                by_sync.setdefault(sync["name"], []).append(event)
        for entry in results["syncs"]:
            if entry["skip_cause"] == "plan":
                continue  # left out by the plan: its SyncFinished only
            mine = by_sync[entry["name"]]
            kinds = [e["info"]["name"] for e in mine]
            assert kinds[0] == "SyncStarted" and kinds[-1] == "SyncFinished" and kinds.count("SyncFinished") == 1
            progress = [e["data"]["sync"] for e in mine if e["info"]["name"] == "SyncProgress"]
            assert progress[0] == {"name": entry["name"], "done": 0, "total": entry["planned"]}
            end = mine[-1]
            assert end["data"]["sync"] == entry, "SyncFinished carries the results file's entry"
            assert end["info"]["level"] == ("error" if entry["failed"] or entry["status"] == "error" else "info")
            assert len({e["info"]["thread"] for e in mine}) == 1
        assert results["totals"]["failed"] == 3
        failing = {e["data"]["sync"]["name"] for e in events if e["info"]["level"] == "error"}
        assert failing == {"contacts_to_salesforce", "contacts_to_hubspot"}

        # -- lifecycle events: signed, documented, the results' figures, no record values ------------------
        received = [r for r in http_server.to("/monitor") if "X-DbtSync-Event" in r.headers]
        bodies = []
        for request in received:
            expected = "sha256=" + hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
            assert hmac.compare_digest(request.headers["X-DbtSync-Signature"], expected)
            body = json.loads(request.body)
            assert not sorted(LIFECYCLE.iter_errors(body), key=str), body
            assert body["event"] == request.headers["X-DbtSync-Event"]
            assert body["event_id"] == request.headers["X-DbtSync-Event-Id"]
            assert body["run"]["run_id"] == run_id
            bodies.append(body)
        ran = [entry for entry in results["syncs"] if entry["skip_cause"] != "plan"]
        per_sync = {b["sync"]["name"]: b["sync"] for b in bodies if b["event"] == "sync.completed"}
        assert sorted(per_sync) == sorted(entry["name"] for entry in ran), "one sync.completed per sync that ran"
        (run_completed,) = [b for b in bodies if b["event"] == "run.completed"]
        assert run_completed["run"]["exit_code"] == 1 and run_completed["run"]["totals"] == results["totals"]
        figures = ("status", "planned", "created", "updated", "deleted", "failed", "attempted", "succeeded",
                   "error_codes", "operations")
        for entry in ran:
            assert {k: per_sync[entry["name"]][k] for k in figures} == {k: entry[k] for k in figures}
        assert [s["name"] for s in run_completed["syncs"]] == [s["name"] for s in results["syncs"]]
        header, rows = project.read_seed("raw_contacts")
        values = {row[header.index(c)] for row in rows for c in ("email", "first_name", "last_name", "phone")}
        raw = b"".join(r.body for r in received).decode()
        assert not [v for v in values if len(v) >= 4 and v in raw], "no record value in a lifecycle event"
        # the channel that refused it: a warning in the results and the log, the run's exit code unchanged
        assert len(http_server.to("/down")) >= 2
        (warning,) = [w for w in results["warnings"] if "lifecycle" in w]
        assert "run.completed" in warning and "down" in warning and "503" in warning
        assert [e["data"]["warning"] for e in events if e["info"]["name"] == "RunWarning"] == [warning]

        # -- --json --quiet with json logs: the results document on stdout, on one line; on stderr only the
        # error-level events (the failing sync's end) ----------------------------------------------------
        again = cli(env, project, "run", "-s", "contacts_to_hubspot", "--all", "--json", "-q", "--log-format", "json")
        assert again.returncode == 1, again.stderr
        assert len(again.stdout.splitlines()) == 1
        document = json.loads(again.stdout)
        assert document["exit_code"] == 1 and document["metadata"]["run_id"] != run_id
        (only,) = parse_lines(again.stderr)
        assert (only["info"]["name"], only["info"]["level"]) == ("SyncFinished", "error")
        assert only["data"]["sync"] == document["syncs"][0]

        # -- --quiet in text (DBT_QUIET): no summary, one line for the failing sync --------------------------
        text = cli({**env, "DBT_QUIET": "true"}, project, "run", "-s", "contacts_to_salesforce", "--all")
        assert text.returncode == 1 and text.stdout == ""
        (line,) = text.stderr.splitlines()
        assert "PARTIAL" in line and "contacts_to_salesforce" in line and "failed 2" in line

        # -- an error that ends the command is a JSON event too -----------------------------------------
        bad = cli(env, project, "run", "--log-format", "json", "--target", "no_such_target")
        assert bad.returncode == 2 and bad.stdout == ""
        (error,) = parse_lines(bad.stderr)
        assert error["info"]["name"] == "MainEncounteredError" and error["info"]["level"] == "error"
        assert "no_such_target" in error["info"]["msg"] and error["data"]["exit_code"] == 2
