"""dbt_sync/telemetry.py without a dbt run: where spans go, what is off, and a collector that is away.

The end-to-end check (a real ``dbt-sync run`` exporting to a local OTLP
receiver) is tests/engine/test_opentelemetry.py.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence

import pytest

from dbt_sync import secrets, telemetry
from dbt_sync.destinations.base import Operation, Record, RecordOutcome
from dbt_sync.engine.results import PARTIAL, RunResult, SyncResult
from dbt_sync.spec import SyncSpec
from tests.fixtures.otlp import otlp_receiver
from tests.fixtures.warehouses import REPO_ROOT

OTEL_VARS = [name for name in os.environ if name.startswith("OTEL_")]


@pytest.fixture(autouse=True)
def no_otel_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in OTEL_VARS:
        monkeypatch.delenv(name)
    yield


def spec() -> SyncSpec:
    return SyncSpec(
        name="contacts_to_hubspot", model_unique_id="model.p.dim_contacts", model_name="dim_contacts",
        location="models/crm.yml", destination="crm", destination_type="hubspot", object="contacts",
        mode="upsert", primary_key=("contact_id",), match="email", fields=(),
    )


def drive(tel: telemetry.Telemetry) -> None:
    """A run with one sync, one batch of two records (one refused) and one commit, through ``tel``."""
    result = SyncResult(name="contacts_to_hubspot", model="dim_contacts", destination="crm", object="contacts",
                        mode="upsert", status=PARTIAL, planned=2, created=1, failed=1)
    result.op("upsert").attempted, result.op("upsert").succeeded, result.op("upsert").failed = 2, 1, 1
    result.api_usage = {"requests": 3, "rate_limited": 1}
    result.retries = 1
    records = [Record("k1", {"email": "a@example.com"}), Record("k2", {"email": "bad"})]

    def send(op: Operation, batch: object) -> list[RecordOutcome]:
        return [RecordOutcome.ok("k1", "101", created=True), RecordOutcome.failed("k2", "INVALID_EMAIL", "bad: bad")]

    with tel.run("run1", None, "dev", False) as run:
        with tel.sync(spec()) as sync:
            assert tel.batch_sender(spec(), Operation.UPSERT, send)(Operation.UPSERT, records)[0].success
            with tel.commit(spec(), 1, 0, 1):
                pass
            sync.finish_sync(result)
        run.finish_run(RunResult(run_id="run1", started_at="now", syncs=[result]))


def test_off_without_an_endpoint_is_the_no_op_and_imports_nothing() -> None:
    tel = telemetry.start({})
    assert tel is telemetry.DISABLED and not tel.enabled
    def send(op: Operation, records: Sequence[Record]) -> list[RecordOutcome]:
        return []

    assert tel.batch_sender(spec(), Operation.UPSERT, send) is send  # the sender's own function: no wrapper
    assert tel.run("r", None, None, False) is tel.sync(spec()) is tel.commit(spec(), 1, 2, 3)  # one shared no-op
    drive(tel)
    # a fresh process: deciding "off" imports no OpenTelemetry module (dbt imports only opentelemetry.context)
    probe = (
        "import sys; from dbt_sync import telemetry; t = telemetry.start({}); "
        "print(t is telemetry.DISABLED, sorted(m for m in sys.modules if m.startswith(('opentelemetry.trace', "
        "'opentelemetry.metrics', 'opentelemetry.sdk', 'opentelemetry.exporter'))))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["OTEL_SERVICE_NAME"] = "crm-sync"  # not an endpoint: still off
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "True []"


def test_the_yaml_endpoint_and_headers_export_spans_and_metrics() -> None:
    key = "otel-collector-key-" + os.urandom(4).hex()
    with otlp_receiver() as receiver:
        tel = telemetry.start({"endpoint": receiver.url + "/", "headers": {"x-collector-key": key},
                               "timeout_seconds": 5})
        assert tel.enabled
        drive(tel)
        tel.shutdown()
        paths = sorted({r.path for r in receiver.requests})
        assert paths == ["/v1/metrics", "/v1/traces"]
        assert all(r.headers["x-collector-key"] == key for r in receiver.requests)
        spans = {s.name: s for s in receiver.spans()}
        assert set(spans) == {"dbt-sync run", "sync contacts_to_hubspot", "upsert contacts",
                              "commit contacts_to_hubspot"}
        run, sync = spans["dbt-sync run"], spans["sync contacts_to_hubspot"]
        assert sync.parent_id == run.span_id
        assert spans["upsert contacts"].parent_id == spans["commit contacts_to_hubspot"].parent_id == sync.span_id
        assert spans["upsert contacts"].kind == 3  # CLIENT: requests to the destination's API
        assert {s.kind for n, s in spans.items() if n != "upsert contacts"} == {1}  # INTERNAL
        batch = spans["upsert contacts"].attributes
        assert batch["dbt_sync.batch.size"] == 2
        assert (batch["dbt_sync.records.succeeded"], batch["dbt_sync.records.failed"]) == (1, 1)
        assert sync.resource["service.name"] == "dbt-sync"
        assert key.encode() not in receiver.bodies()
    assert secrets.redact(f"x {key}") == f"x {secrets.MASK}"  # a header value is a credential


def test_an_unreachable_collector_costs_at_most_the_timeout_and_warns(caplog: pytest.LogCaptureFixture) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()  # nothing listens: connection refused
    silent = socket.socket()  # accepts, never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    try:
        for url in (f"http://127.0.0.1:{closed_port}", f"http://127.0.0.1:{silent.getsockname()[1]}"):
            caplog.clear()
            tel = telemetry.start({"endpoint": url, "timeout_seconds": 1})
            drive(tel)
            started = time.monotonic()
            tel.shutdown()
            assert time.monotonic() - started < 2.5, url
            warnings = [r.getMessage() for r in caplog.records if r.name == "dbt_sync.telemetry"]
            assert warnings and "The run is not affected" in warnings[0], url
    finally:
        silent.close()


def test_an_application_tracer_provider_is_used_and_never_replaced() -> None:
    """Airflow or Dagster set the global TracerProvider first: dbt-sync's spans go there, even with an endpoint."""
    script = """
import json, sys
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from tests.engine_unit.test_telemetry import drive
from dbt_sync import telemetry

app = TracerProvider()
memory = InMemorySpanExporter()
app.add_span_processor(SimpleSpanProcessor(memory))
trace.set_tracer_provider(app)
with trace.get_tracer("airflow").start_as_current_span("airflow task"):
    tel = telemetry.start({})
    drive(tel)
    tel.shutdown()
with trace.get_tracer("airflow").start_as_current_span("after"):
    pass  # the application's provider still works: dbt-sync did not shut it down
spans = {s.name: s for s in memory.get_finished_spans()}
print(json.dumps({"names": sorted(spans), "same": trace.get_tracer_provider() is app,
                  "run_parent": spans["dbt-sync run"].parent.span_id == spans["airflow task"].context.span_id}))
"""
    with otlp_receiver() as receiver:
        env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url}
        done = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, env=env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        out = json.loads(done.stdout.strip().splitlines()[-1])
        assert out["same"] and out["run_parent"]
        assert out["names"] == ["after", "airflow task", "commit contacts_to_hubspot", "dbt-sync run",
                                "sync contacts_to_hubspot", "upsert contacts"]
        # no TracerProvider of dbt-sync's own: no span went to the endpoint (metrics do: the app set no MeterProvider)
        assert [r.path for r in receiver.requests if r.path == "/v1/traces"] == []
        assert [r.path for r in receiver.requests if r.path == "/v1/metrics"]


def test_an_endpoint_without_the_sdk_installed_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.resources", None)  # as if opentelemetry-sdk were missing
    tel = telemetry.start({})
    assert tel is telemetry.DISABLED
    (warning,) = [r.getMessage() for r in caplog.records if r.name == "dbt_sync.telemetry"]
    assert 'pip install "dbt-sync[otel]"' in warning and "nothing is exported" in warning


def test_otel_sdk_disabled_and_exporter_none_turn_export_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert telemetry.start({}) is telemetry.DISABLED
    monkeypatch.delenv("OTEL_SDK_DISABLED")
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")
    assert telemetry.start({"endpoint": "http://127.0.0.1:4318"}) is telemetry.DISABLED
