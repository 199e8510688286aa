"""Every benchmark command of docs/benchmarks.md at a tiny size, through
``bench/run``'s own entry point (``python -m bench``), so none of them rots.

CI runs the scenario commands that rebuild a small dbt project a few times
(tens of seconds each on the 2-core machine): steady state on both
warehouses, the initial loads (HubSpot, Salesforce Bulk and REST), memory on
both warehouses, alternatives, hook overhead, PostgreSQL paging and the
report page. ``DBT_SYNC_BENCH_SMOKE=all`` adds the rest: start-up and
per-record CPU (several minutes each: many dbt-sync processes), hook overhead
on PostgreSQL (the same code as on DuckDB), the steady state with
OpenTelemetry exporting in every second run, one crash trial (``bench/run
crash`` wraps tests/engine/test_crash.py, which CI already runs with 5
trials) and the drt comparison (it needs drt-core in its own virtual
environment from ``bench/setup``, about a minute to install).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import bench.common
import bench.project
from bench.__main__ import main
from bench.project import REPO_ROOT

PG = pytest.mark.postgres
SCENARIOS: dict[str, tuple[list[str], list[pytest.MarkDecorator]]] = {
    "alternatives": (["alternatives", "--rows", "200", "--loop-rows", "5", "--initial-rows", "200", "--runs", "1"],
                     []),
    "initial-load": (["initial-load", "--hs-rows", "200", "--sf-rows", "300", "--rest-rows", "200", "--runs", "1"],
                     []),
    "steady-state-duckdb": (["steady-state", "--warehouse", "duckdb", "--rows", "500", "--runs", "1"], []),
    "steady-state-postgres": (["steady-state", "--warehouse", "postgres", "--rows", "500", "--runs", "1"], [PG]),
    "memory-duckdb": (["memory", "--warehouse", "duckdb", "--sizes", "300", "--runs", "1"], []),
    "memory-postgres": (["memory", "--warehouse", "postgres", "--sizes", "300", "--runs", "1"], [PG]),
    "hook-overhead-duckdb": (["hook-overhead", "--warehouse", "duckdb", "--rows", "500", "--runs", "1"], []),
    "paging": (["paging", "--sizes", "6000", "--pages", "2"], [PG]),
}
if os.environ.get("DBT_SYNC_BENCH_SMOKE") == "all":
    SCENARIOS.update({
        "hook-overhead-postgres": (["hook-overhead", "--warehouse", "postgres", "--rows", "500", "--runs", "1"],
                                   [PG]),
        "steady-state-otel": (["steady-state", "--warehouse", "duckdb", "--rows", "500", "--runs", "2", "--otel",
                               "interleave"], []),
        "crash": (["crash", "--trials", "1"], []),
        "startup": (["startup", "--runs", "1"], []),
        "per-record-cpu": (["per-record-cpu", "--quick", "--runs", "1"], []),
        "drt": (["drt", "--quick"], []),
    })


def _params() -> list[Any]:
    return [pytest.param(name, id=name, marks=marks) for name, (_, marks) in SCENARIOS.items()]


def _result(tmp_path: Path) -> dict[str, Any]:
    (result,) = [p for p in tmp_path.glob("*.json") if not p.name.endswith("-latest.json")]
    data: dict[str, Any] = json.loads(result.read_text())
    return data


@pytest.mark.slow
@pytest.mark.parametrize("name", _params())
def test_benchmark_command_runs_at_a_tiny_size(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench.common, "RESULTS", tmp_path)  # keep bench/results/ for real measurements
    monkeypatch.setattr(bench.project, "DATA", tmp_path / "data")  # and bench/data/ for a run going on beside
    args = SCENARIOS[name][0]
    assert main(args) == 0
    data = _result(tmp_path)
    if name == "steady-state-otel":  # v1 untraced, v2 exporting to the local sink
        otel = data["otel"]
        assert (otel["traced_runs"], otel["untraced_runs"]) == (1, 1) and otel["sink_requests"] > 0
    if name == "alternatives":
        a = data["at_10k_20ms"]
        assert a["loop"][0]["rows"] == 5 and a["ratio"] > 0
        repush = data["steady_state"]["repush"][0]
        assert repush["rows"] > 0 and repush["failed"] == 0
    elif name == "initial-load":
        hs = data["hubspot"]
        (run,) = hs["runs"]
        assert run["http_429"] == 0
        # the share of the ceiling counts the whole sending phase (commits between requests included)
        phase = run["wall"] - run["startup"] - run["capture"]
        assert run["sending_phase_seconds"] == pytest.approx(phase)
        assert phase >= run["push"] > 0
        assert hs["share_of_ceiling"] == pytest.approx(200 / phase / 1900)
        assert data["salesforce_bulk"]["runs"][0]["records_sent"] == 300
        for concurrency in (1, 4):
            assert data["salesforce_rest"][f"concurrency_{concurrency}"]["runs"][0]["records_sent"] == 200
    elif name.startswith("steady-state"):
        assert data["rows_read_equals_changed"] is True
        assert set(data["no_change"]["salesforce_requests_per_run"]) == {0}
    elif name.startswith("memory"):
        assert data["sizes"]["300"]["median_peak_rss_mb"] > 0
    elif name.startswith("hook-overhead"):
        assert data["median_plain"] > 0 and data["median_changed"] > 0
    elif name == "paging":
        pages = data["sizes"]["6000"]
        assert pages["last_page_uses_index"] is True
        assert pages["claimed"] == {"insert": 6000}
        assert [p["rows"] for p in pages["pages"]] == [5000, 1000]
    elif name == "per-record-cpu":
        assert set(data["per_record_cpu_us"]["head"]) == {"hubspot", "rest", "bulk"}
    elif name == "startup":
        assert {c: set(v) for c, v in data["median"].items()} == {c: {"artifacts", "parsed"}
                                                                   for c in ("run", "plan", "open")}
        assert data["median"]["run"]["artifacts"]["cpu"] > 0
    elif name == "crash":
        assert data["trials"] == 1 and (data["lost"], data["duplicated"], data["stale"]) == (0, 0, 0)
    elif name == "drt":
        parts = [v for v in data.values() if isinstance(v, dict) and "median" in v]
        assert len(parts) == 3 and all(p["all_correct"] for p in parts)
        assert all(p["median"]["drt_cpu"] > 0 and p["median"]["dbt_sync_cpu"] > 0 for p in parts)


@pytest.mark.slow
def test_report_page_benchmark_runs_at_a_tiny_size(tmp_path: Path) -> None:
    out = tmp_path / "report-page.json"
    subprocess.run([sys.executable, "-m", "bench.report_page", "--runs", "5", "--failures", "20", "--repeat", "1",
                    "--out", str(out)], cwd=REPO_ROOT, check=True, capture_output=True, timeout=600)
    data = json.loads(out.read_text())
    assert data["open_failures"] == 20 and data["ready_ms_median"] > 0
