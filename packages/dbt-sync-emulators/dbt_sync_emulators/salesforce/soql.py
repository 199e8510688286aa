"""A deliberately small SOQL subset, enough for tests to read back what they wrote.

Supported: ``SELECT f1, Rel.f2 FROM Obj [WHERE cond [AND cond ...]]
[ORDER BY f [ASC|DESC]] [LIMIT n]`` and ``SELECT COUNT() FROM Obj ...``, where a
condition is ``field = value``, ``field != value`` or ``field IN (v1, v2)`` and a
value is a quoted string, a number, ``true``/``false`` or ``null``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from .errors import ApiError
from .fields import FieldMeta, ObjectMeta, normalize_id
from .store import Store

_QUERY_RE = re.compile(
    r"^\s*SELECT\s+(?P<select>.+?)\s+FROM\s+(?P<obj>\w+)"
    r"(?:\s+WHERE\s+(?P<where>.+?))?"
    r"(?:\s+ORDER\s+BY\s+(?P<order>[\w.]+)(?:\s+(?P<dir>ASC|DESC))?)?"
    r"(?:\s+LIMIT\s+(?P<limit>\d+))?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_COND_RE = re.compile(
    r"^\s*(?P<field>[\w.]+)\s*(?:(?P<op>=|!=)\s*(?P<value>'(?:[^'\\]|\\.)*'|[^\s)]+)"
    r"|(?P<in>IN)\s*\((?P<values>[^)]*)\))\s*$",
    re.IGNORECASE | re.DOTALL,
)
_VALUE_RE = re.compile(r"\s*('(?:[^'\\]|\\.)*'|[^,\s]+)\s*(?:,|$)")


def _malformed(message: str) -> ApiError:
    return ApiError(400, "MALFORMED_QUERY", message)


def _literal(token: str) -> Any:
    if token.startswith("'"):
        return re.sub(r"\\(.)", r"\1", token[1:-1])
    low = token.lower()
    if low == "null":
        return None
    if low in ("true", "false"):
        return low == "true"
    try:
        return Decimal(token) if "." in token else int(token)
    except (ValueError, InvalidOperation):
        return token  # date/datetime literals stay text


@dataclass
class _Path:
    """A selected or filtered field, possibly through one lookup (``Account.Name``)."""

    text: str
    field: FieldMeta
    parent_rel: FieldMeta | None = None
    parent: ObjectMeta | None = None

    def value(self, store: Store, record: dict[str, Any]) -> Any:
        if self.parent_rel is None:
            return record.get(self.field.name)
        assert self.parent is not None
        pid = record.get(self.parent_rel.name)
        parent = store.get(self.parent, pid) if pid else None
        return parent.get(self.field.name) if parent else None


def _path(store: Store, meta: ObjectMeta, text: str) -> _Path:
    if "." in text:
        rel_name, _, fname = text.partition(".")
        rel = meta.relationships.get(rel_name.lower())
        parent = store.meta(rel.reference_to[0]) if rel and rel.reference_to else None
        fm = parent.field(fname) if parent else None
        if rel is None or parent is None or fm is None:
            raise ApiError(400, "INVALID_FIELD", f"No such column '{text}' on entity '{meta.name}'.")
        return _Path(text, fm, rel, parent)
    fm = meta.field(text)
    if fm is None:
        raise ApiError(400, "INVALID_FIELD", f"No such column '{text}' on entity '{meta.name}'.")
    return _Path(text, fm)


def _matcher(store: Store, meta: ObjectMeta, where: str) -> Callable[[dict[str, Any]], bool]:
    tests: list[Callable[[dict[str, Any]], bool]] = []
    for part in re.split(r"\s+AND\s+", where, flags=re.IGNORECASE):
        m = _COND_RE.match(part)
        if not m:
            raise _malformed(f"unexpected token in WHERE clause: {part.strip()}")
        path = _path(store, meta, m.group("field"))
        if m.group("in"):
            wanted = [_literal(t) for t in _VALUE_RE.findall(m.group("values"))]
            negate = False
        else:
            wanted = [_literal(m.group("value"))]
            negate = m.group("op") == "!="
        tests.append(_condition(store, path, {_key(path.field, w) for w in wanted}, negate))
    return lambda rec: all(t(rec) for t in tests)


def _condition(store: Store, path: _Path, keys: set[Any], negate: bool) -> Callable[[dict[str, Any]], bool]:
    def test(rec: dict[str, Any]) -> bool:
        return (_key(path.field, path.value(store, rec)) in keys) != negate
    return test


def _key(fm: FieldMeta, value: Any) -> Any:
    if value is None:
        return None
    if fm.type in ("id", "reference") and isinstance(value, str):
        return normalize_id(value) or value
    if isinstance(value, str):
        return value if fm.case_sensitive else value.lower()
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    return value


def run_query(store: Store, soql: str, version: str) -> dict[str, Any]:
    """Execute ``soql`` against ``store``; the caller holds the store lock."""
    m = _QUERY_RE.match(soql)
    if not m:
        raise _malformed("unexpected token: could not parse query")
    meta = store.meta(m.group("obj"))
    if meta is None:
        raise ApiError(400, "INVALID_TYPE",
                       f"sObject type '{m.group('obj')}' is not supported. If you are attempting to use a "
                       "custom object, be sure to append the '__c' after the entity name.")
    rows = store.records(meta)
    if m.group("where"):
        match = _matcher(store, meta, m.group("where"))
        rows = [r for r in rows if match(r)]
    if m.group("order"):
        order = _path(store, meta, m.group("order"))
        desc = (m.group("dir") or "").upper() == "DESC"
        present = [r for r in rows if order.value(store, r) is not None]
        absent = [r for r in rows if order.value(store, r) is None]
        present.sort(key=lambda r: order.value(store, r), reverse=desc)
        rows = present + absent if not desc else absent + present
    if m.group("limit"):
        rows = rows[: int(m.group("limit"))]
    select = m.group("select").strip()
    if re.fullmatch(r"COUNT\(\s*\)", select, re.IGNORECASE):
        return {"totalSize": len(rows), "done": True, "records": []}
    paths = [_path(store, meta, s.strip()) for s in select.split(",")]
    records = [_render(store, meta, paths, r, version) for r in rows]
    return {"totalSize": len(records), "done": True, "records": records}


def _render(store: Store, meta: ObjectMeta, paths: list[_Path], rec: dict[str, Any],
            version: str) -> dict[str, Any]:
    out: dict[str, Any] = {"attributes": _attributes(meta, rec["Id"], version)}
    for p in paths:
        if p.parent_rel is None:
            out[p.field.name] = rec.get(p.field.name)
            continue
        assert p.parent is not None
        pid = rec.get(p.parent_rel.name)
        parent = store.get(p.parent, pid) if pid else None
        rel_key = p.parent_rel.relationship_name or p.parent_rel.name
        if parent is None:
            out[rel_key] = None
            continue
        nested = out.get(rel_key) or {"attributes": _attributes(p.parent, parent["Id"], version)}
        nested[p.field.name] = parent.get(p.field.name)
        out[rel_key] = nested
    return out


def _attributes(meta: ObjectMeta, rid: str, version: str) -> dict[str, str]:
    return {"type": meta.name, "url": f"/services/data/v{version}/sobjects/{meta.name}/{rid}"}
