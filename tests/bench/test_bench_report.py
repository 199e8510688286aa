"""``python -m bench.report``: the summary of docs/benchmarks.md states met or missed from the result files
themselves, for the targets measured in their own scenarios (per-record CPU, start-up)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import bench.report


def _write(results: Path, name: str, data: dict[str, object]) -> None:
    results.mkdir(parents=True, exist_ok=True)
    payload = {"scenario": name, "machine": {"commit": "abc1234", "loadavg_at_end": [1.5, 1.0, 1.0]}, **data}
    (results / f"{name}-latest.json").write_text(json.dumps(payload))


@pytest.mark.parametrize(("bulk_us", "open_cpu", "expect_bulk", "expect_startup"),
                         [(49.6, 0.9, "met", "met"), (64.0, 3.1, "missed", "missed")])
def test_summary_rows_for_per_record_cpu_and_start_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      bulk_us: float, open_cpu: float, expect_bulk: str,
                                                      expect_startup: str) -> None:
    monkeypatch.setattr(bench.report, "RESULTS", tmp_path)
    _write(tmp_path, "per-record-cpu-duckdb", {"runs": 5, "per_record_cpu_us": {
        "head": {"hubspot": 78.2, "rest": 88.7, "bulk": bulk_us}}})
    _write(tmp_path, "startup-duckdb", {"median": {"open": {"artifacts": {"cpu": open_cpu, "wall": 3.0},
                                                            "parsed": {"cpu": 3.2, "wall": 3.3}}}})
    lines: list[str] = []
    bench.report.summary(lines)
    rows = {line.split(" | ")[0].lstrip("| "): line.split(" | ") for line in lines if line.startswith("| 2.")
            or line.startswith("| 3.")}
    bulk = next(v for k, v in rows.items() if "Bulk" in k)
    assert bulk[2] == f"{bulk_us:.0f} µs" and bulk[3] == expect_bulk
    assert "commit abc1234, load 1.5, 5 pairs" in bulk[4]
    hubspot = next(v for k, v in rows.items() if "HubSpot" in k)
    assert hubspot[2] == "78 µs" and hubspot[3] == "missed"
    (startup,) = [v for k, v in rows.items() if k.startswith("3.")]
    assert startup[2].startswith(f"{open_cpu:.2f} s") and "3.20 s" in startup[2] and startup[3] == expect_startup


def test_nothing_measured_renders_no_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench.report, "RESULTS", tmp_path)
    lines: list[str] = []
    bench.report.summary(lines)
    assert [line for line in lines if line.startswith("| 2.") or line.startswith("| 3.")] == []
