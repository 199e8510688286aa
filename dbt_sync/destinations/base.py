"""The contract between the sync engine and a destination.

A destination is thin: it turns a batch of records into API calls and
reports one outcome per record. The engine owns everything around it:
batching, retries with backoff, rate limiting, state commits and the audit
trail. This split (borrowed from Grouparoo's destination contract) keeps the
Salesforce and HubSpot modules small and lets the engine treat every
destination alike.

Two kinds of failure exist and they must not be confused:

* A *record* failure (bad email, missing parent, value too long) is reported
  as a :class:`RecordOutcome` with ``success=False``. The rest of the batch
  goes on.
* A *batch* failure (rate limited, 5xx, timeout, expired session that could
  not be renewed) is raised as :class:`TransientError` or
  :class:`DestinationError`. The engine retries transient ones within its
  time budget and fails the sync on the others.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


class Operation(str, enum.Enum):
    """What the engine asks a destination to do with a batch."""

    UPSERT = "upsert"
    UPDATE = "update"
    CREATE = "create"
    DELETE = "delete"


@dataclass(frozen=True)
class Lookup:
    """A relationship set through the parent's external id.

    Salesforce: ``field`` is the lookup field (``AccountId``), ``relationship``
    its relationship name (``Account``), ``match`` the parent's external-id
    field (``External_Id__c``) and ``value`` the parent's key.
    """

    field: str
    object: str
    match: str
    value: Any
    relationship: str | None = None


@dataclass(frozen=True)
class Association:
    """A HubSpot association from this record to a record of ``to_object``.

    ``to_id`` is the target's HubSpot id when the engine knows it (from the
    state of the sync that wrote the target); otherwise the destination looks
    the target up by ``match`` (a unique property) = ``value``.
    """

    to_object: str
    value: Any
    match: str | None = None
    to_id: str | None = None
    type_id: int | None = None
    category: str = "HUBSPOT_DEFINED"
    label: str | None = None


_REQUIRED: Any = object()


def column_value(row: Mapping[str, Any], column: str, default: Any = _REQUIRED) -> Any:
    """``row[column]`` of a changeset row, matching the name case-insensitively when it is not there as written.

    Warehouses may fold the case of column names (``EMAIL`` for ``email``).
    A missing column returns ``default``, or raises ``KeyError`` without one.
    """
    try:
        return row[column]
    except KeyError:
        pass
    lowered = column.lower()
    try:
        return row[lowered]
    except KeyError:
        pass
    for name, value in row.items():
        if name.lower() == lowered:
            return value
    if default is _REQUIRED:
        raise KeyError(column)
    return default


@dataclass
class Record:
    """One row of a changeset, already mapped to destination field names.

    ``key`` is the model's primary key rendered as text: the identity of the
    record in dbt-sync's state and audit tables. ``fields`` holds Python
    values (``str``, ``int``, ``Decimal``, ``bool``, ``date``, ``datetime``,
    ``None``); the destination converts them to the wire format.
    ``destination_id`` is the id the destination returned when this sync last
    wrote the record, if any.
    """

    key: str
    fields: dict[str, Any]
    lookups: list[Lookup] = field(default_factory=list)
    associations: list[Association] = field(default_factory=list)
    destination_id: str | None = None


@dataclass
class RecordOutcome:
    """What happened to one record.

    ``retryable`` says whether sending the same record again may succeed
    (row lock, rate limit, rolled back because a sibling failed). The engine
    retries those inside the run; the others wait for a data fix and are
    retried on the next run. ``category`` ``"TRANSIENT"`` marks a record whose
    request failed as a whole (5xx, timeout, rate limit) rather than a record
    the destination refused.

    ``unsent`` (set by the engine, never by a destination): the destination
    gave no answer for this record within the retry budget (it is down or
    keeps rate limiting). It is not a record failure: the sync stops as a
    whole and the record stays in the changeset for the next run.
    """

    key: str
    success: bool
    destination_id: str | None = None
    created: bool | None = None
    error_code: str | None = None
    message: str | None = None
    fields: list[str] = field(default_factory=list)
    retryable: bool = False
    category: str | None = None
    unsent: bool = False
    #: (object, id) of linked records (association targets) the destination says no longer exist
    missing_targets: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def ok(cls, key: str, destination_id: str | None, created: bool | None = None) -> RecordOutcome:
        return cls(key=key, success=True, destination_id=destination_id, created=created)

    @classmethod
    def failed(
        cls,
        key: str,
        code: str,
        message: str,
        fields: Sequence[str] = (),
        retryable: bool = False,
        category: str | None = None,
        destination_id: str | None = None,
        unsent: bool = False,
    ) -> RecordOutcome:
        return cls(
            key=key,
            success=False,
            error_code=code,
            message=message,
            fields=list(fields),
            retryable=retryable,
            category=category,
            destination_id=destination_id,
            unsent=unsent,
        )


class DestinationError(Exception):
    """The destination cannot work at all (bad credentials, unknown object).

    The engine fails the sync as a whole and skips the syncs depending on it.
    ``code`` is a short machine-readable reason for the audit tables.
    """

    def __init__(self, message: str, code: str = "DESTINATION_ERROR") -> None:
        super().__init__(message)
        self.code = code


class TransientError(Exception):
    """The whole request failed in a way a later retry may fix.

    ``retry_after`` is the server's hint in seconds, when it gave one.
    ``shrink`` asks the engine to retry with smaller batches (Salesforce row
    locks, request size). ``rate_limited``: the destination refused the
    request for its rate or concurrency limit (HTTP 429, Salesforce
    ``REQUEST_LIMIT_EXCEEDED``); the engine only waits on those, within its
    time budget, and never counts them as failed attempts.
    """

    def __init__(
        self,
        message: str,
        code: str = "TRANSIENT",
        retry_after: float | None = None,
        shrink: bool = False,
        rate_limited: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.retry_after = retry_after
        self.shrink = shrink
        self.rate_limited = code in RATE_LIMIT_CODES if rate_limited is None else rate_limited


#: codes of transient errors that mean "too many requests" (HubSpot 429, Salesforce's request limits)
RATE_LIMIT_CODES = frozenset({"RATE_LIMITED", "REQUEST_LIMIT_EXCEEDED"})


@dataclass
class Usage:
    """API usage observed on the destination, exposed in run results."""

    requests: int = 0
    limit_used: int | None = None
    limit_max: int | None = None
    rate_limited: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MappingProblem:
    """A mapping that the destination's metadata says cannot work."""

    path: str
    message: str


