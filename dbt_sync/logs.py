"""Log formats as dbt names them (``--log-format`` / ``DBT_LOG_FORMAT``), and the JSON event lines.

``default``: progress bars on a terminal, plain lines elsewhere; ``text``:
plain lines always; ``debug``: plain lines with microseconds and the thread;
``json``: one JSON object per line for every event (see
docs/log-events.schema.json), shaped as dbt's JSON log lines are
(``{"info": {"name", "level", "msg", "ts", ...}, "data": {...}}``).

:class:`JsonEvents` is a :class:`~dbt_sync.engine.events.RunListener`
writing the run's events (``RunStarted``, ``SyncStarted``,
``SyncProgress``, ``SyncFinished``, ``RunWarning``, ``RunFinished``);
:class:`JsonLogHandler` writes dbt-sync's log records (``LogMessage``) to
the same lines, and :meth:`JsonLines.emit` anything else (the CLI's
``MainEncounteredError``). Every line passes through
:func:`dbt_sync.secrets.redact_obj`: secrets and masked column values never
appear; ``data`` of the sync events is the results file's entry for the sync.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Mapping
from typing import IO, TYPE_CHECKING, Any

from dbt_sync.engine.events import RunListener, RunStarted, SyncProgress, SyncStarted
from dbt_sync.engine.results import ERROR, SKIPPED, SkipCause
from dbt_sync.secrets import redact, redact_obj
from dbt_sync.version import __version__

if TYPE_CHECKING:
    from dbt_sync.engine.results import RunResult, SyncResult

#: ``--log-format`` values, as dbt's
LOG_FORMATS = ("text", "debug", "json", "default")
#: event levels, as dbt's ``info.level``, lowest first
LEVELS = ("debug", "info", "warn", "error")
#: seconds between two ``SyncProgress`` lines of one sync (the first, when sending begins, always goes)
PROGRESS_INTERVAL_SECONDS = 5.0


def level_of(record_level: int) -> str:
    """dbt's level word for a :mod:`logging` level."""
    if record_level >= logging.ERROR:
        return "error"
    if record_level >= logging.WARNING:
        return "warn"
    if record_level >= logging.INFO:
        return "info"
    return "debug"


def timestamp() -> str:
    """Now in UTC as dbt writes ``info.ts``: ``2026-01-31T12:00:00.123456Z``."""
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class JsonLines:
    """Writes one JSON event per line to ``stream`` (default: ``sys.stderr`` at the time of writing).

    ``min_level``: events below it are not written (``error`` for
    ``--quiet``). Thread-safe: a line is written and flushed whole.
    """

    def __init__(self, stream: IO[str] | None = None, min_level: str = "info") -> None:
        if min_level not in LEVELS:
            raise ValueError(f"min_level must be one of {', '.join(LEVELS)}, got {min_level!r}")
        self._stream = stream
        self.min_level = min_level
        self.run_id: str | None = None
        self._lock = threading.Lock()

    @property
    def stream(self) -> IO[str]:
        return self._stream or sys.stderr

    def wants(self, level: str) -> bool:
        return LEVELS.index(level) >= LEVELS.index(self.min_level)

    def emit(self, name: str, level: str, msg: str, data: Mapping[str, Any] | None = None) -> None:
        """Write one event: ``{"info": {name, level, msg, ts, pid, thread, run_id}, "data": data}``."""
        if not self.wants(level):
            return
        event = {
            "info": {
                "name": name,
                "level": level,
                "msg": msg,
                "ts": timestamp(),
                "pid": os.getpid(),
                "thread": threading.current_thread().name,
                "run_id": self.run_id,
                "dbt_sync_version": __version__,
            },
            "data": dict(data or {}),
        }
        # ASCII only: a line never breaks (U+2028, a lone surrogate from the warehouse) in any stream encoding
        line = json.dumps(redact_obj(event), default=_plain, ensure_ascii=True, separators=(",", ":"))
        with self._lock:
            stream = self.stream
            stream.write(line + "\n")
            stream.flush()


def _plain(value: Any) -> Any:
    """What ``json.dumps`` cannot write itself (paths, enums, dates) as text, redacted."""
    return redact(str(value))


