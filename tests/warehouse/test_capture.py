"""Change capture on DuckDB: what lands in a changeset and why."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from dbt_sync.warehouse import FailureRow
from tests.warehouse.conftest import PEOPLE_UID
from tests.warehouse.helpers import by_key, changeset, set_people

T0 = dt.datetime(2024, 1, 1, 10, 0, 0, 123456)


def row(pid: int, name: Any = "Ada", email: Any = "a@x.io", notes: Any = "n", org: Any = "acme") -> tuple[Any, ...]:
    return (org, pid, name, email, Decimal("1.50"), True, T0, "A-1", notes)


def confirm_all(wh: Any, sync: str, rows: list[dict[str, Any]], run_id: str = "r") -> None:
    wh.commit(
        sync, run_id,
        successes=[(r["_dbt_sync_key"], r["_dbt_sync_hash"], f"id-{r['_dbt_sync_key']}")
                   for r in rows if r["_dbt_sync_op"] in ("insert", "update")],
        deletions=[r["_dbt_sync_key"] for r in rows if r["_dbt_sync_op"] == "delete"],
    )


def test_sync_specs_read_names_columns_and_skip_disabled(people_project: Any) -> None:
    with people_project.warehouse() as wh:
        specs = {s["name"]: s for s in wh.model_syncs(PEOPLE_UID)}
    assert set(specs) == {"people_mirror", "people__salesforce__contact"}
    assert specs["people_mirror"]["key_columns"] == ["org", "person_id"]
    assert specs["people_mirror"]["columns"] == ["name", "email", "score", "active", "seen_at", "account_id"]
    assert specs["people_mirror"]["mode"] == "mirror"


def test_null_and_empty_string_hash_differently_and_unmapped_edits_send_nothing(people_project: Any) -> None:
    with people_project.warehouse() as wh:
        wh.reset("people_mirror")
        set_people(wh, [row(1, email=""), row(2, email=None), row(3, name="Zoë ' \\ 東京")])
        wh.capture(PEOPLE_UID)
        first = by_key(changeset(wh, "people_mirror"))
        assert first["acme|1"]["_dbt_sync_hash"] != first["acme|2"]["_dbt_sync_hash"]
        assert first["acme|3"]["name"] == "Zoë ' \\ 東京"
        confirm_all(wh, "people_mirror", list(first.values()))

        # unmapped column edited everywhere: nothing to send
        set_people(wh, [row(1, email="", notes="x"), row(2, email=None, notes="y"),
                        row(3, name="Zoë ' \\ 東京", notes="z")])
        wh.capture(PEOPLE_UID)
        assert changeset(wh, "people_mirror") == []

        # '' -> NULL and NULL -> '' are both changes
        set_people(wh, [row(1, email=None), row(2, email=""), row(3, name="Zoë ' \\ 東京")])
        wh.capture(PEOPLE_UID)
        second = by_key(changeset(wh, "people_mirror"))
        assert set(second) == {"acme|1", "acme|2"}
        assert {r["_dbt_sync_op"] for r in second.values()} == {"update"}
        assert second["acme|1"]["_dbt_sync_destination_id"] == "id-acme|1"


def test_hash_is_stable_across_captures(people_project: Any) -> None:
    with people_project.warehouse() as wh:
        wh.reset("people_mirror")
        set_people(wh, [row(1), row(2, name="Ünïcode ✓")])
        wh.capture(PEOPLE_UID)
        a = {r["_dbt_sync_key"]: r["_dbt_sync_hash"] for r in changeset(wh, "people_mirror")}
        set_people(wh, [row(2, name="Ünïcode ✓"), row(1)])
        wh.capture(PEOPLE_UID)
        b = {r["_dbt_sync_key"]: r["_dbt_sync_hash"] for r in changeset(wh, "people_mirror")}
    assert a == b and len(a) == 2


def test_null_and_duplicate_keys_are_flagged_not_sent(people_project: Any) -> None:
    with people_project.warehouse() as wh:
        wh.reset("people_mirror")
        set_people(wh, [row(1), row(2, org=None), row(3), row(3, name="Other"), row(4)])
        wh.capture(PEOPLE_UID)
        rows = changeset(wh, "people_mirror")
    ops = sorted((r["_dbt_sync_key"] or "", r["_dbt_sync_op"]) for r in rows)
    assert ops == [("", "invalid_null_key"), ("acme|1", "insert"), ("acme|3", "invalid_duplicate_key"),
                   ("acme|3", "invalid_duplicate_key"), ("acme|4", "insert")]


def test_mirror_deletes_and_failed_subset_comes_back(people_project: Any) -> None:
    with people_project.warehouse() as wh:
        wh.reset("people_mirror")
        set_people(wh, [row(i) for i in range(1, 6)])
        wh.capture(PEOPLE_UID)
        rows = changeset(wh, "people_mirror")
        ok, bad = rows[:3], rows[3:]
        wh.commit("people_mirror", "r1", successes=[(r["_dbt_sync_key"], r["_dbt_sync_hash"], "x") for r in ok],
                  failures=[FailureRow(r["_dbt_sync_key"], "insert", "INVALID_EMAIL", "bad") for r in bad])
        # 1 leaves the model, 2 changes, 6 is new; 4 and 5 failed before
        set_people(wh, [row(2, name="Grace"), row(3), row(4), row(5), row(6)])
        wh.capture(PEOPLE_UID)
        again = {r["_dbt_sync_key"]: r["_dbt_sync_op"] for r in changeset(wh, "people_mirror")}
        assert again == {"acme|1": "delete", "acme|2": "update", "acme|4": "insert",
                         "acme|5": "insert", "acme|6": "insert"}
        open_failures = wh.query(f"select record_key, attempt from {wh.table('dbt_sync_open_failures')} "
                                 "where sync_name = 'people_mirror' order by record_key")
        assert open_failures == [{"record_key": "acme|4", "attempt": 1}, {"record_key": "acme|5", "attempt": 1}]


def test_pending_is_kept_without_new_capture_and_synced_rows_are_skipped(people_project: Any) -> None:
    with people_project.warehouse() as wh:
        wh.reset("people_mirror")
        set_people(wh, [row(i) for i in range(1, 8)])
        wh.capture(PEOPLE_UID)
        assert wh.claim_changeset("people_mirror") == {"insert": 7}
        pages = list(wh.iter_changes("people_mirror", page_size=3))
        assert [len(p) for p in pages] == [3, 3, 1]
        # the run dies after committing the first page
        confirm_all(wh, "people_mirror", pages[0])
        # no new capture: pending kept; the three already synced are not counted as changes to send
        assert wh.claim_changeset("people_mirror") == {"insert": 4}
        rest = [r["_dbt_sync_key"] for p in wh.iter_changes("people_mirror", page_size=3) for r in p]
        assert rest == [r["_dbt_sync_key"] for r in pages[1] + pages[2]]


def test_consecutive_failures_count_attempts_and_success_closes_them(people_project: Any) -> None:
    with people_project.warehouse() as wh:
        wh.reset("people_mirror")
        # earlier tests' open failures of rows that left the model would be closed by this capture ('gone')
        wh.execute(f"delete from {wh.table('dbt_sync_failures')} where sync_name = 'people_mirror'")
        set_people(wh, [row(1)])
        wh.capture(PEOPLE_UID)
        (r,) = changeset(wh, "people_mirror")
        for run in ("a", "b", "c"):
            wh.commit("people_mirror", run, failures=[FailureRow(r["_dbt_sync_key"], "insert", "E", "m", ["email"],
                                                                 {"email": "***"})])
        rows = wh.query(f"select run_id, attempt, first_failed_at, failed_at from {wh.table('dbt_sync_failures')} "
                        "where sync_name = 'people_mirror' and record_key = 'acme|1' order by attempt")
        assert [x["attempt"] for x in rows] == [1, 2, 3]
        assert len({x["first_failed_at"] for x in rows}) == 1 and rows[2]["failed_at"] > rows[0]["failed_at"]
        wh.commit("people_mirror", "d", successes=[(r["_dbt_sync_key"], r["_dbt_sync_hash"], "x")])
        open_sql = (f"select attempt from {wh.table('dbt_sync_open_failures')} "
                    "where sync_name = 'people_mirror' and record_key = 'acme|1'")
        assert wh.query(open_sql) == []
        wh.commit("people_mirror", "e", failures=[FailureRow(r["_dbt_sync_key"], "update", "E", "m")])
        (again,) = wh.query(open_sql)
        assert again["attempt"] == 1
