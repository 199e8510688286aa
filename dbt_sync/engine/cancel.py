"""Stopping a run cleanly on SIGTERM / SIGINT.

Schedulers (Kubernetes, Airflow, systemd) stop a task with SIGTERM, people
with Ctrl-C (SIGINT). Either one asks the run to stop: no new batch is sent,
batches already with the CRM are waited for and their outcomes committed,
locks are released, run rows are closed as ``cancelled``, and
``dbt-sync run`` exits with ``128 + signal`` (130 for SIGINT, 143 for
SIGTERM), the shell's convention for a process ended by a signal. A second
signal of the same kind is not intercepted: it ends the process at once.

Only the CLI installs the handlers (:func:`on_signals`); from Python, call
:meth:`Cancellation.cancel` from any thread.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

#: the signals ``dbt-sync run`` handles
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Cancellation:
    """A run's stop request, shared by its threads."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.signal: int | None = None

    def cancel(self, signum: int | None = None) -> None:
        if not self._event.is_set():
            self.signal = signum
            self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def describe(self) -> str:
        if self.signal is None:
            return "the run was cancelled"
        return f"the run was cancelled ({signal.Signals(self.signal).name})"

    @property
    def exit_code(self) -> int:
        """128 + the signal's number (130 SIGINT, 143 SIGTERM); 130 when cancelled without a signal."""
        return 128 + (self.signal if self.signal is not None else signal.SIGINT)


@contextmanager
def on_signals(cancellation: Cancellation) -> Iterator[Cancellation]:
    """While inside, SIGINT / SIGTERM cancel ``cancellation`` (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield cancellation
        return
    previous: dict[int, Any] = {int(sig): signal.getsignal(sig) for sig in SIGNALS}

    def handle(signum: int, frame: FrameType | None) -> None:
        cancellation.cancel(signum)
        # a second signal of this kind ends the process the usual way
        again = previous[signum] if signum != signal.SIGTERM else signal.SIG_DFL
        signal.signal(signum, again if again is not None else signal.SIG_DFL)

    for sig in SIGNALS:
        signal.signal(sig, handle)
    try:
        yield cancellation
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
