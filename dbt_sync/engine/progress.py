"""What a person sees while a run goes on.

On a terminal: one progress bar per sync, redrawn in place. In CI or when
output is piped: plain log lines, one when a sync starts, every few seconds
while it runs, and one when it ends, which read well in CI logs.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import IO, TYPE_CHECKING

from dbt_sync.engine.events import RunListener, RunStarted, SyncProgress

if TYPE_CHECKING:
    from dbt_sync.engine.results import SyncResult

BAR_WIDTH = 24


class Progress(RunListener):
    """A :class:`~dbt_sync.engine.events.RunListener` writing progress for people (to stderr by default)."""

    def __init__(
        self,
        stream: IO[str] | None = None,
        interactive: bool = False,
        quiet: bool = False,
        *,
        errors_only: bool = False,
        detailed: bool = False,
    ) -> None:
        """``quiet``: write nothing; ``errors_only`` (``--quiet``): only the end of syncs that failed or have
        failed records; ``detailed`` (``--log-format debug``): microseconds and the thread on every line."""
        self.stream = stream or sys.stderr
        self.interactive = interactive and not errors_only
        self.quiet = quiet
        self.errors_only = errors_only
        self.detailed = detailed
        #: with errors_only: whether a sync's failed records are an error (not with --warn-on-record-failures)
        self.record_failures_fatal = True
        self._lock = threading.Lock()
        self._bars: dict[str, list[int]] = {}
        self._drawn = 0
        self._last_draw = 0.0
        self._last_log: dict[str, float] = {}

    @classmethod
    def auto(cls) -> Progress:
        """Bars on an interactive terminal, plain lines elsewhere (CI, a pipe, ``TERM=dumb``)."""
        stream = sys.stderr
        interactive = stream.isatty() and not os.environ.get("CI") and os.environ.get("TERM") != "dumb"
        return cls(stream, interactive)

    @classmethod
    def silent(cls) -> Progress:
        return cls(quiet=True)

    # -- as a run listener ------------------------------------------------------

    def run_started(self, event: RunStarted) -> None:
        self.record_failures_fatal = event.record_failures_fatal

    def sync_progress(self, event: SyncProgress) -> None:
        if event.done == 0 and event.increment == 0:
            self.start(event.name, event.total)
        else:
            self.advance(event.name, event.increment)

    def sync_finished(self, result: SyncResult) -> None:
        from dbt_sync.engine.results import SkipCause

        if result.skip_cause is SkipCause.PLAN:
            return  # left out by the plan: the summary lists it, a line per unbuilt model is noise
        self.finish(result.name, result)

    # -- the lines --------------------------------------------------------------

    def start(self, name: str, total: int) -> None:
        with self._lock:
            self._bars[name] = [0, total]
            if self.errors_only:
                return
            if not self.interactive:
                self._write(f"{self._ts()} START {name}: {total} change(s) to send\n")
                self._last_log[name] = time.monotonic()
            else:
                self._draw(force=True)

    def advance(self, name: str, n: int) -> None:
        with self._lock:
            bar = self._bars.get(name)
            if bar is None:
                return
            bar[0] += n
            if self.errors_only:
                return
            if self.interactive:
                self._draw()
            elif time.monotonic() - self._last_log.get(name, 0) > 5:
                self._last_log[name] = time.monotonic()
                self._write(f"{self._ts()} ... {name}: {bar[0]}/{bar[1]}\n")

    def finish(self, name: str, result: SyncResult) -> None:
        with self._lock:
            self._bars.pop(name, None)
            if self.errors_only and not (result.status == "error" or (result.failed and self.record_failures_fatal)):
                return
            if self.interactive:
                self._clear()
            self._write(f"{self._ts()} {result.summary_line()}\n")
            if self.interactive:
                self._draw(force=True)

    def _ts(self) -> str:
        return _ts_detailed() if self.detailed else _ts()

    def close(self) -> None:
        with self._lock:
            if self.interactive:
                self._clear()

    def _write(self, text: str) -> None:
        if not self.quiet:
            self.stream.write(text)
            self.stream.flush()

    def _clear(self) -> None:
        if self._drawn:
            self._write(f"\x1b[{self._drawn}F\x1b[J")
            self._drawn = 0

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_draw < 0.1:
            return
        self._last_draw = now
        self._clear()
        lines = []
        for name, (done, total) in self._bars.items():
            share = done / total if total else 1.0
            filled = int(BAR_WIDTH * min(share, 1.0))
            lines.append(f"{name:32.32} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{total}")
        if lines:
            self._write("\n".join(lines) + "\n")
        self._drawn = len(lines)


def _ts() -> str:
    return time.strftime("%H:%M:%S")


def _ts_detailed() -> str:
    now = time.time()
    clock = time.strftime("%H:%M:%S", time.localtime(now))
    return f"{clock}.{int(now % 1 * 1_000_000):06d} [{threading.current_thread().name}]"
