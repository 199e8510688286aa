"""``Committer``: commits run in batch order, one at a time, while the sync thread goes on sending.

The commits here are plain callables that record when they ran; the threads
are real (the committer's own), and every wait is bounded so a regression
fails instead of hanging.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dbt_sync.engine.committer import Committer

WAIT = 5.0


class Boom(RuntimeError):
    pass


def slow_append(done: list[int], value: int, seconds: float) -> Callable[[], None]:
    def commit() -> None:
        time.sleep(seconds)
        done.append(value)

    return commit


def waiting(event: threading.Event) -> Callable[[], None]:
    def commit() -> None:
        assert event.wait(WAIT)

    return commit


def test_commits_run_in_submission_order() -> None:
    done: list[int] = []
    with Committer("order") as committer:
        for i in range(50):
            committer.submit(lambda i=i: done.append(i))  # type: ignore[misc]
    assert done == list(range(50))


def test_the_next_batch_is_sent_while_the_previous_commit_runs() -> None:
    """The sync thread returns from ``submit`` while the commit is still running."""
    started, release = threading.Event(), threading.Event()
    order: list[str] = []

    def slow_commit() -> None:
        started.set()
        assert release.wait(WAIT)
        order.append("commit 1")

    with Committer("overlap") as committer:
        committer.submit(slow_commit)
        assert started.wait(WAIT)
        order.append("send 2")  # the sync thread is free: it sends the next batch now
        committer.submit(lambda: order.append("commit 2"))
        release.set()
    assert order == ["send 2", "commit 1", "commit 2"]


def test_at_most_one_commit_waits_a_slow_warehouse_slows_the_sending() -> None:
    release = threading.Event()
    third_submitted = threading.Event()
    with Committer("bounded") as committer:
        committer.submit(waiting(release))  # running
        committer.submit(lambda: None)  # waiting in the queue

        def third() -> None:
            committer.submit(lambda: None)
            third_submitted.set()

        thread = threading.Thread(target=third)
        thread.start()
        assert not third_submitted.wait(0.2), "a third commit must wait for room"
        release.set()
        assert third_submitted.wait(WAIT)
        thread.join(WAIT)


def test_a_failed_commit_stops_later_commits_and_the_sending() -> None:
    done: list[int] = []
    failed = threading.Event()

    def commit(i: int) -> None:
        if i == 3:
            failed.set()
            raise Boom("warehouse gone")
        done.append(i)

    committer = Committer("failure")
    for i in range(5):
        committer.submit(lambda i=i: commit(i))  # type: ignore[misc]
    assert failed.wait(WAIT)
    with pytest.raises(Boom):
        committer.drain()
    with pytest.raises(Boom):
        committer.raise_if_failed()  # the engine checks before each batch: nothing more goes out
    with pytest.raises(Boom):
        committer.submit(lambda: done.append(99))
    with pytest.raises(Boom, match="warehouse gone"):
        committer.close()
    assert done == [0, 1, 2], "batches after the failed one must not commit out of order"


def test_leaving_with_an_error_lets_queued_commits_finish_and_keeps_the_original_error() -> None:
    done: list[int] = []
    with pytest.raises(ValueError, match="sending failed"), Committer("exit") as committer:
        committer.submit(slow_append(done, 1, 0.05))
        committer.submit(lambda: done.append(2))
        raise ValueError("sending failed")
    assert done == [1, 2]


def test_inline_commits_run_at_once_on_the_calling_thread() -> None:
    """Creates without a match key commit inline (``background=False``)."""
    threads: list[str] = []
    committer = Committer("inline", background=False)
    committer.submit(lambda: threads.append(threading.current_thread().name))
    assert threads == [threading.current_thread().name]
    committer.close()


def test_drain_waits_for_every_commit_so_far() -> None:
    done: list[int] = []
    with Committer("drain") as committer:
        for i in range(3):
            committer.submit(slow_append(done, i, 0.01))
        committer.drain()
        assert done == [0, 1, 2]


@settings(max_examples=30, deadline=None)
@given(fail_at=st.one_of(st.none(), st.integers(0, 9)), n=st.integers(0, 10))
def test_commit_order_equals_submission_order_up_to_the_first_failure(fail_at: int | None, n: int) -> None:
    done: list[int] = []

    def commit(i: int) -> None:
        if i == fail_at:
            raise Boom(str(i))
        done.append(i)

    committer = Committer("prop")
    raised: BaseException | None = None
    try:
        for i in range(n):
            committer.submit(lambda i=i: commit(i))  # type: ignore[misc]
        committer.close()
    except Boom as exc:
        raised = exc
        committer._stop()
    expected = list(range(n)) if fail_at is None or fail_at >= n else list(range(fail_at))
    assert done == expected
    assert (raised is not None) == (fail_at is not None and fail_at < n)
