"""The warehouse side of a dbt-sync run: audit tables, changesets, state.

Everything goes through the user's dbt adapter (see :mod:`.runtime`) and the
``dbt_sync`` package's macros, so the SQL has one source of truth, dispatched
per adapter, and dbt-sync never holds credentials of its own.

A run reads a sync's changeset like this::

    with Warehouse.open("path/to/project", target="prod") as wh:
        wh.ensure_tables()
        counts = wh.claim_changeset("contacts_to_hubspot")
        for page in wh.iter_changes("contacts_to_hubspot"):
            ...  # send, then
            wh.commit("contacts_to_hubspot", run_id, successes, deletions, failures)

The state only advances for records the destination confirmed, so whatever
failed (or was never sent because the run died) is in the next changeset.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import gc
import io
import json
import logging
import math
import os
import struct
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple, TypeVar

from dbt_sync.clock import utcnow
from dbt_sync.errors import ConfigError, DbtSyncError
from dbt_sync.secrets import redact
from dbt_sync.warehouse import literals
from dbt_sync.warehouse.runtime import DbtRuntime, ensure_invocation_context, load_runtime
from dbt_sync.warehouse.sync import ColumnResolution, SyncHandle

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("dbt_sync.warehouse")

#: DuckDB database (adapter type, path) -> the lock its catalog-changing transactions take in this process
_CATALOG_LOCKS: dict[tuple[str, str], threading.RLock] = {}
_CATALOG_LOCKS_GUARD = threading.Lock()


def catalog_lock(adapter_type: str, database_path: str) -> threading.RLock:
    """The one lock of this process for transactions that change a DuckDB database's catalog.

    DuckDB checks concurrent transactions optimistically: two open
    transactions that create, drop, rename or alter the same catalog entry
    (e.g. a capture rebuilding ``dbt_sync_changes__<sync>`` for every sync of
    a model while a sibling sync's thread renames its own to the pending
    slot) make the later one fail with "Catalog write-write conflict".
    Taking this lock before such a transaction begins and until it ends
    serializes them (docs/warehouse.md, "Concurrent syncs on DuckDB").
    """
    key = (adapter_type, database_path)
    with _CATALOG_LOCKS_GUARD:
        return _CATALOG_LOCKS.setdefault(key, threading.RLock())


#: Changeset columns dbt-sync adds in front of the model's sent columns.
META_COLUMNS = ("_dbt_sync_seq", "_dbt_sync_key", "_dbt_sync_hash", "_dbt_sync_op", "_dbt_sync_destination_id")

_ROWS = "__DBT_SYNC_ROWS__"
_KEYS = "__DBT_SYNC_KEYS__"
_IN_LIST_SIZE = 1000

#: DuckDB runs inside the dbt-sync process, so its memory and threads are bounded there
#: (docs/warehouse.md, "DuckDB memory and threads"): setting -> (environment variable, default).
#: The variable wins; else a value the profile's ``settings`` gives; else the default.
DUCKDB_SESSION_SETTINGS: dict[str, tuple[str, str]] = {
    "memory_limit": ("DBT_SYNC_DUCKDB_MEMORY_LIMIT", "256MB"),
    "threads": ("DBT_SYNC_DUCKDB_THREADS", "2"),
}


def duckdb_session_settings(profile_settings: Mapping[str, Any] | None,
                            environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The DuckDB settings dbt-sync applies to its own session: ``{name: value}``
    for ``memory_limit`` (a DuckDB size such as ``"256MB"``) and ``threads``.

    Raises :class:`~dbt_sync.errors.ConfigError` naming the variable when
    ``DBT_SYNC_DUCKDB_THREADS`` is not a positive whole number.
    """
    env = os.environ if environ is None else environ
    profile = profile_settings or {}
    out: dict[str, str] = {}
    for name, (variable, default) in DUCKDB_SESSION_SETTINGS.items():
        value = env.get(variable, "").strip()
        if not value:
            if name in profile:
                continue  # the profile's own value, applied by dbt-duckdb when it connects
            value = default
        if name == "threads" and not (value.isdigit() and int(value) > 0):
            raise ConfigError(f"{variable}={value!r}: DuckDB threads must be a positive whole number")
        out[name] = value
    return out


class WarehouseUnavailable(DbtSyncError):
    """The warehouse connection was lost and a new one cannot be opened (a restart, a network cut)."""


class Confirmed(NamedTuple):
    """A record the destination confirmed, for dbt_sync_state: its key, the row's hash, the CRM's id."""

    record_key: str
    row_hash: str | None
    destination_id: str | None


@dataclass
class FailureRow:
    """One record the destination (or dbt-sync) refused, for dbt_sync_failures.

    ``payload`` holds the record's sent columns, already masked or trimmed by
    the caller per the sync's ``failure_payload`` settings.
    """

    record_key: str | None
    operation: str
    error_code: str
    error_message: str
    error_fields: Sequence[str] = field(default_factory=list)
    payload: Mapping[str, Any] | None = None