@dataclass(frozen=True)
class FieldSpec:
    """What a destination needs to know about one mapped field to check it."""

    name: str
    column: str | None
    column_type: str | None = None
    constant: Any = None
    lookup_object: str | None = None
    lookup_match: str | None = None


@dataclass(frozen=True)
class AssociationCheck:
    """One association a sync declares, to check against the destination (HubSpot only).

    ``path`` is the yaml path of the association in the spec.
    """

    to_object: str
    path: str
    match: str | None = None
    type_id: int | None = None
    category: str = "HUBSPOT_DEFINED"
    label: str | None = None


@runtime_checkable
class Destination(Protocol):
    """A named connection to one CRM account.

    Implementations must be safe to call from several engine threads at once
    (one sync per thread).
    """

    name: str
    #: largest batch the API takes in one request for ``operation``
    def max_batch_size(self, operation: Operation, options: Mapping[str, Any]) -> int: ...

    def write(
        self,
        object_name: str,
        operation: Operation,
        records: Sequence[Record],
        *,
        match: str | None,
        options: Mapping[str, Any],
    ) -> list[RecordOutcome]:
        """Send one batch; return exactly one outcome per input record, in any order."""
        ...

    def usage(self) -> Usage: ...

    def check_mapping(
        self,
        object_name: str,
        operation: Operation,
        match: str | None,
        fields: Sequence[FieldSpec],
        path: str,
        associations: Sequence[AssociationCheck] = (),
    ) -> list[MappingProblem]:
        """Check a sync's mapping (and associations) against the destination's metadata."""
        ...

    def close(self) -> None: ...


# -- capabilities: what some destinations do beyond the contract above ---------------
#
# The engine asks ``isinstance(destination, RateLimited)`` (and so on) rather
# than reading attributes the contract does not declare.

#: requests in flight at once for a rate-limited destination that states no concurrency of its own
DEFAULT_CONCURRENCY = 8


@runtime_checkable
class RateLimited(Protocol):
    """A destination whose requests the engine paces with one limiter per account (engine/pacing.py).

    ``rate_limit``: requests allowed per ``rate_interval`` seconds (HubSpot:
    100, 190 or 250 per 10 s by tier), ``None`` for no rolling window
    (Salesforce). ``concurrency``: requests in flight at once (Salesforce's
    ``concurrency`` setting; :data:`DEFAULT_CONCURRENCY` elsewhere).
    ``pacer``: ``None`` until the engine attaches its limiter; the destination
    calls it before every HTTP request.
    """

    pacer: Pacer | None

    @property
    def rate_limit(self) -> int | None: ...

    @property
    def rate_interval(self) -> float: ...

    @property
    def concurrency(self) -> int: ...


@runtime_checkable
class Lookups(Protocol):
    """A destination that can find existing records by a unique field (the sync's match key)."""

    def find(self, object_name: str, match: str | None, records: Sequence[Record]) -> dict[str, str]:
        """Ids of existing records with the records' ``match`` values: record key -> id.

        Records whose value matches nothing (or several records) are absent.
        Used to adopt a record a create met as a duplicate, and to settle
        creates whose outcome is unknown.
        """
        ...


@runtime_checkable
class Associations(Protocol):
    """A destination that links records to records other syncs wrote (HubSpot associations).

    ``association_targets`` reads the ids the target objects' syncs recorded:
    ``associations`` are the sync's declared associations (each with ``to``,
    the target object, and ``column``, the model column holding the target's
    key), ``page`` the rows being sent, ``writers`` the syncs to this same
    destination (each with ``name`` and ``object``), and
    ``destination_ids(sync_name, keys)`` the ids a sync recorded for those
    record keys. Returns ``(target object in lower case, key) -> id``.
    """

    def association_targets(
        self,
        associations: Sequence[Any],
        page: Sequence[Mapping[str, Any]],
        writers: Sequence[Any],
        destination_ids: Callable[[str, list[str]], Mapping[str, str | None]],
    ) -> dict[tuple[str, str], str]: ...


class Pacer(Protocol):
    """The engine's rate limiter for one destination account.

    Destinations call :meth:`acquire` before every HTTP request and report
    what the server said about the remaining allowance, so pacing holds per
    request even when one ``write()`` makes several.
    """

    def acquire(self) -> None: ...

    def observe(self, remaining: int | None, interval_seconds: float | None = None) -> None: ...

    def pause(self, seconds: float) -> None: ...

    def window_remainder(self, interval_seconds: float | None = None) -> float | None:
        """Seconds until the oldest request of the current rolling window leaves it; None when it holds none."""
        ...
