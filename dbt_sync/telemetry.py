"""OpenTelemetry traces and metrics of a run, exported over OTLP/HTTP (docs/observability.md).

Traces: a ``dbt-sync run`` span; under it a ``sync <name>`` span per sync
that ran; under each sync a ``<operation> <object>`` span per batch sent
(the ``write()`` calls of one batch, with its retries and splits) and a
``commit <name>`` span per commit of a batch's outcomes. Metrics: records
attempted / succeeded / failed, API requests, 429s and retries per sync
(counters), and the durations of runs, syncs, batch sends and commits
(histograms, seconds). Attribute and metric names are listed in
docs/observability.md; they follow OpenTelemetry's semantic conventions
where one applies (``error.type``, ``service.name``, units) and use the
``dbt_sync.*`` namespace for the rest.

Only names, counts, codes and durations are recorded: never a record's
values or keys, a secret, or an error message (which may quote either).

Where the data goes, decided once per run by :func:`start`:

- a TracerProvider / MeterProvider the embedding application set globally
  (Airflow, Dagster, ``opentelemetry-instrument``): used as is, never replaced
  nor shut down;
- otherwise, when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``..._TRACES_ENDPOINT`` /
  ``..._METRICS_ENDPOINT``) or ``opentelemetry.endpoint`` in ``dbt_sync.yml`` is
  set: the OpenTelemetry SDK (``pip install "dbt-sync[otel]"``) with OTLP/HTTP
  exporters, for this run only, flushed and shut down when it ends, waiting
  at most ``timeout_seconds`` for the collector (a warning, never a failure);
- otherwise nothing: :data:`DISABLED`, whose calls do nothing and build
  nothing (OpenTelemetry is not even imported).

``OTEL_SDK_DISABLED=true`` and ``OTEL_TRACES_EXPORTER`` /
``OTEL_METRICS_EXPORTER`` set to ``none`` turn export off, as in every
OpenTelemetry SDK.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from dbt_sync import secrets
from dbt_sync.destinations import metering
from dbt_sync.version import __version__

if TYPE_CHECKING:
    from dbt_sync.destinations.base import Operation, Record, RecordOutcome
    from dbt_sync.engine.results import RunResult, SyncResult
    from dbt_sync.spec import SyncSpec

log = logging.getLogger("dbt_sync.telemetry")

#: the instrumentation scope of every span and instrument
SCOPE = "dbt_sync"
ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"
SIGNAL_ENDPOINT_ENV = {"traces": "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "metrics": "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"}
_SIGNAL_EXPORTER_ENV = {"traces": "OTEL_TRACES_EXPORTER", "metrics": "OTEL_METRICS_EXPORTER"}
_SIGNAL_HEADERS_ENV = {"traces": "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "metrics": "OTEL_EXPORTER_OTLP_METRICS_HEADERS"}
_SIGNAL_TIMEOUT_ENV = {"traces": "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "metrics": "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT"}
_SIGNAL_PATH = {"traces": "v1/traces", "metrics": "v1/metrics"}
#: seconds an export request, and the flush at the end of a run, may take (``opentelemetry.timeout_seconds``)
DEFAULT_TIMEOUT_SECONDS = 5.0
#: histogram buckets of the durations, in seconds (a batch send takes milliseconds, a sync up to hours)
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)

# attribute names (docs/observability.md)
ERROR_TYPE = "error.type"
SYNC = "dbt_sync.sync.name"
DESTINATION = "dbt_sync.destination.name"
DESTINATION_TYPE = "dbt_sync.destination.type"
OBJECT = "dbt_sync.object"
OPERATION = "dbt_sync.operation"


class Scope:
    """A traced stretch of work; this base does nothing (telemetry off), so every call on it is free."""

    __slots__ = ()

    def __enter__(self) -> Scope:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    def fail(self, code: str) -> None:
        """The work failed as a whole with ``code`` (an error code, never a message)."""

    def finish_run(self, result: RunResult) -> None:
        """Record a run's figures on its span."""

    def finish_sync(self, result: SyncResult) -> None:
        """Record a sync's figures on its span and in the metrics."""


_NOTHING = Scope()


