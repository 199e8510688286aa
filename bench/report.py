"""``python -m bench.report [--write]``: the tables of docs/benchmarks.md from bench/results/*-latest.json.

``--write`` replaces the generated block of docs/benchmarks.md (between its begin/end markers).
"""

from __future__ import annotations

import json
from typing import Any

from bench.common import RESULTS, median


def _load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}-latest.json"
    return json.loads(path.read_text()) if path.exists() else None


def _s(x: float) -> str:
    return f"{x:.2f} s"


def steady(lines: list[str]) -> None:
    for wh in ("duckdb", "postgres"):
        d = _load(f"steady-state-{wh}")
        if not d:
            continue
        m = d["median"]
        lines += [
            f"### Steady state, {wh}: {d['rows']:,} rows, {sum(d['expected_changes'].values()):,} changed "
            f"(median of {d['runs']})",
            "",
            "| phase | seconds | share of wall |",
            "|---|---|---|",
        ]
        for key, label in (("startup", "dbt start-up (project, manifest, adapter)"),
                           ("capture", "capture: the diff query (warehouse)"),
                           ("read", "reading changed rows (warehouse)"),
                           ("push_waiting", "push: waiting on the emulator (HTTP, Bulk job, polls)"),
                           ("push_client", "push: dbt-sync + client CPU inside write()"),
                           ("audit", "audit writes, locks, run rows (warehouse)"),
                           ("own_outside_io", "dbt-sync outside those calls (plan, mapping, accounting)"),
                           ("wall", "**total wall**")):
            lines.append(f"| {label} | {m[key]:.2f} | {m[key] / m['wall']:.0%} |")
        lines += [
            "",
            f"- rows read out of the warehouse: {m['rows_read']:,.0f}; changed rows: "
            f"{sum(d['expected_changes'].values()):,} ({d['expected_changes']}); equal in every run: "
            f"**{d['rows_read_equals_changed']}**",
            f"- dbt-sync's own time (outside warehouse and emulator, incl. its CPU inside write()): "
            f"{m['own_total']:.2f} s = **{m['own_share']:.0%} of the total** (target <= 20%); "
            f"{m['own_share_excluding_startup']:.0%} when dbt's start-up is left out of the total",
            f"- peak RSS {m['peak_rss_mb']:.0f} MB",
            f"- per-run walls: {', '.join(_s(r['wall']) for r in d['runs_detail'])}",
            "",
        ]
        il = d.get("initial_load")
        if il:
            lines += [
                f"Initial load that preceded it (1 run, Bulk API 2.0, {d['rows']:,} rows): wall {_s(il['wall'])} "
                f"= {il['records_per_second']:,.0f} records/s end to end; push {_s(il['push'])}, audit "
                f"{_s(il['audit'])}, capture {_s(il['capture'])}, read {_s(il['read'])}, own "
                f"{_s(il['own_outside_io'])}; peak RSS {il['peak_rss_mb']:.0f} MB.",
                "",
            ]
        nc = d.get("no_change")
        if nc:
            lines += [
                f"### No change, {wh}",
                "",
                "| what | median | runs |",
                "|---|---|---|",
                f"| `dbt-sync run --recapture` (process wall) | {_s(nc['median_dbt_sync_run'])} | "
                f"{', '.join(f'{x:.2f}' for x in nc['dbt_sync_run_seconds'])} |",
                f"| baseline: `dbt show --inline 'select 1'` | "
                f"{_s(sorted(nc['dbt_show_select_1_seconds'])[len(nc['dbt_show_select_1_seconds']) // 2])} | "
                f"{', '.join(f'{x:.2f}' for x in nc['dbt_show_select_1_seconds'])} |",
                f"| baseline: the bare diff query (driver, connect included) | "
                f"{_s(sorted(nc['bare_diff_query_seconds'])[len(nc['bare_diff_query_seconds']) // 2])} | "
                f"{', '.join(f'{x:.3f}' for x in nc['bare_diff_query_seconds'])} |",
                "",
                f"Ratio dbt-sync / baseline: **{nc['ratio']:.2f}** (target <= 1.2). Salesforce requests sent: "
                f"{nc['salesforce_requests_per_run']}.",
                "",
            ]