def _psycopg2_handle(connection: Any) -> Any:
    """The psycopg2 connection under a dbt connection (PostgreSQL), ready for one real transaction; else None.

    dbt-postgres begins no transaction itself (psycopg2 opens one before the
    first statement) and commits with a ``COMMIT`` statement, which psycopg2
    does not see: it then believes a transaction is still open and opens none
    before the next statements, which each commit on their own. Here the
    driver's view is set right (a rollback of nothing) so the next statement
    opens a transaction, and :meth:`Warehouse._transaction` commits through
    the driver, so a batch's state and audit rows commit together.
    """
    handle = connection.handle
    if not type(handle).__module__.startswith("psycopg2") or handle.autocommit:
        return None
    from psycopg2 import extensions

    if handle.status == extensions.STATUS_BEGIN and (
        handle.get_transaction_status() == extensions.TRANSACTION_STATUS_IDLE
    ):
        handle.rollback()
    return handle


def _text(value: Any) -> str | None:
    """A value for a text column of the audit tables, as its literal would read back
    (:func:`dbt_sync.warehouse.literals.literal`): NUL dropped, JSON for dicts and lists."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict | list):
        value = json.dumps(value, default=str, ensure_ascii=False)
    return str(value).replace("\x00", "")


def _utc_text(value: dt.datetime) -> str:
    """An instant as ``YYYY-MM-DD HH:MM:SS[.ffffff]+00:00`` (naive values are UTC, the audit clock)."""
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value.isoformat(sep=" ") + "+00:00"


def _csv(rows: Sequence[Sequence[Any]]) -> str:
    """Rows as CSV for ``COPY ... FROM STDIN WITH (FORMAT csv)``: NULL is an empty unquoted field, every text
    is quoted (so ``''`` stays an empty string), integers are bare."""
    out = []
    for row in rows:
        out.append(",".join(
            "" if v is None else ('"' + v.replace('"', '""') + '"') if isinstance(v, str) else str(v) for v in row
        ))
    out.append("")
    return "\n".join(out)


def _naive_utc(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value


def _driver_values(handle: Any) -> None:
    """Make a psycopg2 connection return model values as DuckDB does, so one row is one value on both.

    * ``json``/``jsonb`` as PostgreSQL's text: psycopg2 parses them into dicts
      and lists by default, and a list would be sent as a multi-select value
      (``[1, 2]`` as ``1;2``).
    * a date or timestamp Python cannot hold (year 10000 and later, BC) as
      its text, and ``infinity``/``-infinity`` as that text rather than
      9999-12-31 / 0001-01-01: psycopg2 raised for the first, failing the
      whole sync, and changed the second silently. The text then fails its
      record alone (no CRM date field takes it) or is stored as text.

    Registering is idempotent and scoped to this connection (dbt's own
    connections are not touched); other drivers are left alone.
    """
    if not type(handle).__module__.startswith("psycopg2"):
        return
    from psycopg2 import extensions
    from psycopg2.extras import register_default_json, register_default_jsonb

    register_default_json(handle, loads=_as_is)
    register_default_jsonb(handle, loads=_as_is)
    for caster in (extensions.DATE, extensions.PYDATETIME, extensions.PYDATETIMETZ):
        extensions.register_type(extensions.new_type(caster.values, f"DBT_SYNC_{caster.name}", _or_text(caster)),
                                 handle)


def _real_as_text(row: Sequence[Any], columns: Sequence[int]) -> tuple[Any, ...]:
    """DuckDB ``real`` (FLOAT, 4 bytes) values as the decimal the warehouse shows, not their double widening.

    DuckDB hands a ``real`` 0.1 to Python as 0.10000000149011612, while it
    prints 0.1 and PostgreSQL's driver gives 0.1 for the same column: each
    finite value becomes the shortest decimal that reads back as the same
    4-byte float (``Decimal('0.1')``).
    """
    out = list(row)
    for i in columns:
        value = out[i]
        if isinstance(value, float) and math.isfinite(value):
            packed = struct.pack("<f", value)
            for digits in range(1, 10):
                text = f"{value:.{digits}g}"
                if struct.pack("<f", float(text)) == packed:
                    out[i] = Decimal(text)
                    break
    return tuple(out)


def _or_text(caster: Any) -> Any:
    """A psycopg2 typecaster that keeps the database's text where ``caster`` cannot give the true value."""
    def cast(text: str | None, cursor: Any) -> Any:
        if text is None or text.endswith(("infinity", " BC")):
            return text
        try:
            return caster(text, cursor)
        except ValueError:  # a year Python's datetime does not have
            return text
    return cast


def _as_is(text: str) -> str:
    return text


