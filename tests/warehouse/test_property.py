"""Property: the changeset is always the true difference between the model
and what the destination confirmed, whatever failed in between."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dbt_sync.warehouse import FailureRow
from tests.warehouse.conftest import PEOPLE_UID
from tests.warehouse.helpers import SENT, changeset, set_people

KEYS = st.integers(min_value=1, max_value=12)
TEXT = st.one_of(st.none(), st.just(""), st.text(alphabet="aZ é'\\東|", max_size=4))
VALUES = st.tuples(
    TEXT,                                                                  # name
    TEXT,                                                                  # email
    st.one_of(st.none(), st.sampled_from([Decimal("0.00"), Decimal("1.50"), Decimal("-2.25")])),
    st.one_of(st.none(), st.booleans()),
    st.one_of(st.none(), st.sampled_from([dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 1, 0, 0, 0, 1)])),
    st.sampled_from(["A-1", "A-2", None]),
    st.text(alphabet="xy", max_size=2),                                    # notes: unmapped
)
VERSION = st.dictionaries(KEYS, VALUES, max_size=8)
OUTCOMES = st.lists(st.booleans(), min_size=20, max_size=20)


def as_rows(version: dict[int, tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return [("acme", k, *v) for k, v in version.items()]


def sent(values: tuple[Any, ...]) -> tuple[Any, ...]:
    return values[:6]


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(versions=st.lists(VERSION, min_size=3, max_size=3), outcomes=st.lists(OUTCOMES, min_size=3, max_size=3))
def test_changeset_is_model_minus_confirmed(people_project: Any, versions: list[Any], outcomes: list[Any]) -> None:
    with people_project.warehouse() as wh:
        wh.reset("people_mirror")
        # failures an earlier example left open close as "gone" once the model is empty
        set_people(wh, [])
        wh.capture(PEOPLE_UID)
        leftover = changeset(wh, "people_mirror")
        assert {r["_dbt_sync_op"] for r in leftover} <= {"gone"}
        wh.commit("people_mirror", "prop", resolved=[r["_dbt_sync_key"] for r in leftover])
        confirmed: dict[str, tuple[Any, ...]] = {}
        failing: dict[str, str] = {}  # keys whose latest attempt failed: the op that failed
        for version, succeed in zip(versions, outcomes, strict=True):
            set_people(wh, as_rows(version))
            wh.capture(PEOPLE_UID)
            rows = changeset(wh, "people_mirror", page_size=3)
            model = {f"acme|{k}": sent(v) for k, v in version.items()}
            expected = {k: ("update" if k in confirmed else "insert")
                        for k, v in model.items() if confirmed.get(k) != v}
            expected.update({k: "delete" for k in confirmed if k not in model})
            # a failing row back at what the CRM confirmed, or gone from the model, closes its failure
            # (a failed write, or a failed mirror delete: the record is still there, as the row is again)
            expected.update({k: "confirmed" for k in failing if k in model and confirmed.get(k) == model[k]})
            expected.update({k: "gone" for k in failing if k not in model and k not in confirmed})
            assert {r["_dbt_sync_key"]: r["_dbt_sync_op"] for r in rows} == expected
            assert len(rows) == len(expected)
            for r in rows:
                if r["_dbt_sync_op"] not in ("delete", "gone"):
                    assert tuple(r[c] for c in SENT) == model[r["_dbt_sync_key"]]
            successes, deletions, failures, resolved = [], [], [], []
            for r, ok in zip(rows, succeed, strict=False):
                key, op = r["_dbt_sync_key"], r["_dbt_sync_op"]
                if op == "gone":  # nothing to send: the engine closes the failure
                    resolved.append(key)
                    failing.pop(key, None)
                elif op == "confirmed":  # the engine closes the failure and confirms the row again
                    successes.append((key, r["_dbt_sync_hash"], f"id-{key}"))
                    resolved.append(key)
                    failing.pop(key, None)
                elif not ok:
                    failures.append(FailureRow(key, op, "E", "failed"))
                    failing[key] = op
                elif op == "delete":
                    deletions.append(key)
                    confirmed.pop(key)
                    failing.pop(key, None)
                else:
                    successes.append((key, r["_dbt_sync_hash"], f"id-{key}"))
                    confirmed[key] = model[key]
                    failing.pop(key, None)
            # rows past the outcome list are not answered: they stay as they were
            wh.commit("people_mirror", "prop", successes, deletions, failures, resolved)
