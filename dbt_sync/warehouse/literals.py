"""Render Python values as SQL literals: the key lists (``IN (...)``) and times of the audit statements.

A batch's rows are never rendered here: they are bound, streamed (``COPY``)
or appended (``Warehouse._write_rows``, the ``*_batch_sql`` macros). The
rules below are the ones those paths keep for text (NUL dropped). Strings
keep every character (quotes, unicode) intact:

* DuckDB and PostgreSQL (``standard_conforming_strings`` on) only need quotes
  doubled.
* Redshift reads a backslash in a literal as an escape, so backslashes are
  spliced in with ``chr(92)``, which means the same on PostgreSQL too.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from collections.abc import Iterable, Sequence
from typing import Any


def literal(value: Any, adapter_type: str) -> str:
    """One value as a SQL literal for ``adapter_type``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | decimal.Decimal):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dt.datetime):
        # an instant: naive values are UTC (the audit clock); stored with time zone, see type_timestamp()
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        kind = "timestamptz" if adapter_type == "redshift" else "timestamp with time zone"
        return f"cast('{value.isoformat(sep=' ')}+00:00' as {kind})"
    if isinstance(value, dt.date):
        return f"cast('{value.isoformat()}' as date)"
    if isinstance(value, dict | list):
        value = json.dumps(value, default=str, ensure_ascii=False)
    return string_literal(str(value), adapter_type)


def string_literal(text: str, adapter_type: str) -> str:
    """A string literal that reads back as exactly ``text``."""
    text = text.replace("\x00", "")
    quoted = "'" + text.replace("'", "''") + "'"
    if adapter_type == "redshift" and "\\" in text:
        quoted = quoted.replace("\\", "' || chr(92) || '")
    return quoted


def row_literal(values: Sequence[Any], adapter_type: str) -> str:
    """``(v1, v2, ...)``."""
    return "(" + ", ".join(literal(v, adapter_type) for v in values) + ")"


def list_literal(values: Iterable[Any], adapter_type: str) -> str:
    """``v1, v2, ...`` for an ``IN (...)`` list."""
    return ", ".join(literal(v, adapter_type) for v in values)
