"""The warehouse layer owns every statement (issue 15).

Two rules, checked by reading the source (``ast``), so the next module that
writes SQL in Python or reaches into the warehouse fails here at once:

* no Python file under ``dbt_sync/`` outside ``dbt_sync/warehouse/`` holds SQL
  text: SQL is a named macro in ``macros/``, dispatched per adapter and
  called through the warehouse layer with arguments (Salesforce SOQL in
  ``dbt_sync/destinations/salesforce/`` is the CRM's query language, not
  warehouse SQL);
* no module outside the warehouse package reads or calls a ``_private``
  attribute of a warehouse object (``Warehouse``, ``SyncHandle``);
* every statement macro (``macros/*.sql``, named ``*_sql``) goes through
  ``adapter.dispatch``, so an adapter can have its own variant.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "dbt_sync"
ADAPTERS = ("default", "postgres", "redshift", "duckdb")
#: where SQL text belongs: the warehouse layer (the emulators are their own distribution, outside dbt_sync/)
EXEMPT = ("warehouse",)
SOQL_ALLOWED = ("destinations/salesforce",)

#: statement shapes: a keyword followed by what makes it a statement, not an English sentence
SQL_SHAPES = [
    re.compile(pattern, re.IGNORECASE | re.DOTALL)
    for pattern in (
        r"\bselect\b\s+(?:distinct\s+)?(?:\*|[\w\".]+(?:\s*,\s*[\w\".()*]+)*)\s+from\s+[\w\"{<]",
        r"\binsert\s+into\s+(?:[\w\"{]|$)",
        r"\bdelete\s+from\s+(?:[\w\"{]|$)",
        r"\bupdate\s+[\w\"{}.]+\s+set\s+\w+\s*=",
        r"\bcreate\s+(?:temp(?:orary)?\s+)?(?:table|view|schema|index)\b",
        r"\balter\s+table\b",
        r"\bdrop\s+table\b",
        r"\bwhere\s+[\w.]+\s*(?:=|<>|in\s*\()\s*",
    )
]

#: names a warehouse object goes by in the product's code
WAREHOUSE_NAMES = re.compile(r"^(?:wh|warehouse|_warehouse|_wh|sync|handle)$")


def _modules() -> list[Path]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.split("/")[0] in EXEMPT:
            continue
        out.append(path)
    return out


def _strings(tree: ast.AST) -> list[tuple[int, str]]:
    """Every string constant and f-string (its literal parts joined by a placeholder), with its line."""
    found: list[tuple[int, str]] = []
    in_fstring: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts = []
            for value in node.values:
                in_fstring.add(id(value))
                parts.append(value.value if isinstance(value, ast.Constant) and isinstance(value.value, str) else "x")
            found.append((node.lineno, "".join(parts)))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in in_fstring:
            found.append((node.lineno, node.value))
    return found


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(first.value.lineno)
    return ids


def sql_text(source: str) -> list[tuple[int, str]]:
    """(line, text) of every string in ``source`` shaped like a SQL statement (docstrings excluded)."""
    tree = ast.parse(source)
    docs = _docstrings(tree)
    return [
        (line, text) for line, text in _strings(tree)
        if line not in docs and any(shape.search(text) for shape in SQL_SHAPES)
    ]


def private_warehouse_access(source: str) -> list[tuple[int, str]]:
    """(line, expression) of every ``<warehouse>._name`` in ``source``.

    A warehouse object is a name or attribute called ``wh``, ``warehouse``
    (``self.warehouse``, ``self.wh``, ``ctx.warehouse``, ...) or the result of
    ``.sync(...)``; dunder names are not private.
    """
    found = []
    for node in ast.walk(ast.parse(source)):
        if (  # getattr(wh, "_x", ...) / setattr(wh, "_x", ...) / hasattr(wh, "_x")
            isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "setattr", "hasattr", "delattr") and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant) and str(node.args[1].value).startswith("_")
            and _is_warehouse(node.args[0])
        ):
            found.append((node.lineno, node.col_offset, ast.unparse(node)))
        if not isinstance(node, ast.Attribute) or not node.attr.startswith("_") or node.attr.startswith("__"):
            continue
        if _is_warehouse(node.value):
            found.append((node.lineno, node.col_offset, ast.unparse(node)))
    return [(line, expr) for line, _, expr in sorted(found)]


def _is_warehouse(owner: ast.expr) -> bool:
    name = owner.id if isinstance(owner, ast.Name) else owner.attr if isinstance(owner, ast.Attribute) else None
    if isinstance(owner, ast.Call) and isinstance(owner.func, ast.Attribute) and owner.func.attr == "sync":
        return True  # wh.sync(name)
    return name is not None and WAREHOUSE_NAMES.match(name) is not None


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_no_sql_text_outside_the_warehouse_layer(path: Path) -> None:
    relative = path.relative_to(PACKAGE).as_posix()
    found = sql_text(path.read_text(encoding="utf-8"))
    if relative.startswith(SOQL_ALLOWED):
        return
    assert not found, (
        f"dbt_sync/{relative} writes SQL in Python: "
        + "; ".join(f"line {line}: {text[:80]!r}" for line, text in found)
        + ". Put the statement in a named macro in macros/ and call it through the warehouse layer."
    )


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_no_private_warehouse_access_outside_the_warehouse_layer(path: Path) -> None:
    found = private_warehouse_access(path.read_text(encoding="utf-8"))
    assert not found, (
        f"dbt_sync/{path.relative_to(PACKAGE).as_posix()} uses the warehouse's private parts: "
        + ", ".join(f"line {line}: {expr}" for line, expr in found)
        + ". Call a public method of Warehouse or of its sync handle (wh.sync(name))."
    )


@pytest.mark.parametrize(
    "source",
    [
        'wh.query(f"select holder from {table} where sync_name = {name}")',
        'sql = "insert into t (a, b) values (1, 2)"',
        "q = 'delete from ' + table",
        'wh.execute(f"update {table} set heartbeat_at = {now} where {where}")',
        'ddl = "create table if not exists x (a int)"',
        'q = "SELECT * FROM analytics.dbt_sync_runs"',
    ],
)
def test_the_sql_check_sees_statements(source: str) -> None:
    assert sql_text(source)


@pytest.mark.parametrize(
    "source",
    [
        'x = "dbt-sync run --select tag:crm --threads 8"',
        'x = "a create whose outcome is unknown: looked up by the match key"',
        'x = "update and delete: the Id column"',
        'x = "Nothing to do. Try checking your --select / --exclude arguments."',
        '"""Select the rows.\n\nselect a from t\n"""',
    ],
)
def test_the_sql_check_leaves_prose_alone(source: str) -> None:
    assert not sql_text(source)


def test_the_private_access_check_sees_each_shape() -> None:
    source = (
        "wh._lit(1)\nself.warehouse._transaction()\nwh.sync(n)._wh\nself.wh._macro('x')\nwh.__class__\n"
        "getattr(wh, '_inflight_ready', False)\nwh.table('x')\n"
    )
    assert [expr for _, expr in private_warehouse_access(source)] == [
        "wh._lit", "self.warehouse._transaction", "wh.sync(n)._wh", "self.wh._macro",
        "getattr(wh, '_inflight_ready', False)",
    ]


def _statement_macros() -> list[tuple[str, str]]:
    """(file, name) of every macro named ``*_sql`` that is not an adapter's variant or a ``_helper``."""
    out = []
    for path in sorted((ROOT / "macros").glob("*.sql")):
        for name in re.findall(r"\{%-?\s*macro\s+(\w+)\s*\(", path.read_text(encoding="utf-8")):
            if name.endswith("_sql") and not name.startswith("_") and name.split("__")[0] not in ADAPTERS:
                out.append((path.name, name))
    return out


def test_every_statement_macro_is_dispatched_per_adapter() -> None:
    macros = _statement_macros()
    assert len(macros) > 40  # the check reads the macros at all
    undispatched = [
        f"{file}: {name}" for file, name in macros
        if f"adapter.dispatch('{name}', 'dbt_sync')" not in (ROOT / "macros" / file).read_text(encoding="utf-8")
    ]
    assert not undispatched, "statement macros without adapter.dispatch: " + ", ".join(undispatched)