class Telemetry:
    """A run's telemetry. This base is telemetry off (:data:`DISABLED`): every method does nothing."""

    enabled = False

    def run(self, run_id: str, invocation_id: str | None, target: str | None, dry_run: bool) -> Scope:
        """The run's span (a context manager); call ``finish_run(result)`` on it before it ends."""
        return _NOTHING

    def sync(self, spec: SyncSpec) -> Scope:
        """One sync's span (a context manager); ``fail(code)`` when it fails, ``finish_sync(result)`` at its end."""
        return _NOTHING

    def batch_sender(
        self, spec: SyncSpec, operation: Operation, send: Callable[[Operation, Sequence[Record]], list[RecordOutcome]]
    ) -> Callable[[Operation, Sequence[Record]], list[RecordOutcome]]:
        """``send`` (the sender's ``send``), traced: one span per batch. Off, ``send`` itself."""
        return send

    def commit(self, spec: SyncSpec, confirmed: int, deleted: int, failed: int) -> Scope:
        """The span of one commit of ``spec``'s outcomes (a context manager)."""
        return _NOTHING

    def shutdown(self) -> None:
        """Flush what this run recorded to the collector and release the SDK this run set up (if any)."""

    def __enter__(self) -> Telemetry:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.shutdown()


#: telemetry off: no OpenTelemetry object is made and nothing is recorded
DISABLED = Telemetry()


def start(settings: Mapping[str, Any] | None = None) -> Telemetry:
    """The telemetry of one run, from the environment and ``dbt_sync.yml``'s ``opentelemetry`` settings.

    ``settings``: ``endpoint`` (OTLP/HTTP base URL, ``/v1/traces`` and
    ``/v1/metrics`` are appended), ``headers`` (of every export request) and
    ``timeout_seconds``; the ``OTEL_EXPORTER_OTLP_*`` variables win over them.
    Never raises: a problem setting it up is a warning and the run goes on
    without telemetry. Use the result as a context manager (or call
    :meth:`Telemetry.shutdown`) so the last spans reach the collector.
    """
    try:
        return _start(dict(settings or {}))
    except Exception as exc:
        log.warning("OpenTelemetry is off for this run: could not set it up (%s: %s)", type(exc).__name__,
                    secrets.redact(str(exc)))
        return DISABLED


def _start(settings: dict[str, Any]) -> Telemetry:
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return DISABLED
    tracer_provider = _global_tracer_provider()
    meter_provider = _global_meter_provider()
    exported = [
        signal
        for signal, app_provider in (("traces", tracer_provider), ("metrics", meter_provider))
        if app_provider is None
        and os.environ.get(_SIGNAL_EXPORTER_ENV[signal], "").strip().lower() != "none"
        and (os.environ.get(SIGNAL_ENDPOINT_ENV[signal]) or os.environ.get(ENDPOINT_ENV) or settings.get("endpoint"))
    ]
    if tracer_provider is None and meter_provider is None and not exported:
        return DISABLED
    owned: list[Any] = []
    timeout = _timeout(settings)
    watch = _ExportWatch()
    if exported:
        try:
            sdk = _Sdk(settings, timeout, watch)
        except ImportError as exc:
            log.warning(
                "OpenTelemetry: an OTLP endpoint is set, but the OpenTelemetry SDK is not installed (%s); nothing "
                "is exported. Install it with: pip install \"dbt-sync[otel]\"", exc.name or exc,
            )
            exported = []
        else:
            if "traces" in exported:
                tracer_provider = sdk.tracer_provider()
                owned.append(tracer_provider)
            if "metrics" in exported:
                meter_provider = sdk.meter_provider()
                owned.append(meter_provider)
    if tracer_provider is None and meter_provider is None:
        return DISABLED
    return _Active(tracer_provider, meter_provider, owned, timeout, watch)


def _global_tracer_provider() -> Any:
    """The TracerProvider an application set globally, or None; imports nothing when none can have been set."""
    if "opentelemetry.trace" not in sys.modules and not os.environ.get("OTEL_PYTHON_TRACER_PROVIDER"):
        return None  # setting one needs opentelemetry.trace: it was never imported, so none is set
    from opentelemetry import trace

    provider = trace.get_tracer_provider()
    return None if isinstance(provider, trace.ProxyTracerProvider) else provider


def _global_meter_provider() -> Any:
    """The MeterProvider an application set globally, or None; imports nothing when none can have been set."""
    if "opentelemetry.metrics" not in sys.modules and not os.environ.get("OTEL_PYTHON_METER_PROVIDER"):
        return None
    from opentelemetry import metrics
    from opentelemetry.metrics._internal import _ProxyMeterProvider

    provider = metrics.get_meter_provider()
    return None if isinstance(provider, _ProxyMeterProvider) else provider


