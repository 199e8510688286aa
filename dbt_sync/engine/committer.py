"""Committing one batch's outcomes while the next batch is being sent.

Sending and committing alternate for every batch; done one after the other,
the destination sits idle during each warehouse commit and the warehouse
during each request. A committer thread takes the commits, one at a time and
in order, so the sync thread can send the next batch meanwhile. The queue
holds at most ``MAX_WAITING`` waiting commits (plus, beside a running merged
commit, the one found not to merge with it): memory stays bounded, and a
slow warehouse slows the sending down instead of piling up outcomes.

When commits wait because the warehouse is slower than the destination, the
committer runs consecutive waiting commits that can be merged (a commit with
an ``absorb(later) -> bool`` method that accepts the later one) as one: each
transaction has a fixed cost (on DuckDB, in dbt-sync's own process, several
milliseconds however few rows it writes), so fewer, larger transactions
catch up. What may merge is the committed object's call: the engine merges
batches of one sync whose records are all different (see
``pipeline.BatchCommit``).

Order and safety are unchanged: commits run in batch order, and anything a
crash loses had not been committed, so it is in the next changeset (and, for
creates without a match key, marked in flight before it was sent; those
commit inline, one batch at a time, and never merge).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from types import TracebackType

#: commits that may wait behind the running one
MAX_WAITING = 4
_NOTHING_WAITING = object()


class Committer:
    """Runs commits in order, in the background unless ``background`` is False.

    Creates without a match key commit inline: there a batch sent while an
    earlier commit is failing would widen what a crash leaves in doubt.
    """

    def __init__(self, name: str, background: bool = True) -> None:
        self._queue: queue.Queue[Callable[[], None] | None] = queue.Queue(maxsize=MAX_WAITING)
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        if background:
            self._thread = threading.Thread(target=self._work, name=f"dbt-sync-commit-{name}", daemon=True)
            self._thread.start()

    def submit(self, commit: Callable[[], None]) -> None:
        """Queue a commit (or run it, inline); raises the error of an earlier commit."""
        self.raise_if_failed()
        if self._thread is None:
            commit()
        else:
            self._queue.put(commit)

    def raise_if_failed(self) -> None:
        """Call before sending more: after a failed commit nothing else should go out."""
        if self._error is not None:
            raise self._error

    def drain(self) -> None:
        """Wait until every commit queued so far is done; raise the first error."""
        if self._thread is not None:
            done = threading.Event()
            self._queue.put(done.set)
            while not done.wait(0.05):
                if self._error is not None or not self._thread.is_alive():
                    break
        self.raise_if_failed()

    def close(self) -> None:
        """Wait for every queued commit; raise the first error."""
        self._stop()
        self.raise_if_failed()

    def _stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()

    def _work(self) -> None:
        head: object = self._queue.get()
        while head is not None:
            assert callable(head)
            # what else is waiting joins this commit while it can (in order: the first that cannot stops it)
            absorb: Callable[[object], bool] | None = getattr(head, "absorb", None)
            following = _NOTHING_WAITING if absorb is None else self._waiting()
            while absorb is not None and following is not None and following is not _NOTHING_WAITING and absorb(
                following
            ):
                following = self._waiting()
            self._run(head)
            head = self._queue.get() if following is _NOTHING_WAITING else following

    def _waiting(self) -> object:
        try:
            return self._queue.get_nowait()
        except queue.Empty:
            return _NOTHING_WAITING

    def _run(self, commit: Callable[[], None]) -> None:
        if self._error is not None:
            return  # after a failure, later batches must not commit out of order
        try:
            commit()
        except BaseException as exc:  # handed to the sync thread
            self._error = exc

    def __enter__(self) -> Committer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if kind is None:
            self.close()
        else:  # the sync is failing already: let queued commits finish, report the original error
            self._stop()
