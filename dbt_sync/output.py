"""Plain-text tables and JSON for the terminal, with secrets masked."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from dbt_sync.secrets import redact, redact_obj


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A fixed-width table; right-aligns numbers so counts line up."""
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, value in enumerate(row):
            widths[i] = max(widths[i], len(value))
    numeric = [
        all(isinstance(r[i], (int, float)) and not isinstance(r[i], bool) for r in rows) if rows else False
        for i in range(len(headers))
    ]

    def fmt(values: Sequence[str]) -> str:
        out = []
        for i, v in enumerate(values):
            out.append(v.rjust(widths[i]) if numeric[i] else v.ljust(widths[i]))
        return "  ".join(out).rstrip()

    lines = [fmt(list(headers)), fmt(["-" * w for w in widths])]
    lines += [fmt(row) for row in cells]
    return redact("\n".join(lines))


def to_json(data: Any, *, compact: bool = False) -> str:
    return json.dumps(redact_obj(data), indent=None if compact else 2, default=str, ensure_ascii=False)