def _timeout(settings: Mapping[str, Any]) -> float:
    """Seconds per export request and for the flush at the run's end: the SDK's variable, the setting, 5."""
    for raw in (os.environ.get("OTEL_EXPORTER_OTLP_TIMEOUT"), settings.get("timeout_seconds")):
        try:
            if raw is not None and float(raw) > 0:
                return float(raw)
        except ValueError:
            continue
    return DEFAULT_TIMEOUT_SECONDS


class _ExportWatch:
    """What the exporters met: failed exports, and where they sent (for the one warning at the end)."""

    def __init__(self) -> None:
        self.failures = 0
        self.endpoints: set[str] = set()


class _Sdk:
    """The OpenTelemetry SDK with OTLP/HTTP exporters, as this run sets it up (imported on first use)."""

    def __init__(self, settings: Mapping[str, Any], timeout: float, watch: _ExportWatch) -> None:
        from opentelemetry.sdk.resources import OTELResourceDetector, Resource

        self.settings = settings
        self.timeout = timeout
        self.watch = watch
        # the header values of the environment and the file are credentials (an API key): never shown
        headers = settings.get("headers") or {}
        secrets.register([*headers.values(), *_env_header_values()])
        ours = {"service.name": "dbt-sync", "service.version": __version__}
        from_env = OTELResourceDetector().detect().attributes  # OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES win
        self.resource = Resource.create({k: v for k, v in ours.items() if k not in from_env})

    def exporter_args(self, signal: str) -> dict[str, Any]:
        """The exporter's arguments: what the ``OTEL_EXPORTER_OTLP_*`` variables set is left to the SDK."""
        args: dict[str, Any] = {}
        endpoint = self.settings.get("endpoint")
        if endpoint and not (os.environ.get(SIGNAL_ENDPOINT_ENV[signal]) or os.environ.get(ENDPOINT_ENV)):
            args["endpoint"] = f"{str(endpoint).rstrip('/')}/{_SIGNAL_PATH[signal]}"
        headers = self.settings.get("headers")
        env_headers = os.environ.get(_SIGNAL_HEADERS_ENV[signal]) or os.environ.get("OTEL_EXPORTER_OTLP_HEADERS")
        if headers and not env_headers:
            args["headers"] = dict(headers)
        if not os.environ.get(_SIGNAL_TIMEOUT_ENV[signal]):
            args["timeout"] = self.timeout
        return args

    def tracer_provider(self) -> Any:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult

        watch = self.watch

        class _Exporter(OTLPSpanExporter):
            def export(self, spans: Any) -> Any:
                result = super().export(spans)
                if result is not SpanExportResult.SUCCESS:
                    watch.failures += 1
                return result

        exporter = _Exporter(**self.exporter_args("traces"))
        watch.endpoints.add(exporter._endpoint)
        provider = TracerProvider(resource=self.resource, shutdown_on_exit=False)
        provider.add_span_processor(BatchSpanProcessor(exporter, export_timeout_millis=self.timeout * 1000))
        return provider

    def meter_provider(self) -> Any:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import MetricExportResult, PeriodicExportingMetricReader

        watch = self.watch

        class _Exporter(OTLPMetricExporter):
            def export(self, metrics_data: Any, timeout_millis: float | None = 10_000, **kwargs: Any) -> Any:
                result = super().export(metrics_data, timeout_millis=timeout_millis, **kwargs)
                if result is not MetricExportResult.SUCCESS:
                    watch.failures += 1
                return result

        exporter = _Exporter(**self.exporter_args("metrics"))
        watch.endpoints.add(exporter._endpoint)
        reader = PeriodicExportingMetricReader(exporter, export_timeout_millis=self.timeout * 1000)
        return MeterProvider(metric_readers=[reader], resource=self.resource, shutdown_on_exit=False)


def _env_header_values() -> list[str]:
    values = []
    for name in ("OTEL_EXPORTER_OTLP_HEADERS", *_SIGNAL_HEADERS_ENV.values()):
        for pair in os.environ.get(name, "").split(","):
            if "=" in pair:
                values.append(pair.split("=", 1)[1].strip())
    return values