class JsonEvents(RunListener):
    """The run's events as JSON lines (see the module docstring and docs/log-events.schema.json)."""

    def __init__(self, lines: JsonLines, progress_interval: float = PROGRESS_INTERVAL_SECONDS) -> None:
        self.lines = lines
        self.progress_interval = progress_interval
        self._last: dict[str, float] = {}
        self._guard = threading.Lock()
        self.record_failures_fatal = True

    def run_started(self, event: RunStarted) -> None:
        self.lines.run_id = event.run_id
        self.record_failures_fatal = event.record_failures_fatal
        planned = len(event.syncs)
        self.lines.emit(
            "RunStarted",
            "info",
            f"dbt-sync run {event.run_id}: {planned} sync(s) planned"
            + (f", {len(event.skipped)} left out by the plan" if event.skipped else "")
            + (" (dry run: nothing is sent)" if event.dry_run else ""),
            {
                "metadata": {
                    "dbt_sync_version": __version__,
                    "run_id": event.run_id,
                    "dbt_invocation_id": event.invocation_id,
                    "target": event.target,
                    "dry_run": event.dry_run,
                },
                "started_at": event.started_at,
                "syncs": list(event.syncs),
                "skipped": list(event.skipped),
            },
        )

    def sync_started(self, event: SyncStarted) -> None:
        self.lines.emit(
            "SyncStarted",
            "info",
            f"START {event.name}: {event.model} -> {event.destination} {event.object} ({event.mode})",
            {
                "run_id": event.run_id,
                "sync": {
                    "name": event.name,
                    "model": event.model,
                    "destination": event.destination,
                    "object": event.object,
                    "mode": event.mode,
                    "started_at": event.started_at,
                },
            },
        )

    def sync_progress(self, event: SyncProgress) -> None:
        now = time.monotonic()
        with self._guard:
            if event.done and now - self._last.get(event.name, float("-inf")) < self.progress_interval:
                return
            self._last[event.name] = now
        self.lines.emit(
            "SyncProgress",
            "info",
            f"{event.name}: {event.done}/{event.total}",
            {"run_id": event.run_id, "sync": {"name": event.name, "done": event.done, "total": event.total}},
        )

    def sync_finished(self, result: SyncResult) -> None:
        with self._guard:
            self._last.pop(result.name, None)
        self.lines.emit(
            "SyncFinished", sync_level(result, self.record_failures_fatal), result.summary_line(),
            {"run_id": self.lines.run_id, "sync": result.to_dict()},
        )

    def run_finished(self, result: RunResult) -> None:
        for warning in result.warnings:
            self.lines.emit("RunWarning", "warn", warning, {"run_id": result.run_id, "warning": warning})
        data = result.to_dict()
        data["results_path"] = str(result.results_path) if result.results_path is not None else None
        self.lines.emit("RunFinished", "info", done_line(data), data)


def sync_level(result: SyncResult, record_failures_fatal: bool = True) -> str:
    """``error`` for a sync that failed or has failed records (what makes the exit code non-zero; failed
    records are ``warn`` when they do not: ``--warn-on-record-failures``), ``warn`` for a sync skipped for
    another reason than the plan, ``info`` otherwise."""
    if result.status == ERROR or (result.failed and record_failures_fatal):
        return "error"
    if result.failed or (result.status == SKIPPED and result.skip_cause is not SkipCause.PLAN):
        return "warn"
    return "info"


def done_line(results: Mapping[str, Any]) -> str:
    totals = results.get("totals") or {}
    records = ", ".join(f"{k} {v}" for k, v in totals.items())
    return f"Done. records: {records}. Exit code {results.get('exit_code')}."


class JsonLogHandler(logging.Handler):
    """dbt-sync's log records as ``LogMessage`` events on ``lines`` (``data.logger``: the logger's name)."""

    def __init__(self, lines: JsonLines) -> None:
        super().__init__()
        self.lines = lines

    def emit(self, record: logging.LogRecord) -> None:
        try:
            msg = record.getMessage()
            if record.exc_info:
                msg += "\n" + logging.Formatter().formatException(record.exc_info)
            self.lines.emit("LogMessage", level_of(record.levelno), redact(msg), {"logger": record.name})
        except Exception:  # logging must never raise into the run
            self.handleError(record)
