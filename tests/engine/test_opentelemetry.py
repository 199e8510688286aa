"""A real ``dbt-sync run`` exports its traces and metrics over OTLP/HTTP, and nothing else.

``dbt-sync run`` runs as a subprocess (the real CLI) on DuckDB against both
emulators, with ``OTEL_EXPORTER_OTLP_ENDPOINT`` pointing at a local OTLP/HTTP
receiver (tests/fixtures/otlp.py) that decodes the protobuf bodies. One
contact has an email both CRMs refuse and echo back; HubSpot's token is
wrong, so its syncs fail as a whole. The test checks the span tree (run →
sync → batch send / commit), the attributes, that the metrics equal the
run's results file, and that no record value, key or secret is in any byte
the receiver got. A second run without an endpoint sets up no SDK at all.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from typing import Any

import pytest

from dbt_sync import masking
from tests.engine.conftest import stack_for
from tests.fixtures.otlp import otlp_receiver

pytestmark = pytest.mark.slow

WRONG_TOKEN = "pat-na1-wrong-" + os.urandom(6).hex()
COLLECTOR_KEY = "collector-key-" + os.urandom(6).hex()
BAD_EMAIL = "Zoë." + os.urandom(4).hex().upper() + "@@Invalid Host.example"

#: the CLI, reporting at exit which OpenTelemetry modules the process loaded
CLI_PROBE = (
    "import atexit, sys\n"
    "atexit.register(lambda: print('OTEL_MODULES', sorted(m for m in sys.modules if m.startswith("
    "('opentelemetry.sdk', 'opentelemetry.exporter', 'opentelemetry.trace'))), file=sys.stderr))\n"
    "from dbt_sync.cli import main\n"
    "main()\n"
)


def dbt_sync_run(env: dict[str, str], project: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CLI_PROBE, "run", "--project-dir", str(project.path), "--profiles-dir",
         str(project.path)],
        env=env, cwd=project.path, capture_output=True, text=True, timeout=300, check=False,
    )


def loaded_otel_modules(stderr: str) -> list[str]:
    line = next(ln for ln in stderr.splitlines() if ln.startswith("OTEL_MODULES "))
    modules: list[str] = eval(line[len("OTEL_MODULES "):])  # a list literal printed by CLI_PROBE
    return modules


def test_a_run_exports_its_span_tree_and_metrics_without_values_or_secrets(dbt_project_factory: Any) -> None:
    project = dbt_project_factory("duckdb", "otel", build=False)
    header, rows = project.read_seed("raw_contacts")
    for row in rows:
        if row[0] == "C-2006":
            row[header.index("email")] = BAD_EMAIL
    project.write_seed("raw_contacts", header, rows)
    values = {v for name in ("raw_contacts", "raw_accounts", "raw_deals") for r in project.read_seed(name)[1]
              for v in r if len(v) >= 5 and v.lower() not in ("true", "false")}

    with stack_for(project) as stack, otlp_receiver() as receiver:
        stack.dbt("build")
        base = {**os.environ, **project.env, **stack.sandbox.env(), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
        base = {k: v for k, v in base.items() if not k.startswith("OTEL_")}
        env = {**base, "DBT_SYNC_HUBSPOT_TOKEN": WRONG_TOKEN, "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
               "OTEL_EXPORTER_OTLP_HEADERS": f"x-collector-key={COLLECTOR_KEY}", "OTEL_SERVICE_NAME": "crm-sync"}
        run = dbt_sync_run(env, project)
        assert run.returncode == 2, run.stdout + run.stderr  # HubSpot's syncs failed as a whole
        assert "opentelemetry.sdk.trace" in loaded_otel_modules(run.stderr)
        results = json.loads((project.path / "target" / "dbt_sync_results.json").read_text())
        by_name = {s["name"]: s for s in results["syncs"]}
        ran = {n for n, s in by_name.items() if s["status"] != "skipped"}
        assert by_name["contacts_to_salesforce"]["status"] == "partial"
        assert by_name["accounts_to_hubspot"]["status"] == "error"

        # -- the span tree: run -> sync -> batch send / commit, one trace
        spans = receiver.spans()
        assert {s.resource["service.name"] for s in spans} == {"crm-sync"}
        assert {s.scope for s in spans} == {"dbt_sync"}
        assert len({s.trace_id for s in spans}) == 1
        (root,) = [s for s in spans if s.name == "dbt-sync run"]
        assert root.parent_id == "" and root.attributes["dbt_sync.run.id"] == results["metadata"]["run_id"]
        assert root.attributes["dbt_sync.run.exit_code"] == 2
        assert root.status == 2 and root.attributes["error.type"] == "SYNC_FAILED"
        syncs = {s.attributes["dbt_sync.sync.name"]: s for s in spans if s.name.startswith("sync ")}
        assert set(syncs) == ran and all(s.parent_id == root.span_id for s in syncs.values())
        children: dict[str, list[Any]] = defaultdict(list)
        for span in spans:
            if span is not root and not span.name.startswith("sync "):
                parent = next(n for n, s in syncs.items() if s.span_id == span.parent_id)
                children[parent].append(span)
        for name, span in syncs.items():
            expected = by_name[name]
            attrs = span.attributes
            assert span.name == f"sync {name}"
            assert attrs["dbt_sync.destination.name"] == expected["destination"]
            assert attrs["dbt_sync.destination.type"] == expected["destination"]  # named after their type here
            assert attrs["dbt_sync.object"] == expected["object"]
            assert attrs["dbt_sync.sync.status"] == expected["status"]
            for figure in ("planned", "attempted", "succeeded", "failed", "created", "updated"):
                assert attrs[f"dbt_sync.records.{figure}"] == expected[figure], (name, figure)
            assert attrs["dbt_sync.requests"] == expected["api_usage"]["requests"]
            assert attrs["dbt_sync.retries"] == expected["retries"]
            batches = [c for c in children[name] if not c.name.startswith("commit ")]
            commits = [c for c in children[name] if c.name.startswith("commit ")]
            assert all(c.name == f"commit {name}" for c in commits)
            if expected["status"] == "error":
                assert span.status == 2 and attrs["error.type"] == "AUTHENTICATION_FAILED", attrs
                assert attrs["error.type"] in expected["error_codes"]
                # the token is refused on the first request: that batch's span failed, with the exception's class
                assert all(b.status == 2 and b.attributes["error.type"] == "DestinationError" for b in batches)
                assert not commits
                continue
            assert span.status == 0 and "error.type" not in attrs
            assert batches and commits
            for batch in batches:
                assert batch.name == f"{batch.attributes['dbt_sync.operation']} {expected['object']}"
                assert batch.attributes["dbt_sync.sync.name"] == name
                assert batch.attributes["dbt_sync.requests"] >= 1
            assert sum(b.attributes["dbt_sync.batch.size"] for b in batches) == expected["attempted"]
            assert sum(b.attributes["dbt_sync.records.succeeded"] for b in batches) == expected["succeeded"]
            assert sum(b.attributes["dbt_sync.records.failed"] for b in batches) == expected["failed"]
            assert sum(b.attributes["dbt_sync.requests"] for b in batches) <= expected["api_usage"]["requests"]
            assert sum(c.attributes["dbt_sync.commit.confirmed"] for c in commits) == expected["succeeded"]
            assert sum(c.attributes["dbt_sync.commit.failed"] for c in commits) == expected["failed"]

        # -- metrics: the results file's figures, per sync
        points = receiver.points()

        def value(metric: str, sync: str) -> float:
            (point,) = [p for p in points if p.metric == metric and p.attributes.get("dbt_sync.sync.name") == sync]
            assert point.attributes["dbt_sync.object"] == by_name[sync]["object"]
            return point.value

        for name in ran:
            expected = by_name[name]
            assert value("dbt_sync.attempted.records", name) == expected["attempted"]
            assert value("dbt_sync.succeeded.records", name) == expected["succeeded"]
            assert value("dbt_sync.failed.records", name) == expected["failed"]
            assert value("dbt_sync.api.requests", name) == expected["api_usage"]["requests"]
            assert value("dbt_sync.api.rate_limited.requests", name) == expected["api_usage"]["rate_limited"]
            assert value("dbt_sync.api.retries", name) == expected["retries"]
        durations = {p.metric: p for p in points if p.metric.endswith(".duration")}
        assert {p.unit for p in durations.values()} == {"s"}
        assert sum(p.count for p in points if p.metric == "dbt_sync.sync.duration") == len(ran)
        assert sum(p.count for p in points if p.metric == "dbt_sync.batch.duration") == sum(
            1 for s in spans if s.attributes.get("dbt_sync.batch.size") is not None)
        assert sum(p.count for p in points if p.metric == "dbt_sync.commit.duration") == sum(
            1 for s in spans if s.name.startswith("commit "))
        failed_sync = [p for p in points if p.metric == "dbt_sync.sync.duration" and p.attributes.get("error.type")]
        assert {p.attributes["dbt_sync.sync.name"] for p in failed_sync} == {
            n for n in ran if by_name[n]["status"] == "error"}

        # -- nothing the run must keep to itself reached the collector
        received = receiver.bodies().decode("utf-8", "replace")
        folded = masking.fold(received)
        leaked = sorted(v for v in values if v in received)
        assert not leaked, leaked
        assert not [form for form in masking.variants(BAD_EMAIL) if form in folded]
        for secret in (WRONG_TOKEN, COLLECTOR_KEY, stack.sandbox.env()["DBT_SYNC_SF_PASSWORD"]):
            assert secret not in received
        assert {r.headers.get("x-collector-key") for r in receiver.requests} == {COLLECTOR_KEY}

        # -- no endpoint: no SDK, nothing sent, nothing beyond the API imported
        receiver.requests.clear()
        quiet = dbt_sync_run({**base, "OTEL_SERVICE_NAME": "crm-sync"}, project)
        assert quiet.returncode in (0, 1), quiet.stdout + quiet.stderr
        assert loaded_otel_modules(quiet.stderr) == []
        assert receiver.requests == []