def retry_on_lost_connection(method: F) -> F:
    """Repeat a one-transaction operation once if it failed because the connection died.

    A transaction that failed on a dead connection committed nothing, so
    repeating it is safe; a dropped connection (a restarted server, an idle
    timeout, a terminated backend) then costs a reconnect, not the sync.
    """

    @functools.wraps(method)
    def wrapper(self: Warehouse, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except Exception:
            if not self.reconnect_if_lost():
                raise
            return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


class Warehouse:
    """Access to dbt-sync's tables through one dbt project's adapter.

    Safe to share between threads: each thread gets its own adapter
    connection, kept open until :meth:`close`. dbt's adapter registry is
    process-wide, so open one Warehouse per adapter type at a time.
    """

    def __init__(self, runtime: DbtRuntime) -> None:
        self._runtime = runtime
        self.adapter = runtime.adapter
        self.adapter_type: str = runtime.config.credentials.type
        self._templates: dict[tuple[Any, ...], Any] = {}
        self._lock = threading.Lock()
        self._ensured = False
        self._inflight_ready = False
        self._inflight_lock = threading.Lock()
        credentials = runtime.config.credentials
        #: serializes catalog-changing transactions on DuckDB (see :func:`catalog_lock`); other adapters lock rows
        self._catalog: contextlib.AbstractContextManager[Any] = (
            catalog_lock(self.adapter_type, str(getattr(credentials, "path", "")))
            if self.adapter_type == "duckdb" else contextlib.nullcontext()
        )
        #: a --dry-run: create nothing, claim nothing, write nothing (see :meth:`peek_changeset`)
        self.read_only = False
        self._peeked: dict[str, tuple[str | None, str, bool]] = {}
        with self._connection():
            self.audit_schema: str = str(self._macro("audit_schema"))
            self.database: str | None = runtime.config.credentials.database

    # -- lifecycle -----------------------------------------------------------

    @classmethod
    def open(
        cls,
        project_dir: str,
        profiles_dir: str | None = None,
        target: str | None = None,
        vars: dict[str, Any] | None = None,
        profile: str | None = None,
        target_path: str | os.PathLike[str] | None = None,
        artifacts_dir: str | os.PathLike[str] | None = None,
    ) -> Warehouse:
        """Load the dbt project at ``project_dir`` with its profile and target (``profile``,
        ``target_path``, ``artifacts_dir``: see :func:`~dbt_sync.warehouse.runtime.load_runtime`).

        Raises :class:`~dbt_sync.errors.ProfileError`, :class:`~dbt_sync.errors.ProjectError`
        or :class:`~dbt_sync.errors.WarehouseError` (one line naming the file,
        profile and target) when the profile, project or connection cannot be used.
        """
        runtime = load_runtime(
            project_dir, profiles_dir=profiles_dir, target=target, vars=vars, profile=profile, target_path=target_path,
            artifacts_dir=artifacts_dir,
        )
        try:
            warehouse = cls(runtime)
            with warehouse._transaction():  # connect now: a refused connection or locked file is said here
                warehouse._fetch("select 1 as connected")
            warehouse._apply_session_settings()
            return warehouse
        except Exception as exc:
            clear = runtime.explain(exc)
            if clear is None:
                raise
            with contextlib.suppress(Exception):
                runtime.adapter.cleanup_connections()
            raise clear from exc

    def _apply_session_settings(self) -> None:
        """Bound DuckDB's memory and threads in this process (see :func:`duckdb_session_settings`)."""
        if self.adapter_type != "duckdb":
            return
        settings = duckdb_session_settings(getattr(self._runtime.config.credentials, "settings", None))
        with self._transaction():
            for sql in self._macro("session_settings_sql", settings=settings):
                try:
                    self._execute(sql)
                except Exception as exc:
                    variable = next(v for k, (v, _) in DUCKDB_SESSION_SETTINGS.items() if sql.startswith(f"set {k} "))
                    raise ConfigError(f"{variable}: DuckDB rejected {sql!r}: {exc}") from exc

    def close(self) -> None:
        """Close every connection (and, on DuckDB, release the database file)."""
        self.adapter.cleanup_connections()
        close_all = getattr(type(self.adapter.connections), "close_all_connections", None)
        if close_all is not None:
            close_all()
        gc.unfreeze()  # the manifest frozen by load_runtime can be collected again

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def manifest(self) -> Any:
        """dbt's manifest of this session: its macros, and its nodes as ``graph`` serves them (:meth:`_node`)."""
        return self._runtime.manifest

    @property
    def manifest_source(self) -> str:
        """``"artifacts"`` when dbt's manifest.json gave the macros and nodes, ``"parsed"`` when the project
        was parsed (see :mod:`dbt_sync.warehouse.artifacts`)."""
        return self._runtime.manifest_source

    def _node(self, unique_id: str) -> Mapping[str, Any]:
        """A node as the macros' ``graph.nodes`` holds it (a dict, as in manifest.json). Raises KeyError."""
        node: Mapping[str, Any] = self._runtime.manifest.flat_graph["nodes"][unique_id]
        return node

    @property
    def threads(self) -> int | None:
        """The ``threads`` of the profile's target in use (None when it sets none)."""
        threads = getattr(self._runtime.config, "threads", None)
        return threads if isinstance(threads, int) else None

    @property
    def target_name(self) -> str | None:
        """The profile's target in use (its default when no ``--target`` was given)."""
        name = getattr(self._runtime.config, "target_name", None)
        return str(name) if name else None

    # -- plumbing ------------------------------------------------------------

    @contextmanager
    def _connection(self) -> Iterator[None]:
        """This thread's connection, opened on first use and kept."""
        ensure_invocation_context()
        self.adapter.connections.set_connection_name(f"dbt_sync_{threading.get_ident()}")
        yield

    @contextmanager
    def _transaction(self, catalog: bool = False) -> Iterator[None]:
        """One transaction on this thread's connection; ``catalog``: it creates, drops, renames or alters
        tables, so on DuckDB it holds the database's catalog lock from before it begins until it ends."""
        with self._catalog if catalog else contextlib.nullcontext(), self._connection():
            conns = self.adapter.connections
            self._begin()
            handle = _psycopg2_handle(conns.get_thread_connection())
            try:
                yield
            except BaseException:
                conns.rollback_if_open()
                raise
            if handle is None:
                self._commit()
            else:
                with conns.exception_handler("commit"):
                    handle.commit()
                conns.get_thread_connection().transaction_open = False

    def _begin(self) -> None:
        """``BEGIN`` on this thread's connection, as dbt's connection manager would, without its query events.

        Only where the adapter keeps dbt's own ``begin`` and ``BEGIN``
        statement (``SQLConnectionManager``: DuckDB); an adapter with its own
        way keeps it (PostgreSQL sends nothing; Redshift skips it under
        autocommit with dbt-redshift's behaviour flag).
        """
        from dbt.adapters.sql import SQLConnectionManager  # dbt is loaded once a session is open

        conns = self.adapter.connections
        connection = conns.get_thread_connection()
        kind = type(conns)
        own = kind.begin is SQLConnectionManager.begin and kind.add_begin_query is SQLConnectionManager.add_begin_query
        if not own or connection.transaction_open:
            conns.begin()  # dbt's way, and dbt's error for a transaction already open
            return
        self._run_statement("BEGIN")
        connection.transaction_open = True

    def _commit(self) -> None:
        """``COMMIT``, the same way as :meth:`_begin`."""
        from dbt.adapters.sql import SQLConnectionManager

        conns = self.adapter.connections
        connection = conns.get_thread_connection()
        kind = type(conns)
        own = (
            kind.commit is SQLConnectionManager.commit
            and kind.add_commit_query is SQLConnectionManager.add_commit_query
        )
        if not own or not connection.transaction_open:
            conns.commit()
            return
        self._run_statement("COMMIT")
        connection.transaction_open = False

    def _macro(self, name: str, **kwargs: Any) -> Any:
        return self.adapter.execute_macro(name, project="dbt_sync", kwargs=kwargs)

    def _template(self, name: str, **kwargs: Any) -> Any:
        """A macro's SQL with placeholders, rendered once per Warehouse."""
        key = (name, *sorted((k, str(v)) for k, v in kwargs.items()))
        if key not in self._templates:
            rendered = self._macro(name, **kwargs)
            self._templates[key] = list(rendered) if isinstance(rendered, list) else rendered
        return self._templates[key]

    def _execute(self, sql: str, bindings: Sequence[Any] | None = None) -> None:
        """Run one statement in this thread's open transaction (see :meth:`_run_statement`)."""
        self._run_statement(sql, bindings)

    def _run_statement(self, sql: str, bindings: Sequence[Any] | None = None) -> Any:
        """Run one statement in this thread's open transaction; returns the cursor.

        On the connection's own cursor, inside dbt's connection and
        transaction management and its adapter's error handling (a driver
        error becomes dbt's, the transaction is rolled back), but without the
        events dbt fires for each query it runs itself (``SQLQuery``,
        ``SQLQueryStatus``, ``ConnectionUsed``): dbt-sync's statements are many
        and small, and those events cost more CPU than the statements.
        """
        conns = self.adapter.connections
        with conns.exception_handler(sql):
            cursor = conns.get_thread_connection().handle.cursor()
            if bindings is None:
                cursor.execute(sql)
            else:
                cursor.execute(sql, bindings)
            return cursor

    def _write_rows(self, plan: Mapping[str, Any], rows: Sequence[Sequence[Any]]) -> None:
        """Load ``rows`` (text, integers, None) the way a ``*_batch_sql`` macro's ``plan`` says, in the open
        transaction: COPY, DuckDB's appender or bound parameters; never as SQL literals (macros/state.sql)."""
        if not rows:
            return
        for sql in plan.get("setup") or ():
            self._execute(sql)
        method = plan["method"]
        conns = self.adapter.connections
        if method == "appender":
            cursor = conns.get_thread_connection().handle.cursor()
            if hasattr(cursor, "appender"):  # duckdb >= 2.0
                with conns.exception_handler(str(plan["table"])):
                    appender = cursor.appender(str(plan["table"]), columns=list(plan["columns"]),
                                               action=str(plan["action"]))
                    appender.append_rows(rows)
                    appender.flush()
            else:
                method = "bind"
        if method == "copy":
            with conns.exception_handler(str(plan["load"])):
                cursor = conns.get_thread_connection().handle.cursor()
                cursor.copy_expert(str(plan["load"]), io.StringIO(_csv(rows)))
        elif method == "bind":
            per = int(plan.get("rows") or 1000)
            load, row, suffix = str(plan["load"]), str(plan["row"]), str(plan.get("suffix") or "")
            statements: dict[int, str] = {}
            for i in range(0, len(rows), per):
                chunk = rows[i:i + per]
                sql = statements.get(len(chunk))
                if sql is None:
                    sql = statements[len(chunk)] = load + ", ".join([row] * len(chunk)) + suffix
                self._execute(sql, [value for r in chunk for value in r])
        elif method != "appender":
            raise ValueError(f"unknown batch write method {method!r}")
        for sql in plan.get("apply") or ():
            self._execute(sql)

    def _fetch(self, sql: str, utc: bool = True) -> list[dict[str, Any]]:
        """Rows as dicts; with ``utc``, timestamps with a time zone come back as naive UTC (the audit clock)."""
        _driver_values(self.adapter.connections.get_thread_connection().handle)
        cursor = self._run_statement(sql)
        names = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
        singles = [i for i, d in enumerate(cursor.description) if str(d[1]).upper() == "FLOAT"]
        if singles and self.adapter_type == "duckdb":
            rows = [_real_as_text(row, singles) for row in rows]
        if utc:
            rows = [tuple(_naive_utc(v) for v in row) for row in rows]
        return [dict(zip(names, row, strict=True)) for row in rows]

    def _lit(self, value: Any) -> str:
        return literals.literal(value, self.adapter_type)

    def _run(self, name: str, **kwargs: Any) -> None:
        """Execute the statement, or list of statements, macro ``name`` returns, in the open transaction."""
        rendered = self._macro(name, **kwargs)
        for sql in [rendered] if isinstance(rendered, str) else rendered:
            if str(sql).strip():
                self._execute(str(sql))

    def _table_names(self) -> set[str]:
        rows = self._fetch(str(self._template("audit_table_names_sql")))
        return {str(r["table_name"]).lower() for r in rows}

    # -- named statements ----------------------------------------------------

    @retry_on_lost_connection
    def run_macro(self, name: str, **kwargs: Any) -> None:
        """Run the statement (or statements) the ``dbt_sync`` macro ``name`` returns, in one transaction.

        ``kwargs`` are the macro's arguments as Python values (the macro
        renders them, e.g. with ``dbt_sync.sql_value``).
        """
        with self._transaction():
            self._run(name, **kwargs)

    @retry_on_lost_connection
    def run_macros(self, calls: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        """Run several ``(macro name, arguments)`` statements (see :meth:`run_macro`) in one transaction."""
        with self._transaction():
            for name, kwargs in calls:
                self._run(name, **kwargs)

    @retry_on_lost_connection
    def query_macro(self, name: str, *, utc: bool = True, **kwargs: Any) -> list[dict[str, Any]]:
        """Rows of the query the ``dbt_sync`` macro ``name`` returns (see :meth:`query` for ``utc``)."""
        with self._transaction():
            return self._fetch(str(self._macro(name, **kwargs)), utc=utc)

    def render_macro(self, name: str, **kwargs: Any) -> str:
        """The SQL text the ``dbt_sync`` macro ``name`` returns, e.g. a query to show people."""
        with self._connection():
            return str(self._macro(name, **kwargs))

    def sync(self, sync_name: str) -> SyncHandle:
        """The handle through which a run reads and writes one sync's rows (see :mod:`.sync`)."""
        return SyncHandle(self, sync_name)

    def pending_retry_syncs(self) -> set[str]:
        """Syncs with records whose latest attempt failed: planned even if their model was not rebuilt."""
        self._ensure_once()
        if self.read_only and not self.has_audit_tables():
            return set()
        return {str(r["sync_name"]) for r in self.query_macro("open_failure_syncs_sql")}

    def resolve_columns(self, model_unique_id: str, names: Sequence[str]) -> ColumnResolution | None:
        """Which columns of the built relation ``names`` refer to, as the warehouse resolves them, and their types.

        Runs the ``dbt_sync.resolve_columns`` macro (the capture's own rule:
        the name as written, else its lower-case form on PostgreSQL and
        Redshift, else any one column equal ignoring case on DuckDB). None when
        the model has not been built.
        """
        node = self._node(model_unique_id)
        with self._transaction():  # the adapter's metadata queries open one; end it
            relation = self.adapter.get_relation(node.get("database"), node.get("schema"),
                                                 node.get("alias") or node.get("name"))
            if relation is None:
                return None
            found = self._macro("resolve_columns", relation=relation, names=list(names))
        return ColumnResolution(
            columns=[str(c) for c in found["columns"]],
            resolved={str(k): (None if v is None else str(v)) for k, v in found["resolved"].items()},
            types={str(k): str(v) for k, v in (found.get("types") or {}).items()},
        )

    def table(self, identifier: str) -> str:
        """The rendered, quoted name of a table in the audit schema."""
        return str(self._template("audit_relation", identifier=identifier))

    def changes_table(self, sync_name: str, kind: str = "changes") -> str:
        """Identifier of a sync's changeset table ('changes' or 'pending')."""
        return str(self._template("changes_table_name", sync_name=sync_name, kind=kind))

    # -- schema --------------------------------------------------------------

    def ensure_tables(self) -> None:
        """Create or migrate the audit tables; idempotent and safe to race.

        Concurrent first-time creation on Redshift can still lose the race
        for the bootstrap DDL, so one failed attempt is retried.
        """
        for attempt in range(2):
            with self._catalog, self._connection():
                try:
                    self._macro("ensure_audit_tables", commit=True)
                except Exception:
                    self.adapter.connections.rollback_if_open()
                    if attempt:
                        raise
                    continue
            self._ensured = True
            return

    def _ensure_once(self) -> None:
        if self.read_only:
            return  # a dry run reads what exists and creates nothing (see has_audit_tables)
        if not self._ensured:
            with self._lock:
                if not self._ensured:
                    self.ensure_tables()

    def ensure_alert_tables(self) -> None:
        """Create the alert tables (``dbt_sync.ensure_alert_tables``) or add the columns they lack; idempotent."""
        with self._catalog, self._connection():
            try:
                self._macro("ensure_alert_tables")
            except Exception:
                self.adapter.connections.rollback_if_open()
                raise

    def _ensure_inflight(self) -> None:
        """Create ``dbt_sync_inflight`` once per Warehouse (see engine/inflight.py)."""
        self._ensure_once()
        if self._inflight_ready:
            return
        with self._inflight_lock, self._catalog:  # syncs of one run start side by side
            if not self._inflight_ready:
                self.run_macro("inflight_table_sql", relation=self.table("dbt_sync_inflight"))
                self._inflight_ready = True

    # -- capture -------------------------------------------------------------

    def model_syncs(self, model_unique_id: str) -> list[dict[str, Any]]:
        """What capture reads from a model's meta: name, mode, key_columns,
        columns (sent columns, in order) and fingerprint, per enabled sync."""
        node = self._node(model_unique_id)
        with self._connection():
            return [dict(s) for s in self._macro("sync_specs", node=node)]

    def capture(self, model_unique_id: str) -> None:
        """Rebuild the changesets of a model's syncs, as the post-hook does.

        For models built without ``{{ dbt_sync.capture() }}``.
        """
        self._ensure_once()
        with self._transaction(catalog=True):  # rebuilds the changesets of every sync of the model
            for sql in self._macro("capture_model_sql", model_unique_id=model_unique_id):
                self._execute(sql)

    # -- reading changesets --------------------------------------------------

    def claim_changeset(self, sync_name: str) -> dict[str, int]:
        """Take the latest capture as this run's stable snapshot.

        The capture is renamed to the pending slot; with no new capture the
        pending changeset from an earlier (partial) run is kept. Returns the
        number of rows still to send per operation (rows an earlier,
        interrupted run already synced are not counted: the same rows
        :meth:`iter_changes` returns).
        """
        self._ensure_once()
        changes = self.changes_table(sync_name, "changes")
        pending = self.changes_table(sync_name, "pending")
        with self._transaction(catalog=True):
            tables = self._table_names()
            if changes in tables:
                for sql in self._template("claim_sql", sync_name=sync_name):
                    self._execute(sql)
                tables.add(pending)
            if pending not in tables:
                return {}
            rows = self._fetch(self._template("changeset_counts_sql", sync_name=sync_name, kind="pending"))
        return {str(r[next(iter(r))]): int(list(r.values())[1]) for r in rows}

    def has_audit_tables(self) -> bool:
        """Whether dbt-sync's tables exist in the audit schema (a dry run on a new warehouse finds none)."""
        with self._transaction():
            return "dbt_sync_state" in self._table_names()

    def peek_changeset(self, sync_name: str, model_unique_id: str, *, capture: bool = False,
                       fresh: bool = False) -> dict[str, int]:
        """What :meth:`claim_changeset` would claim, read in place: for ``--dry-run``.

        Nothing is renamed, created or written. The latest capture is read
        where it is (else the changeset an earlier run claimed); with
        ``capture`` (``--recapture``), ``fresh`` (``--full-refresh``: as if
        nothing had been sent) or no capture at all (a model built without
        the hook), the changeset a capture would build is computed by a
        query instead. Returns the rows to send per operation, as
        :meth:`claim_changeset`; :meth:`iter_changes` then reads the same
        source.
        """
        with self._transaction():
            tables = self._table_names()
        if not capture and not fresh and self.changes_table(sync_name, "changes") in tables:
            kind: str | None = "changes"
        elif not capture and not fresh and self.changes_table(sync_name, "pending") in tables:
            kind = "pending"
        else:
            kind = None
            fresh = fresh or "dbt_sync_state" not in tables  # nothing was ever sent from this warehouse
        self._peeked[sync_name] = (kind, model_unique_id, fresh)
        if kind is not None:
            sql = self._template("changeset_counts_sql", sync_name=sync_name, kind=kind)
        else:
            sql = self._macro(
                "changeset_preview_counts_sql", model_unique_id=model_unique_id, sync_name=sync_name, fresh=fresh
            )
        rows = self.read(sql)
        return {str(r[next(iter(r))]): int(list(r.values())[1]) for r in rows}

    def _iter_preview(self, sync_name: str, model_unique_id: str, fresh: bool,
                      page_size: int) -> Iterator[list[dict[str, Any]]]:
        after = 0
        while True:
            rows = self.read(self._macro(
                "changeset_preview_sql", model_unique_id=model_unique_id, sync_name=sync_name,
                after_seq=after, page_size=page_size, fresh=fresh,
            ), utc=False)  # model values as the warehouse holds them
            after += page_size
            if not rows:
                return
            for row in rows:
                row["_dbt_sync_op"] = row.pop("_dbt_sync_current_op")
                row["_dbt_sync_destination_id"] = row.pop("_dbt_sync_current_destination_id")
            yield rows
            if len(rows) < page_size:
                return

    def iter_changes(self, sync_name: str, page_size: int = 5000) -> Iterator[list[dict[str, Any]]]:
        """Pages of the claimed changeset, in key order, at most ``page_size``
        rows each, skipping records already synced since the capture.

        Pages are windows of the dense ``_dbt_sync_seq`` (assigned in key
        order at capture): memory stays flat however many rows changed; a page
        is smaller when rows in its window were skipped. ``_dbt_sync_op`` and ``_dbt_sync_destination_id`` are as
        of now (a record inserted by an earlier partial run becomes an update).
        """
        kind = "pending"
        if self.read_only and sync_name in self._peeked:  # a dry run reads what peek_changeset found, in place
            peeked, model_unique_id, fresh = self._peeked[sync_name]
            if peeked is None:
                yield from self._iter_preview(sync_name, model_unique_id, fresh, page_size)
                return
            kind = peeked
        table = self.changes_table(sync_name, kind)
        with self._transaction():
            if table not in self._table_names():
                return
            top = self._fetch(self._template("changeset_max_seq_sql", sync_name=sync_name, kind=kind))
        last = int(next(iter(top[0].values())) or 0) if top else 0
        after = 0
        while after < last:
            rows = self.query_macro(  # model values as the warehouse holds them
                "changes_page_sql", utc=False, sync_name=sync_name, after_seq=after, page_size=page_size, kind=kind
            )
            after += page_size
            if not rows:
                continue
            for row in rows:
                row["_dbt_sync_op"] = row.pop("_dbt_sync_current_op")
                row["_dbt_sync_destination_id"] = row.pop("_dbt_sync_current_destination_id")
            yield rows

    # -- writing state and audit ---------------------------------------------

    @retry_on_lost_connection
    def commit(
        self,
        sync_name: str,
        run_id: str,
        successes: Sequence[Confirmed] = (),
        deletions: Sequence[str] = (),
        failures: Sequence[FailureRow] = (),
        resolved: Sequence[str] = (),
    ) -> None:
        """Record one batch's outcome in one transaction.

        ``successes`` are ``(record_key, row_hash, destination_id)`` the
        destination confirmed; only they advance the state. ``deletions`` are
        keys whose state row goes (the record was deleted, or another key
        holds it now); their failures are closed, as are those of
        ``resolved`` keys (rows that left the model). Each failure gets
        ``attempt`` = consecutive earlier failures + 1 and keeps the first
        failure's ``first_failed_at``.
        """
        now = utcnow()
        with self._transaction():
            closing = [*deletions, *resolved]
            if closing:
                resolve_sql = self._template(
                    "failures_resolve_sql", sync_name=sync_name, keys_sql=_KEYS, resolved_at_sql=_ROWS
                ).replace(_ROWS, self._lit(now))
                for i in range(0, len(closing), _IN_LIST_SIZE):
                    keys = literals.list_literal(closing[i:i + _IN_LIST_SIZE], self.adapter_type)
                    self._execute(resolve_sql.replace(_KEYS, keys))
            unique: dict[str, Confirmed] = {s[0]: s for s in successes}
            if unique:
                at = _utc_text(now)
                name = _text(sync_name)
                self._write_rows(self._template("state_upsert_batch_sql"),
                                 [(name, _text(k), _text(h), _text(d), at) for k, h, d in unique.values()])
            delete_sql = self._template("state_delete_sql", sync_name=sync_name, keys_sql=_KEYS)
            for i in range(0, len(deletions), _IN_LIST_SIZE):
                keys = literals.list_literal(deletions[i:i + _IN_LIST_SIZE], self.adapter_type)
                self._execute(delete_sql.replace(_KEYS, keys))
            if failures:
                self._insert_failures(sync_name, run_id, failures, now)

    @retry_on_lost_connection
    def unsettle(self, sync_name: str, keys: Sequence[str]) -> None:
        """Before records with a state row are sent again: forget their confirmed hash.

        Their destination id stays. If the run dies before their outcome is
        committed, the next capture includes them whatever the model says
        (a revert to the old value must still reach the CRM).
        """
        if not keys:
            return
        sql = self._template("state_unsettle_sql", sync_name=sync_name, keys_sql=_KEYS)
        with self._transaction():
            for i in range(0, len(keys), _IN_LIST_SIZE):
                in_list = literals.list_literal(keys[i:i + _IN_LIST_SIZE], self.adapter_type)
                self._execute(sql.replace(_KEYS, in_list))

    def holders(self, sync_name: str, destination_ids: Sequence[str]) -> dict[str, set[str]]:
        """Destination id -> the record keys of ``sync_name`` whose state holds it."""
        out: dict[str, set[str]] = {}
        sql = self._template("state_holders_sql", sync_name=sync_name, ids_sql=_KEYS)
        ids = sorted(set(destination_ids))
        for i in range(0, len(ids), _IN_LIST_SIZE):
            in_list = literals.list_literal(ids[i:i + _IN_LIST_SIZE], self.adapter_type)
            for row in self.read(sql.replace(_KEYS, in_list)):
                out.setdefault(str(row["destination_id"]), set()).add(str(row["record_key"]))
        return out

    def _insert_failures(
        self, sync_name: str, run_id: str, failures: Sequence[FailureRow], now: dt.datetime
    ) -> None:
        keys = sorted({f.record_key for f in failures if f.record_key is not None})
        previous: dict[str, dict[str, Any]] = {}
        prev_sql = self._template("previous_failures_sql", sync_name=sync_name, keys_sql=_KEYS)
        for i in range(0, len(keys), _IN_LIST_SIZE):
            in_list = literals.list_literal(keys[i:i + _IN_LIST_SIZE], self.adapter_type)
            for row in self._fetch(prev_sql.replace(_KEYS, in_list)):
                previous[str(row["record_key"])] = row
        rows = []
        at = _utc_text(now)
        for f in failures:
            attempt, first = 1, at
            prev = previous.get(f.record_key) if f.record_key is not None else None
            if prev is not None and (prev["synced_at"] is None or prev["synced_at"] < prev["failed_at"]):
                attempt = int(prev["attempt"] or 0) + 1
                first = _utc_text(prev["first_failed_at"] or prev["failed_at"])
            # the last line of defence: no secret or masked value is stored, whatever the caller passed
            payload = None if f.payload is None else redact(json.dumps(f.payload, default=str, ensure_ascii=False))
            texts = (run_id, sync_name, f.record_key, f.operation, f.error_code, redact(f.error_message),
                     redact(json.dumps(list(f.error_fields), ensure_ascii=False)), payload)
            rows.append((*(_text(v) for v in texts), attempt, first, at))
        self._write_rows(self._template("failures_insert_batch_sql"), rows)

    @retry_on_lost_connection
    def start_run(
        self,
        run_id: str,
        sync_name: str,
        *,
        invocation_id: str | None = None,
        model: str | None = None,
        destination: str | None = None,
        object: str | None = None,
        mode: str | None = None,
        planned: int | None = None,
        started_at: dt.datetime | None = None,
    ) -> None:
        """Insert the ``running`` row of one sync's run into dbt_sync_runs."""
        self._ensure_once()
        values = (run_id, invocation_id, sync_name, model, destination, object, mode, "running",
                  started_at or utcnow(), None, planned, 0, 0, 0, 0, 0, None)
        with self._transaction():
            self._run("run_start_sql", run=dict(zip(_RUN_COLUMNS, values, strict=True)))

    @retry_on_lost_connection
    def finish_run(
        self,
        run_id: str,
        sync_name: str,
        status: str,
        *,
        planned: int | None = None,
        created: int = 0,
        updated: int = 0,
        deleted: int = 0,
        failed: int = 0,
        skipped: int = 0,
        error_message: str | None = None,
        finished_at: dt.datetime | None = None,
    ) -> None:
        """Close a run's row with its status and counts."""
        assignments: dict[str, Any] = {
            "status": status, "finished_at": finished_at or utcnow(), "created": created,
            "updated": updated, "deleted": deleted, "failed": failed, "skipped": skipped,
            "error_message": None if error_message is None else redact(error_message),
        }
        if planned is not None:
            assignments["planned"] = planned
        with self._transaction():
            self._run("run_finish_sql", run_id=run_id, sync_name=sync_name, assignments=assignments)

    def full_refresh(self, sync_name: str) -> None:
        """Send every record again (the next capture has them all), keeping which CRM record each key is."""
        self._ensure_once()
        with self._transaction(catalog=True):
            self._run("full_refresh_sql", sync_name=sync_name)

    def reset(self, sync_name: str) -> None:
        """Forget a sync's state and changesets: the next capture sends every row."""
        self._ensure_once()
        with self._transaction(catalog=True):
            self._run("reset_sql", sync_name=sync_name)

    # -- reading -------------------------------------------------------------

    @retry_on_lost_connection
    def execute(self, sql: str) -> None:
        """Run one statement in its own transaction."""
        with self._transaction():
            self._execute(sql)

    @retry_on_lost_connection
    def query(self, sql: str, utc: bool = True) -> list[dict[str, Any]]:
        """Run a read-only query; rows as dicts of Python values.

        With ``utc`` (audit reads), timestamps with a time zone come back as
        naive UTC; ``utc=False`` keeps the driver's values (model data).
        """
        with self._transaction():
            return self._fetch(sql, utc=utc)

    def read(self, sql: str, utc: bool = True) -> list[dict[str, Any]]:
        """:meth:`query` for reads a running sync makes (same retry on a lost connection)."""
        return self.query(sql, utc=utc)

    def release_connection(self) -> None:
        """Close this thread's connection (a thread that is done with the warehouse)."""
        conns = self.adapter.connections
        with contextlib.suppress(Exception):
            conns.release()
        with contextlib.suppress(Exception):
            conns.clear_thread_connection()

    def reconnect_if_lost(self) -> bool:
        """After a failed statement: if this thread's connection is dead, replace it.

        True when the connection was lost and a new one now answers, so the
        caller may repeat its transaction; False when the connection still
        works, i.e. the statement itself failed. Raises when the warehouse
        cannot be reached again.
        """
        if self._alive():
            return False
        conns = self.adapter.connections
        conn = conns.get_if_exists()
        if conn is None:
            return False
        try:
            conns.close(conn)
        except Exception:  # the handle is already gone: mark it closed so dbt opens a new one
            conn.transaction_open = False
            conn.state = "closed"
        if not self._alive():
            raise WarehouseUnavailable(
                f"the {self.adapter_type} warehouse cannot be reached again after losing the connection"
            )
        log.warning("the warehouse connection was lost; continuing on a new one")
        return True

    def _alive(self) -> bool:
        try:
            with self._transaction():
                self._fetch("select 1 as alive")
            return True
        except Exception:
            with contextlib.suppress(Exception):
                self.adapter.connections.rollback_if_open()
            return False


_RUN_COLUMNS = [
    "run_id", "invocation_id", "sync_name", "model", "destination", "object", "mode", "status",
    "started_at", "finished_at", "planned", "created", "updated", "deleted", "failed", "skipped",
    "error_message",
]