def initial(lines: list[str]) -> None:
    d = _load("initial-load-duckdb")
    if not d:
        return
    hs = d.get("hubspot")
    if hs:
        # The engine commits each batch between requests while the limiter holds the next one, so the
        # sending phase is everything after start-up and capture, not just the time inside write().
        phase = [hs["rows"] / (r["wall"] - r["startup"] - r["capture"]) for r in hs["runs"]]
        requests = hs["runs"][0]["emulator"]["hubspot_requests"]
        best = 10.0 * ((requests - 1) // 190)  # fastest schedule for that many requests, full window at start
        best_share = median([best / (r["wall"] - r["startup"] - r["capture"]) for r in hs["runs"]])
        lines += [
            f"### HubSpot, {hs['rows']:,} rows, emulator limited to 190 requests / 10 s (median of "
            f"{len(hs['runs'])}, {_at(d)})",
            "",
            f"- sending phase (after start-up and capture; commits overlap the limiter's waits): "
            f"{median(phase):,.0f} records/s = **{median(phase) / 1900:.1%} of the 1,900 records/s ceiling** "
            f"(target >= 98%); {requests:,} requests, the fastest schedule the limit allows for them is "
            f"{best:.0f} s: dbt-sync took {best_share:.1%} of that speed",
            f"- time inside write() alone: {', '.join(_s(r['push']) for r in hs['runs'])}; audit commits "
            f"{', '.join(_s(r['audit']) for r in hs['runs'])}",
            f"- end to end (start-up included): {hs['median_end_to_end_records_per_second']:,.0f} records/s",
            f"- HTTP 429s: **{hs['http_429_total']}** over all runs",
        ]
        if all(r.get("cpu") for r in hs["runs"]):
            cpu = median([r["cpu"] for r in hs["runs"]])
            emu = median([r["push_emulator_cpu"] for r in hs["runs"]])
            lines.append(f"- CPU: dbt-sync's process {cpu:.1f} s ({cpu / requests * 1000:.1f} ms a request, start-up "
                         f"included), the emulator {emu:.1f} s ({emu / requests * 1000:.1f} ms a request)")
        lines.append("")
    for key, r in (d.get("salesforce_rest") or {}).items():
        lines += [
            f"### Salesforce REST (sObject Collections), {r['rows']:,} rows, 50 ms latency, {key.replace('_', ' ')} "
            f"({_at(d)})",
            "",
            f"- push throughput {r['median_push_records_per_second']:,.0f} records/s; bound concurrency x 200 / "
            f"0.05 s = {r['bound_records_per_second']:,.0f}; **{r['share_of_bound']:.0%} of the bound** "
            f"(target >= 90%)",
            f"- per-run push {', '.join(_s(x['push']) for x in r['runs'])}",
            f"- CPU per request (median): dbt-sync's thread inside write() "
            f"{median([x['push_client'] for x in r['runs']]) / (r['rows'] / 200) * 1000:.1f} ms, the emulator "
            f"{median([x['push_emulator_cpu'] for x in r['runs']]) / (r['rows'] / 200) * 1000:.1f} ms; requests sent "
            f"{', '.join(str(x['emulator']['salesforce_requests']) for x in r['runs'])}",
            "",
        ]
    sf = d.get("salesforce_bulk")
    if sf:
        lines += [f"### Salesforce Bulk API 2.0, {sf['rows']:,} rows: {sf['median_records_per_second']:,.0f} "
                  f"records/s end to end, push {sf['median_push_records_per_second']:,.0f} records/s", ""]


def memory(lines: list[str]) -> None:
    for wh in ("duckdb", "postgres"):
        d = _load(f"memory-{wh}")
        if not d:
            continue
        lines += [f"### {wh} ({_at(d)})", "", "| changed rows | peak RSS, median | runs |", "|---|---|---|"]
        for size, v in d["sizes"].items():
            lines.append(f"| {int(size):,} | {v['median_peak_rss_mb']:.0f} MB | "
                         f"{', '.join(f'{x:.0f}' for x in v['peak_rss_mb'])} |")
        if "growth_100k_to_1m" in d:
            lines += ["", f"Growth from 100,000 to 1,000,000: **{d['growth_100k_to_1m']:+.0%}** (target: flat; "
                          "peak <= 300 MB)."]
        lines.append("")


def _at(d: dict[str, Any]) -> str:
    """Where a result was measured: commit and the load average when it finished."""
    m = d.get("machine", {})
    load = m.get("loadavg_at_end") or d.get("load_after")
    return f"commit {m.get('commit', '?')}" + (f", load {load[0]:.1f}" if load else "")


def _ratio_rows(d: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    parts = []
    for key, label in (("salesforce_bulk_initial_10000", "Salesforce Bulk initial load, 10,000 rows"),
                       ("salesforce_bulk_initial_100000", "Salesforce Bulk initial load, 100,000 rows"),
                       ("salesforce_steady_state", "Salesforce steady state"),
                       ("hubspot_initial", "HubSpot initial load")):
        if key in d:
            part = d[key]
            if key == "salesforce_steady_state":
                label += f" ({part['rows']:,} rows, {part['changed']:,} changed)"
            elif key == "hubspot_initial":
                label += f", {part['rows']:,} rows"
            parts.append((label, part))
    return parts


def drt(lines: list[str]) -> None:
    for name in ("drt-salesforce", "drt-hubspot", "drt-salesforce-hubspot"):
        d = _load(name)
        if not d:
            continue
        lines += [f"### {name.replace('drt-', '').replace('-', ' and ')} (drt-core {d['drt_version']}, "
                  f"median of {d['runs']}, {_at(d)})", "",
                  "| path | dbt-sync wall | drt wall | dbt-sync CPU | drt CPU | wall ratio | CPU ratio | CRM correct |",
                  "|---|---|---|---|---|---|---|---|"]
        for label, part in _ratio_rows(d):
            m = part["median"]
            lines.append(f"| {label} | {m['dbt_sync_wall']:.2f} s | {m['drt_wall']:.2f} s | "
                         f"{m['dbt_sync_cpu']:.2f} s | {m['drt_cpu']:.2f} s | {m['wall_ratio']:.2f} | "
                         f"{m['cpu_ratio']:.2f} | "
                         f"{'both, every run' if part['all_correct'] else '**no**'} |")
        lines += ["", "Ratios are dbt-sync / drt (at most 1.0: dbt-sync ahead). CPU is user + system of each "
                      "tool's whole process tree; wall is the whole process.", ""]
        slope = _bulk_slope(d)
        if slope:
            lines += [f"From the two Bulk sizes: dbt-sync's process CPU grows by **{slope[0] * 1e6:.0f} µs per "
                      f"record** (drt: {slope[1] * 1e6:.0f} µs); its fixed CPU (the intercept: start-up, capture "
                      f"set-up, job round trips) is {slope[2]:.2f} s (drt: {slope[3]:.2f} s). DuckDB runs inside "
                      "dbt-sync's process, so the capture's and the state writes' CPU are in its figure.", ""]


def _bulk_slope(d: dict[str, Any]) -> tuple[float, float, float, float] | None:
    small, large = d.get("salesforce_bulk_initial_10000"), d.get("salesforce_bulk_initial_100000")
    if not small or not large:
        return None
    ours = (large["median"]["dbt_sync_cpu"] - small["median"]["dbt_sync_cpu"]) / 90_000
    theirs = (large["median"]["drt_cpu"] - small["median"]["drt_cpu"]) / 90_000
    return (ours, theirs, small["median"]["dbt_sync_cpu"] - 10_000 * ours,
            small["median"]["drt_cpu"] - 10_000 * theirs)


def paging(lines: list[str]) -> None:
    d = _load("paging-postgres")
    if not d:
        return
    lines += [f"PostgreSQL, pages of {d['page_size']:,} rows ({_at(d)}):", "",
              "| changed rows | page query through dbt-sync, median (first, last) | PostgreSQL execution, "
              "first / middle / last page | index scan | capture (model build with hook) |",
              "|---|---|---|---|---|"]
    for size, v in d["sizes"].items():
        server = " / ".join(f"{ms:.1f}" for ms in v["server_ms_by_page"].values()) if "server_ms_by_page" in v \
            else f"{v['last_page_server_ms']:.1f}"
        lines.append(f"| {int(size):,} | {v['median_page_seconds'] * 1000:.0f} ms "
                     f"({v['first_page_seconds'] * 1000:.0f}, {v['last_page_seconds'] * 1000:.0f}) | {server} ms | "
                     f"{v['last_page_uses_index']} | "
                     f"{v['model_build_seconds']:.0f} s |")
    lines += ["", f"Largest over smallest, median page time: **{d['largest_over_smallest']:.2f}x** (target: flat).",
              ""]


def hook(lines: list[str]) -> None:
    for wh in ("duckdb", "postgres"):
        d = _load(f"hook-overhead-{wh}")
        if not d:
            continue
        lines += [
            f"### {wh}, {d['rows']:,} rows (dbt's model execution time, median of {len(d['plain_seconds'])})",
            "",
            "| build | seconds | vs no hook |",
            "|---|---|---|",
            f"| no hook | {d['median_plain']:.2f} | 1.00 |",
            f"| hook, first capture (every row new) | {d['first_capture_seconds']:.2f} | "
            f"{d['first_capture_seconds'] / d['median_plain']:.2f} |",
            f"| hook, nothing changed | {d['median_unchanged']:.2f} | {d['ratio_unchanged']:.2f} |",
            f"| hook, 1.2% changed | {d['median_changed']:.2f} | {d['ratio_changed']:.2f} |",
            "",
        ]


def alternatives(lines: list[str]) -> None:
    d = _load("alternatives-duckdb")
    if not d:
        return
    a = d["at_10k_20ms"]
    n = d.get("initial_rows", 10_000)
    phase = median([n / (r["wall"] - r["startup"]) for r in a["dbt_sync"]])
    lines += [
        f"| dbt-sync at {n:,} rows, 20 ms latency | records/s (median) |",
        "|---|---|",
        f"| dbt-sync initial load (in-process wall, start-up included) | "
        f"{a['median_dbt_sync_records_per_second']:,.0f} |",
        f"| dbt-sync, whole process (Python imports included) | "
        f"{a['median_dbt_sync_records_per_second_process']:,.0f} |",
        f"| dbt-sync, sync phase (start-up left out, as for the loop) | "
        f"{phase:,.0f} |",
        f"| dbt-sync, push only (time inside write()) | "
        f"{median([n / r['push'] for r in a['dbt_sync']]):,.0f} |",
        f"| per-record loop, simple-salesforce `sf.Contact.upsert` ({d['loop_rows']:,} rows, login and read "
        f"left out) | "
        f"{a['median_loop_records_per_second']:,.1f} |",
        "",
        f"Ratio, start-up included: **{a['ratio']:,.0f}x**; sync phase vs loop: "
        f"**{phase / a['median_loop_records_per_second']:,.0f}x**"
        f" (target >= 100x).",
        "",
    ]
    s = d["steady_state"]
    lines += [
        f"Steady state on {d['rows']:,} rows (1.2% changed), process wall, median:",
        "",
        "| tool | seconds | vs dbt-sync |",
        "|---|---|---|",
        f"| dbt-sync run | {s['median_dbt_sync_seconds']:.2f} | 1.0 |",
        f"| full re-push script (simple-salesforce bulk2, every row) | {s['median_repush_seconds']:.2f} | "
        f"{s['repush_over_dbt_sync']:.1f} |",
        f"| per-record loop (every row; from its measured rate) | {s['loop_seconds_estimated']:.0f} | "
        f"{s['loop_over_dbt_sync']:.0f} |",
        "",
    ]


def summary(lines: list[str]) -> None:
    """One row per measured target of issue 18 (per-record CPU and start-up also in their own sections)."""
    rows: list[tuple[str, str, str, str, str]] = []
    for name in ("drt-salesforce", "drt-hubspot", "drt-salesforce-hubspot"):
        d = _load(name)
        if not d:
            continue
        for label, part in _ratio_rows(d):
            m = part["median"]
            met = m["wall_ratio"] <= 1.0 and m["cpu_ratio"] <= 1.0 and part["all_correct"]
            rows.append((f"1. vs drt: {label}", "<= 1.0x drt's wall and CPU, correct",
                         f"wall {m['wall_ratio']:.2f}x, CPU {m['cpu_ratio']:.2f}x"
                         f"{'' if part['all_correct'] else ', **a result was wrong**'}",
                         "met" if met else "missed", _at(d)))
        slope = _bulk_slope(d)
        if slope:
            rows.append(("2. per-record CPU, Bulk path (whole process, DuckDB in it)", "<= 50 µs",
                         f"{slope[0] * 1e6:.0f} µs (drt {slope[1] * 1e6:.0f} µs)",
                         "met" if slope[0] <= 50e-6 else "missed", _at(d)))
    d = _load("per-record-cpu-duckdb")
    if d:
        labels = {"hubspot": "HubSpot (batch API, 100 a request)",
                  "rest": "Salesforce REST (Collections, 200 a request)",
                  "bulk": "Salesforce Bulk API 2.0 (a job per 5,000-row page)"}
        for path, us in d["per_record_cpu_us"]["head"].items():
            rows.append((f"2. per-record CPU, {labels.get(path, path)}: slope of process CPU, DuckDB",
                         "<= 50 µs", f"{us:.0f} µs", "met" if us <= 50 else "missed",
                         _at(d) + f", {d['runs']} pairs"))
    d = _load("startup-duckdb")
    if d:
        cpu = d["median"]["open"]["artifacts"]["cpu"]
        rows.append(("3. fixed start-up CPU, integration_tests (open the session, one query)", "<= 1 s",
                     f"{cpu:.2f} s (project parsed instead: {d['median']['open']['parsed']['cpu']:.2f} s)",
                     "met" if cpu <= 1.0 else "missed", _at(d)))
    d = _load("initial-load-duckdb")
    if d and d.get("hubspot"):
        hs = d["hubspot"]
        share = median([hs["rows"] / (r["wall"] - r["startup"] - r["capture"]) / 1900 for r in hs["runs"]])
        rows.append((f"4. HubSpot {hs['rows']:,} at 190/10 s: rows / (wall - start-up - capture)",
                     ">= 98% of 1,900/s, 0 x 429", f"{share:.1%}, {hs['http_429_total']} x 429",
                     "met" if share >= 0.98 and not hs["http_429_total"] else "missed", _at(d)))
    if d and d.get("salesforce_rest"):
        for key, r in d["salesforce_rest"].items():
            rows.append((f"4. Salesforce REST 50 ms, {key.replace('_', ' ')}: share of concurrency x 200 / 0.05 s",
                         ">= 90%", f"{r['share_of_bound']:.0%} ({r['median_push_records_per_second']:,.0f} of "
                         f"{r['bound_records_per_second']:,.0f} records/s)",
                         "met" if r["share_of_bound"] >= 0.9 else "missed", _at(d)))
    d = _load("paging-postgres")
    if d:
        sizes = list(d["sizes"])
        rows.append((f"5. PostgreSQL page query, {int(sizes[0]):,} -> {int(sizes[-1]):,} changed rows", "flat",
                     f"{d['largest_over_smallest']:.2f}x (median page time); index scan at every size: "
                     f"{all(v['last_page_uses_index'] for v in d['sizes'].values())}",
                     "met" if d["largest_over_smallest"] <= 1.5 else "missed", _at(d)))
    for wh, limit in (("duckdb", "<= 300 MB at 1M"), ("postgres", "flat")):
        d = _load(f"memory-{wh}")
        if not d:
            continue
        meds = {int(k): v["median_peak_rss_mb"] for k, v in d["sizes"].items()}
        top = max(meds)
        growth = d.get("growth_100k_to_1m")
        met = (top >= 1_000_000 and meds[top] <= 300) if wh == "duckdb" else (growth is not None and growth < 0.10)
        figures = ", ".join(f"{v:.0f} MB at {k:,}" for k, v in sorted(meds.items()))
        rows.append((f"5. peak RSS, {wh}", limit, figures, "met" if met else "missed", _at(d)))
    d = _load("alternatives-duckdb")
    if d:
        a = d["at_10k_20ms"]
        phase = median([d["initial_rows"] / (r["wall"] - r["startup"]) for r in a["dbt_sync"]])
        ratio = phase / a["median_loop_records_per_second"]
        rows.append((f"6. vs per-record loop, {d['initial_rows']:,} rows at 20 ms", ">= 100x",
                     f"{a['ratio']:,.0f}x with dbt-sync's start-up; {ratio:,.0f}x sync phase vs loop",
                     "met" if a["ratio"] >= 100 else ("met without start-up" if ratio >= 100 else "missed"), _at(d)))
    lines += ["| target | wanted | measured (medians) | | where |", "|---|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {e} | {f} |" for a, b, c, e, f in rows]
    lines.append("")


BEGIN = "<!-- generated by python -m bench.report: begin -->\n"
END = "<!-- generated: end -->\n"


def main() -> None:
    import sys

    from bench.project import REPO_ROOT

    lines: list[str] = []
    for title, fn in (("Summary", summary), ("drt", drt), ("Initial load", initial), ("Paging", paging),
                      ("Memory", memory), ("Alternatives", alternatives), ("Steady state and no change", steady),
                      ("Hook overhead", hook)):
        probe: list[str] = []
        fn(probe)
        if not probe:
            continue  # no result file for it here: nothing to show rather than an empty heading
        lines += [f"## {title} (generated)", "", *probe]
    text = "\n".join(lines) + "\n"
    if "--write" in sys.argv[1:]:
        doc_path = REPO_ROOT / "docs" / "benchmarks.md"
        doc = doc_path.read_text()
        head, rest = doc.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        doc_path.write_text(head + BEGIN + text + END + tail)
    else:
        print(text)


if __name__ == "__main__":
    main()
