"""``dbt-sync report``: one self-contained HTML page from the audit and alert tables.

:func:`build_report` reads the project (for the plan), the warehouse through
the user's dbt profile (for the history: :mod:`.data`) and writes the page
(:mod:`.page`). No server, no new credentials; see docs/report.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dbt_sync.clock import utcnow
from dbt_sync.report.data import Caps, collect
from dbt_sync.report.page import render

#: the page's file name in dbt's target directory (``--target-path``), where it is written by default
REPORT_FILE = "dbt_sync_report.html"
DEFAULT_OUTPUT = Path("target") / REPORT_FILE
DEFAULT_DAYS = 30
DEFAULT_CAPS = Caps()

__all__ = ["DEFAULT_DAYS", "DEFAULT_OUTPUT", "REPORT_FILE", "Caps", "Report", "build_report", "collect", "render"]


@dataclass(frozen=True)
class Report:
    """What :func:`build_report` wrote: the file, its size in bytes, and the syncs it shows."""

    path: Path
    size: int
    syncs: tuple[str, ...]


def build_report(
    options: Any,
    select: Sequence[str] = (),
    exclude: Sequence[str] = (),
    *,
    days: int = DEFAULT_DAYS,
    output: str | Path | None = None,
    caps: Caps = DEFAULT_CAPS,
    now: dt.datetime | None = None,
) -> Report:
    """Write the report of the selected syncs (every enabled sync by default) and return where.

    ``options``: :func:`dbt_sync.api.build_options`; ``output``: the file
    (default ``dbt_sync_report.html`` in dbt's target directory, ``target/`` unless
    ``--target-path`` / ``DBT_TARGET_PATH`` / ``target-path`` say otherwise); ``days``: how
    far back runs and alerts go. Raises :class:`dbt_sync.errors.DbtSyncError`
    (bad project or selection) and the warehouse's errors as ``dbt-sync
    status`` does.
    """
    from dbt_sync.api import open_warehouse, plan_project
    from dbt_sync.project import load_project

    project = load_project(options)
    plan = plan_project(project, select, exclude, all_syncs=True)
    with open_warehouse(options) as wh:
        data = collect(wh, plan, now=now or utcnow(), days=days, caps=caps, target=wh.target_name)
    path = Path(output) if output is not None else project.target_dir / REPORT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    text = render(data)
    path.write_text(text, encoding="utf-8")
    return Report(path, len(text.encode("utf-8")), tuple(s["name"] for s in data["syncs"]))
