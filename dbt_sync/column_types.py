"""Warehouse column types in families: the one table both destinations' mapping checks use.

``numeric(18,2)`` → ``decimal``, ``timestamp with time zone`` → ``timestamp``,
``integer[]`` / ``_int4`` → ``array``. The type strings are what dbt's adapters
report (DuckDB, PostgreSQL, Redshift) or what a model's yml documents as
``data_type``; each destination decides which families fit which of its field
types (``destinations/salesforce/check.py``, ``destinations/hubspot/check.py``).
"""

from __future__ import annotations

import re

#: (family, pattern on the lower-cased type without its parenthesised arguments), first match wins
FAMILIES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("array", re.compile(r"(\[\]$|^array|^list|^_)")),
    ("timestamp", re.compile(r"^(timestamp|timestamptz|datetime|datetime2|datetimeoffset|smalldatetime)")),
    ("time", re.compile(r"^time\b")),
    ("date", re.compile(r"^date$")),
    ("boolean", re.compile(r"^(bool|boolean|bit)$")),
    ("integer", re.compile(r"^(u?(tiny|small|medium|big|huge)?int(eger)?\d*|int[248]|long|short|serial|bigserial)$")),
    ("decimal", re.compile(r"^(numeric|decimal|number|dec|money)$")),
    ("float", re.compile(r"^(float\d*|double( precision)?|real|float64)$")),
    ("text", re.compile(r"^(varchar|char|character( varying)?|text|string|nvarchar|nchar|bpchar|citext|uuid|name)$")),
)


def column_family(column_type: str | None) -> str | None:
    """The family of a warehouse type string (see :data:`FAMILIES`), or None when unknown or not given."""
    if not column_type:
        return None
    base = re.sub(r"\(.*?\)", "", column_type.strip().lower()).strip()
    base = re.sub(r"\s+(unsigned|signed)$", "", base)
    for family, pattern in FAMILIES:
        if pattern.search(base):
            return family
    return None
