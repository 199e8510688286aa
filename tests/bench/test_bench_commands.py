"""The benchmark commands of docs/benchmarks.md at a tiny size, through
``bench/run``'s own entry point (``python -m bench``), so they cannot rot.

CI runs the scenarios that fit in seconds: ``alternatives`` (the per-record
loop once crashed on DECIMAL values) and ``initial-load`` on HubSpot alone
(the share of the 190/10 s ceiling). The others each rebuild a dbt project
several times (tens of seconds on a busy machine); ``DBT_SYNC_BENCH_SMOKE=all``
adds them to this test.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import bench.common
from bench.__main__ import main

CI_SCENARIOS = {
    "alternatives": ["alternatives", "--rows", "200", "--loop-rows", "5", "--initial-rows", "200", "--runs", "1"],
    "initial-load-hubspot": ["initial-load", "--hs-rows", "200", "--sf-rows", "0", "--rest-rows", "0", "--runs", "1"],
}
MORE_SCENARIOS = {
    "steady-state-duckdb": ["steady-state", "--warehouse", "duckdb", "--rows", "500", "--runs", "1"],
    "steady-state-postgres": ["steady-state", "--warehouse", "postgres", "--rows", "500", "--runs", "1"],
    "steady-state-otel": ["steady-state", "--warehouse", "duckdb", "--rows", "500", "--runs", "2", "--otel",
                          "interleave"],
    "initial-load": ["initial-load", "--hs-rows", "200", "--sf-rows", "300", "--rest-rows", "200", "--runs", "1"],
    "memory": ["memory", "--sizes", "300", "--runs", "1"],
    "hook-overhead-duckdb": ["hook-overhead", "--warehouse", "duckdb", "--rows", "500", "--runs", "1"],
    "hook-overhead-postgres": ["hook-overhead", "--warehouse", "postgres", "--rows", "500", "--runs", "1"],
    "crash": ["crash", "--trials", "1"],
    "per-record-cpu": ["per-record-cpu", "--quick", "--runs", "1"],
    "startup": ["startup", "--runs", "1"],
}
SCENARIOS = {**CI_SCENARIOS, **(MORE_SCENARIOS if os.environ.get("DBT_SYNC_BENCH_SMOKE") == "all" else {})}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_benchmark_command_runs_at_a_tiny_size(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench.common, "RESULTS", tmp_path)  # keep bench/results/ for real measurements
    assert main(SCENARIOS[name]) == 0
    if name == "crash":
        return
    if name == "per-record-cpu":  # a slope per path (its sign is noise at this size)
        (result,) = [p for p in tmp_path.glob("per-record-cpu-*.json") if not p.name.endswith("-latest.json")]
        assert set(json.loads(result.read_text())["per_record_cpu_us"]["head"]) == {"hubspot", "rest", "bulk"}
        return
    (result,) = [p for p in tmp_path.glob("*.json") if not p.name.endswith("-latest.json")]
    data = json.loads(result.read_text())
    if name == "steady-state-otel":  # v1 untraced, v2 exporting to the local sink
        otel = data["otel"]
        assert (otel["traced_runs"], otel["untraced_runs"]) == (1, 1) and otel["sink_requests"] > 0
    if name == "alternatives":
        a = data["at_10k_20ms"]
        assert a["loop"][0]["rows"] == 5 and a["ratio"] > 0
        repush = data["steady_state"]["repush"][0]
        assert repush["rows"] > 0 and repush["failed"] == 0
    if name.startswith("initial-load"):
        hs = data["hubspot"]
        (run,) = hs["runs"]
        assert run["http_429"] == 0
        # the share of the ceiling counts the whole sending phase (commits between requests included)
        phase = run["wall"] - run["startup"] - run["capture"]
        assert run["sending_phase_seconds"] == pytest.approx(phase)
        assert phase >= run["push"] > 0
        assert hs["share_of_ceiling"] == pytest.approx(200 / phase / 1900)