class _Active(Telemetry):
    """Telemetry on: spans through ``tracer_provider``, instruments on ``meter_provider`` (either may be None)."""

    enabled = True

    def __init__(
        self, tracer_provider: Any, meter_provider: Any, owned: list[Any], timeout: float, watch: _ExportWatch
    ) -> None:
        from opentelemetry import context, trace

        self._context = context
        self._trace = trace
        self._owned = owned
        self._timeout = timeout
        self._watch = watch
        self.tracer = (tracer_provider or trace.NoOpTracerProvider()).get_tracer(SCOPE, __version__)
        self._run_context: Any = None
        #: per sync name: its span's context (the parent of its commits, which run on the committer's thread)
        self._sync_contexts: dict[str, Any] = {}
        self._instruments = _Instruments(meter_provider) if meter_provider is not None else None

    def attributes(self, spec: SyncSpec) -> dict[str, Any]:
        """The attributes naming a sync (on its spans and its metrics)."""
        return {SYNC: spec.name, DESTINATION: spec.destination, DESTINATION_TYPE: spec.destination_type or "",
                OBJECT: spec.object}

    def run(self, run_id: str, invocation_id: str | None, target: str | None, dry_run: bool) -> Scope:
        attributes = {"dbt_sync.run.id": run_id, "dbt_sync.dry_run": dry_run}
        if invocation_id:
            attributes["dbt_sync.dbt.invocation_id"] = invocation_id
        if target:
            attributes["dbt_sync.target"] = target
        return _RunScope(self, attributes)

    def sync(self, spec: SyncSpec) -> Scope:
        return _SyncScope(self, spec)

    def batch_sender(
        self, spec: SyncSpec, operation: Operation, send: Callable[[Operation, Sequence[Record]], list[RecordOutcome]]
    ) -> Callable[[Operation, Sequence[Record]], list[RecordOutcome]]:
        attributes = {**self.attributes(spec), OPERATION: operation.value}
        name = f"{operation.value} {spec.object}"
        tracer, instruments, trace = self.tracer, self._instruments, self._trace

        def traced(op: Operation, records: Sequence[Record]) -> list[RecordOutcome]:
            # runs on a send thread: the sync's span is current there (the context is copied at submit);
            # a client span: the batch is requests to the destination's API
            with tracer.start_as_current_span(
                name, kind=trace.SpanKind.CLIENT, attributes=attributes, record_exception=False,
                set_status_on_exception=False,
            ) as span:
                started = time.perf_counter()
                meter = metering.Meter(parent=metering.current())
                error: str | None = None
                try:
                    with metering.metering(meter):
                        outcomes = send(op, records)
                except BaseException as exc:
                    error = type(exc).__qualname__
                    raise
                else:
                    succeeded = failed = unsent = 0
                    for outcome in outcomes:
                        if outcome.unsent:
                            unsent += 1
                            error = error or outcome.error_code or "UNSENT"
                        elif outcome.success:
                            succeeded += 1
                        else:
                            failed += 1
                    span.set_attributes({
                        "dbt_sync.records.succeeded": succeeded,
                        "dbt_sync.records.failed": failed,
                        "dbt_sync.records.unsent": unsent,
                    })
                    return outcomes
                finally:
                    elapsed = time.perf_counter() - started
                    span.set_attributes({
                        "dbt_sync.batch.size": len(records),
                        "dbt_sync.requests": meter.get("requests"),
                        "dbt_sync.requests.rate_limited": meter.get("rate_limited"),
                        "dbt_sync.retries": meter.get("retries"),
                    })
                    if error is not None:
                        span.set_attribute(ERROR_TYPE, error)
                        span.set_status(trace.StatusCode.ERROR)
                    if instruments is not None:
                        instruments.batch_duration.record(
                            elapsed, {**attributes, ERROR_TYPE: error} if error else attributes
                        )

        return traced

    def commit(self, spec: SyncSpec, confirmed: int, deleted: int, failed: int) -> Scope:
        return _CommitScope(self, spec, {
            **self.attributes(spec),
            "dbt_sync.commit.confirmed": confirmed,
            "dbt_sync.commit.deleted": deleted,
            "dbt_sync.commit.failed": failed,
        })

    def shutdown(self) -> None:
        """Flush and shut down the providers this run set up, waiting at most the timeout for the collector."""
        owned, self._owned = self._owned, []
        if not owned:
            return
        threads = [threading.Thread(target=_quietly(p.shutdown), name="dbt-sync-otel-flush", daemon=True)
                   for p in owned]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + self._timeout + 0.5
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        where = ", ".join(sorted(self._watch.endpoints))
        if any(t.is_alive() for t in threads):
            log.warning(
                "OpenTelemetry: the collector (%s) did not take this run's last spans and metrics within %g s; "
                "they are dropped. The run is not affected.", where, self._timeout,
            )
        elif self._watch.failures:
            log.warning(
                "OpenTelemetry: %d export(s) to %s failed (the collector cannot be reached, or refused them); "
                "those spans and metrics are dropped. The run is not affected.", self._watch.failures, where,
            )


