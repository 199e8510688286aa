"""The JSON event lines and the text progress lines, without a run: levels, throttling, line safety.

The same listeners are driven by a real run in tests/engine/test_json_logs.py
and tests/engine_unit/test_engine.py.
"""

from __future__ import annotations

import io
import json
import logging

from hypothesis import given
from hypothesis import strategies as st

from dbt_sync.engine.events import RunStarted, SyncProgress
from dbt_sync.engine.progress import Progress
from dbt_sync.engine.results import ERROR, PARTIAL, SKIPPED, SUCCESS, SkipCause, SyncResult
from dbt_sync.logs import JsonEvents, JsonLines, JsonLogHandler, sync_level


def result(name: str, status: str = SUCCESS, failed: int = 0, cause: SkipCause | None = None) -> SyncResult:
    return SyncResult(name=name, model="m", destination="d", object="o", mode="upsert", status=status,
                      failed=failed, skip_cause=cause)


def lines_of(out: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_progress_events_go_when_sending_begins_then_at_most_every_interval() -> None:
    for interval, expected in ((3600, [0]), (0, list(range(11)))):
        out = io.StringIO()
        events = JsonEvents(JsonLines(out), progress_interval=interval)
        events.run_started(RunStarted(run_id="r", started_at="t", syncs=("a",)))
        events.sync_progress(SyncProgress("r", "a", 0, 10, 0))
        for done in range(1, 11):
            events.sync_progress(SyncProgress("r", "a", done, 10, 1))
        progress = [e["data"]["sync"] for e in lines_of(out) if e["info"]["name"] == "SyncProgress"]
        assert progress == [{"name": "a", "done": d, "total": 10} for d in expected]


def test_quiet_keeps_only_error_level_events() -> None:
    out = io.StringIO()
    events = JsonEvents(JsonLines(out, min_level="error"))
    events.run_started(RunStarted(run_id="r", started_at="t", syncs=("a", "b", "c")))
    for res in (result("a"), result("b", PARTIAL, failed=2), result("c", SKIPPED, cause=SkipCause.LOCKED),
                result("d", ERROR)):
        events.sync_finished(res)
    assert [(e["info"]["name"], e["data"]["sync"]["name"]) for e in lines_of(out)] == [
        ("SyncFinished", "b"), ("SyncFinished", "d"),
    ]


def test_sync_levels() -> None:
    assert sync_level(result("a")) == "info"
    assert sync_level(result("a", PARTIAL, failed=1)) == "error"
    assert sync_level(result("a", PARTIAL, failed=1), record_failures_fatal=False) == "warn"
    assert sync_level(result("a", ERROR), record_failures_fatal=False) == "error"
    assert sync_level(result("a", ERROR)) == "error"
    assert sync_level(result("a", SKIPPED, cause=SkipCause.UPSTREAM_FAILED)) == "warn"
    assert sync_level(result("a", SKIPPED, cause=SkipCause.PLAN)) == "info"


@given(st.text())
def test_any_text_is_one_ascii_line(text: str) -> None:
    """Line separators (U+2028, U+0085, \\r), lone surrogates, anything: one ASCII line that parses back."""
    out = io.StringIO()
    JsonLines(out).emit("LogMessage", "info", text, {"logger": text})
    raw = out.getvalue()
    assert raw.endswith("\n") and raw.count("\n") == 1 and raw.isascii()
    assert len(raw[:-1].splitlines()) == 1
    event = json.loads(raw)
    assert event["data"]["logger"] == text or "****" in event["data"]["logger"]


def test_log_records_become_log_message_events_with_their_level() -> None:
    out = io.StringIO()
    logger = logging.getLogger("dbt_sync.test_logs")
    handler = JsonLogHandler(JsonLines(out))
    logger.addHandler(handler)
    try:
        logger.warning("could not release the lock of sync %s yet", "contacts")
    finally:
        logger.removeHandler(handler)
    (event,) = lines_of(out)
    assert event["info"]["name"] == "LogMessage" and event["info"]["level"] == "warn"
    assert event["info"]["msg"] == "could not release the lock of sync contacts yet"
    assert event["data"] == {"logger": "dbt_sync.test_logs"}


def test_quiet_text_progress_writes_only_syncs_that_failed() -> None:
    for fatal, expected in ((True, ["PARTIAL  b:", "ERROR    c:"]), (False, ["ERROR    c:"])):
        out = io.StringIO()
        progress = Progress(out, errors_only=True)
        progress.run_started(RunStarted(run_id="r", started_at="t", record_failures_fatal=fatal))
        for res in (result("a"), result("b", PARTIAL, failed=2), result("c", ERROR)):
            progress.sync_progress(SyncProgress("r", res.name, 0, 5, 0))
            progress.sync_progress(SyncProgress("r", res.name, 5, 5, 5))
            progress.sync_finished(res)
        lines = out.getvalue().splitlines()
        assert len(lines) == len(expected) and all(e in line for e, line in zip(expected, lines, strict=True))


def test_debug_progress_lines_carry_microseconds_and_the_thread() -> None:
    out = io.StringIO()
    progress = Progress(out, detailed=True)
    progress.sync_progress(SyncProgress("r", "a", 0, 5, 0))
    (line,) = out.getvalue().splitlines()
    clock, thread, *_ = line.split(" ")
    assert len(clock.split(".")[1]) == 6 and thread == "[MainThread]"
