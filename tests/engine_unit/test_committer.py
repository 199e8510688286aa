"""``Committer``: commits run in batch order, one at a time, while the sync thread goes on sending.

The commits here are plain callables that record when they ran; the threads
are real (the committer's own), and every wait is bounded so a regression
fails instead of hanging.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dbt_sync.engine.committer import MAX_WAITING, Committer

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


def test_at_most_max_waiting_commits_wait_a_slow_warehouse_slows_the_sending() -> None:
    release = threading.Event()
    last_submitted = threading.Event()
    with Committer("bounded") as committer:
        committer.submit(waiting(release))  # running
        for _ in range(MAX_WAITING):
            committer.submit(lambda: None)  # waiting in the queue

        def one_more() -> None:
            committer.submit(lambda: None)
            last_submitted.set()

        thread = threading.Thread(target=one_more)
        thread.start()
        assert not last_submitted.wait(0.2), "a commit past MAX_WAITING must wait for room"
        release.set()
        assert last_submitted.wait(WAIT)
        thread.join(WAIT)


class Merging:
    """A commit that absorbs later ones whose items it does not hold yet (the engine's rule: distinct records)."""

    def __init__(self, items: set[int], ran: list[list[int]], fail: bool = False) -> None:
        self.items: list[int] = sorted(items)
        self.ran, self.fail = ran, fail

    def absorb(self, later: object) -> bool:
        if not isinstance(later, Merging) or set(self.items) & set(later.items) or later.fail or self.fail:
            return False
        self.items += later.items
        return True

    def __call__(self) -> None:
        if self.fail:
            raise Boom(str(self.items))
        self.ran.append(list(self.items))


def test_commits_waiting_behind_a_slow_one_run_as_one_when_they_merge() -> None:
    release = threading.Event()
    ran: list[list[int]] = []
    with Committer("merge") as committer:
        committer.submit(waiting(release))
        committer.submit(Merging({1}, ran))
        committer.submit(Merging({2}, ran))
        committer.submit(Merging({2, 3}, ran))  # holds 2 again: must not join the commit before it
        committer.submit(Merging({4}, ran))
        release.set()
    assert ran == [[1, 2], [2, 3, 4]]


@settings(max_examples=40, deadline=None)
@given(commits=st.lists(st.tuples(st.sets(st.integers(0, 6), max_size=3), st.booleans()), max_size=12),
       fail_at=st.one_of(st.none(), st.integers(0, 11)))
def test_merged_commits_apply_every_item_once_in_order_up_to_the_first_failure(
    commits: list[tuple[set[int], bool]], fail_at: int | None
) -> None:
    """Whatever merges: items come out in submission order, each commit's items all or none, nothing after
    a failed commit."""
    ran: list[list[int]] = []
    release = threading.Event()
    committer = Committer("merge-prop")
    submitted: list[tuple[list[int], bool]] = []
    try:
        committer.submit(waiting(release))
        for i, (items, mergeable) in enumerate(commits):
            fail = i == fail_at
            listed = sorted(items)
            commit: Callable[[], None] = Merging(items, ran, fail) if mergeable or fail else (
                lambda listed=listed: ran.append(listed))  # type: ignore[misc]
            if i == MAX_WAITING:
                release.set()
            committer.submit(commit)
            submitted.append((sorted(items), fail))
        release.set()
        committer.close()
    except Boom:
        committer._stop()
    expected: list[int] = []
    for listed_items, fail in submitted:
        if fail:
            break
        expected += listed_items
    assert [item for batch in ran for item in batch] == expected


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


def test_batch_commits_merge_only_when_their_records_differ() -> None:
    """The engine's rule (``pipeline.BatchCommit.absorb``): same sync, no record in both, no in-flight batch
    or gone links to settle, at most ``MERGE_LIMIT`` records together."""
    from dbt_sync.engine.pipeline import MERGE_LIMIT, BatchCommit
    from dbt_sync.warehouse import Confirmed, FailureRow

    spec, other_spec = object(), object()

    def commit(keys: list[str], failed: Sequence[str | None] = (), gone: list[tuple[str, str]] | None = None,
               inflight_batch: str | None = None) -> BatchCommit:
        return BatchCommit(None, spec, [Confirmed(k, "h", "d") for k in keys], [],  # type: ignore[arg-type]
                           [FailureRow(k, "update", "E", "m") for k in failed], [], gone or [], inflight_batch)

    first = commit(["a", "b"], [None])
    assert first.absorb(commit(["c"], [None]))  # NULL keys (no identity) never conflict
    assert [s.record_key for s in first.successes] == ["a", "b", "c"] and len(first.failures) == 2
    assert not first.absorb(commit(["d"], ["a"]))  # a failure of a record confirmed above
    assert not first.absorb(commit(["c"]))
    assert not first.absorb(commit(["e"], inflight_batch="batch-1"))
    assert not commit(["f"], inflight_batch="batch-2").absorb(commit(["g"]))
    assert not first.absorb(commit(["h"], gone=[("Account", "001")]))
    later = commit(["i"])
    later.spec = other_spec  # type: ignore[assignment]
    assert not first.absorb(later)
    assert not first.absorb(lambda: None)
    assert not first.absorb(commit([f"k{i}" for i in range(MERGE_LIMIT)]))
    assert [s.record_key for s in first.successes] == ["a", "b", "c"], "a refused merge changes nothing"