def _quietly(fn: Callable[[], Any]) -> Callable[[], None]:
    def run() -> None:
        try:
            fn()
        except Exception:  # the SDK logs its own problems; telemetry never fails a run
            log.debug("OpenTelemetry: shutting down failed", exc_info=True)

    return run


class _Instruments:
    """The run's metric instruments (docs/observability.md lists them)."""

    def __init__(self, provider: Any) -> None:
        meter = provider.get_meter(SCOPE, __version__)

        def histogram(name: str, description: str) -> Any:
            return meter.create_histogram(name, unit="s", description=description,
                                          explicit_bucket_boundaries_advisory=DURATION_BUCKETS)

        self.attempted = meter.create_counter(
            "dbt_sync.attempted.records", unit="{record}", description="Records sent to a destination")
        self.succeeded = meter.create_counter(
            "dbt_sync.succeeded.records", unit="{record}", description="Records a destination confirmed")
        self.failed = meter.create_counter(
            "dbt_sync.failed.records", unit="{record}",
            description="Records that failed (refused by the destination, or invalid before sending)")
        self.requests = meter.create_counter(
            "dbt_sync.api.requests", unit="{request}", description="HTTP requests to a destination's API")
        self.rate_limited = meter.create_counter(
            "dbt_sync.api.rate_limited.requests", unit="{request}",
            description="Requests a destination refused for its rate limit (HTTP 429, REQUEST_LIMIT_EXCEEDED)")
        self.retries = meter.create_counter(
            "dbt_sync.api.retries", unit="{retry}", description="Requests and records sent again by the engine")
        self.run_duration = histogram("dbt_sync.run.duration", "Duration of a dbt-sync run")
        self.sync_duration = histogram("dbt_sync.sync.duration", "Duration of one sync in a run")
        self.batch_duration = histogram("dbt_sync.batch.duration",
                                        "Duration of sending one batch, retries and splits included")
        self.commit_duration = histogram("dbt_sync.commit.duration",
                                         "Duration of committing one batch's outcomes to the warehouse")


class _SpanScope(Scope):
    """A span made current on this thread while the scope is open."""

    __slots__ = ("_error", "_parent", "_started", "_token", "attributes", "name", "span", "telemetry")

    def __init__(self, telemetry: _Active, name: str, attributes: dict[str, Any], parent: Any) -> None:
        self.telemetry = telemetry
        self.name = name
        self.attributes = attributes
        self._parent = parent
        self._error: str | None = None
        self._started = 0.0

    def __enter__(self) -> _SpanScope:
        tel = self.telemetry
        self.span = tel.tracer.start_span(self.name, context=self._parent, attributes=self.attributes)
        self._token = tel._context.attach(tel._trace.set_span_in_context(self.span))
        self._started = time.perf_counter()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if kind is not None and self._error is None:
            self._error = kind.__qualname__  # the class only: an exception's message may quote values
        if self._error is not None:
            self.span.set_attribute(ERROR_TYPE, self._error)
            self.span.set_status(self.telemetry._trace.StatusCode.ERROR)
        self.telemetry._context.detach(self._token)
        self.span.end()
        self.ended(time.perf_counter() - self._started)

    def fail(self, code: str) -> None:
        self._error = code

    def ended(self, seconds: float) -> None:
        """Record the duration metric of the work."""


class _RunScope(_SpanScope):
    __slots__ = ()

    def __init__(self, telemetry: _Active, attributes: dict[str, Any]) -> None:
        super().__init__(telemetry, "dbt-sync run", attributes, None)  # under the caller's span, if any

    def __enter__(self) -> _RunScope:
        super().__enter__()
        self.telemetry._run_context = self.telemetry._context.get_current()
        return self

    def finish_run(self, result: RunResult) -> None:
        from dbt_sync.engine.results import ERROR, SKIPPED

        syncs = result.syncs
        self.span.set_attributes({
            "dbt_sync.run.exit_code": result.exit_code,
            "dbt_sync.syncs": len(syncs),
            "dbt_sync.syncs.failed": sum(1 for s in syncs if s.status == ERROR),
            "dbt_sync.syncs.skipped": sum(1 for s in syncs if s.status == SKIPPED),
            "dbt_sync.records.planned": sum(s.planned for s in syncs),
            "dbt_sync.records.attempted": sum(s.attempted for s in syncs),
            "dbt_sync.records.succeeded": sum(s.succeeded for s in syncs),
            "dbt_sync.records.failed": sum(s.failed for s in syncs),
        })
        if result.cancelled:
            self.fail("CANCELLED")
        elif any(s.status == ERROR for s in syncs):
            self.fail("SYNC_FAILED")

    def ended(self, seconds: float) -> None:
        instruments = self.telemetry._instruments
        if instruments is not None:
            instruments.run_duration.record(seconds, {ERROR_TYPE: self._error} if self._error else {})


class _SyncScope(_SpanScope):
    __slots__ = ("_metric_attributes", "_status", "spec")

    def __init__(self, telemetry: _Active, spec: SyncSpec) -> None:
        self.spec = spec
        self._metric_attributes = telemetry.attributes(spec)
        self._status = ""
        attributes = {**self._metric_attributes, "dbt_sync.model": spec.model_name, "dbt_sync.mode": spec.mode}
        super().__init__(telemetry, f"sync {spec.name}", attributes, telemetry._run_context)

    def __enter__(self) -> _SyncScope:
        super().__enter__()
        self.telemetry._sync_contexts[self.spec.name] = self.telemetry._context.get_current()
        return self

    def finish_sync(self, result: SyncResult) -> None:
        usage = result.api_usage
        figures = {
            "planned": result.planned, "attempted": result.attempted, "succeeded": result.succeeded,
            "failed": result.failed, "created": result.created, "updated": result.updated,
            "deleted": result.deleted, "skipped": result.skipped,
        }
        self._status = str(result.status)
        self.span.set_attributes({
            "dbt_sync.sync.status": self._status,
            **{f"dbt_sync.records.{k}": v for k, v in figures.items()},
            "dbt_sync.requests": int(usage.get("requests") or 0),
            "dbt_sync.requests.rate_limited": int(usage.get("rate_limited") or 0),
            "dbt_sync.retries": result.retries,
        })
        if result.skip_cause is not None:
            self.span.set_attribute("dbt_sync.skip_cause", str(result.skip_cause))
        instruments = self.telemetry._instruments
        if instruments is not None:
            attributes = self._metric_attributes
            instruments.attempted.add(result.attempted, attributes)
            instruments.succeeded.add(result.succeeded, attributes)
            instruments.failed.add(result.failed, attributes)
            instruments.requests.add(int(usage.get("requests") or 0), attributes)
            instruments.rate_limited.add(int(usage.get("rate_limited") or 0), attributes)
            instruments.retries.add(result.retries, attributes)

    def ended(self, seconds: float) -> None:
        instruments = self.telemetry._instruments
        if instruments is not None:
            attributes = {**self._metric_attributes, "dbt_sync.sync.status": self._status}
            if self._error:
                attributes[ERROR_TYPE] = self._error
            instruments.sync_duration.record(seconds, attributes)


class _CommitScope(_SpanScope):
    __slots__ = ("_metric_attributes",)

    def __init__(self, telemetry: _Active, spec: SyncSpec, attributes: dict[str, Any]) -> None:
        self._metric_attributes = telemetry.attributes(spec)
        # commits run on the committer's thread: their parent is the sync's span, named explicitly
        super().__init__(telemetry, f"commit {spec.name}", attributes, telemetry._sync_contexts.get(spec.name))

    def ended(self, seconds: float) -> None:
        instruments = self.telemetry._instruments
        if instruments is not None:
            attributes = self._metric_attributes
            instruments.commit_duration.record(
                seconds, {**attributes, ERROR_TYPE: self._error} if self._error else attributes
            )
