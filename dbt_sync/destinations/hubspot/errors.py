"""Reading HubSpot error bodies into record failures or batch errors.

HubSpot reports per-property validation problems as a JSON list serialized
*inside* the message string ("Property values were not valid: [...]"); the
useful code (INVALID_EMAIL, INVALID_OPTION, ...) lives in that inner list.
This module digs it out so the audit tables show the specific reason and the
property names, and classifies whole-request failures as transient (retry)
or fatal (stop the sync).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dbt_sync.destinations.base import DestinationError, TransientError

_INNER_LIST = re.compile(r"Property values were not valid:\s*(\[.*\])\s*$", re.DOTALL)
_EXISTING_ID = re.compile(r"Existing ID:\s*(\d+)")


@dataclass
class ErrorDetail:
    """One failure reason as it will appear in a record's outcome."""

    code: str
    message: str
    fields: list[str] = field(default_factory=list)
    category: str | None = None
    existing_id: str | None = None


def parse_body(body: Any) -> dict[str, Any]:
    """A response body as a dict; anything unparsable becomes ``{"message": text}``."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, Mapping):
        return dict(body)
    if not body:
        return {}
    try:
        parsed = json.loads(body)
    except (TypeError, ValueError):
        return {"message": str(body)[:500]}
    return parsed if isinstance(parsed, dict) else {"message": str(parsed)[:500]}


def error_detail(error: Mapping[str, Any]) -> ErrorDetail:
    """The most specific code, message and property names of one StandardError."""
    category = error.get("category") or error.get("status") or "ERROR"
    message = str(error.get("message") or category)
    match = _INNER_LIST.search(message)
    if match:
        try:
            items = json.loads(match.group(1))
        except ValueError:
            items = None
        if isinstance(items, list) and items:
            items = [i for i in items if isinstance(i, Mapping)]
            codes = [str(i.get("error") or category) for i in items]
            names = [str(i["name"]) for i in items if i.get("name")]
            texts = [str(i.get("message") or i.get("error") or "") for i in items]
            return ErrorDetail(
                code=codes[0] if codes else category,
                message="; ".join(t for t in texts if t) or message,
                fields=list(dict.fromkeys(names)),
                category=category,
            )
    fields: list[str] = []
    code = category
    for sub in error.get("errors") or []:
        if not isinstance(sub, Mapping):
            continue
        if sub.get("code") and code == category:
            code = str(sub["code"])
        ctx = sub.get("context") or {}
        for key in ("propertyName", "propertyNames"):
            for name in ctx.get(key) or []:
                fields.append(str(name))
        if sub.get("in") and sub.get("in") not in ("body", "query"):
            fields.append(str(sub["in"]))
    existing = _EXISTING_ID.search(message)
    if existing and category == "CONFLICT":
        code = "CONFLICT"
    return ErrorDetail(
        code=code,
        message=message,
        fields=list(dict.fromkeys(fields)),
        category=category,
        existing_id=existing.group(1) if existing else None,
    )


def trace_ids(error: Mapping[str, Any]) -> list[str]:
    """The ``objectWriteTraceId`` values an error names (ties 207 errors to inputs)."""
    ctx = error.get("context") or {}
    values = ctx.get("objectWriteTraceId") or []
    if isinstance(values, str):
        values = [values]
    return [str(v) for v in values]


def context_ids(error: Mapping[str, Any]) -> list[str]:
    """The object ids or id-property values an error names (update/read errors)."""
    ctx = error.get("context") or {}
    found: list[str] = []
    for key in ("ids", "id"):
        values = ctx.get(key) or []
        if isinstance(values, str):
            values = [values]
        found.extend(str(v) for v in values)
    return found


@dataclass
class HttpFailure:
    """A non-2xx answer, normalised across the per-package ApiException classes."""

    status: int
    body: dict[str, Any]
    headers: Mapping[str, str]

    @property
    def category(self) -> str:
        return str(self.body.get("category") or "")

    @property
    def message(self) -> str:
        return str(self.body.get("message") or f"HTTP {self.status}")


def header(headers: Mapping[str, str] | None, name: str) -> str | None:
    """Case-insensitive header lookup (HTTPHeaderDict is, a plain dict is not)."""
    if not headers:
        return None
    value = headers.get(name)
    if value is not None:
        return str(value)
    lowered = name.lower()
    for key, val in headers.items():
        if key.lower() == lowered:
            return str(val)
    return None


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    raw = header(headers, "Retry-After")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None


def fatal_for(failure: HttpFailure, destination: str) -> DestinationError | None:
    """The sync-stopping error a status means, if it means one."""
    category = failure.category
    where = f"HubSpot destination {destination!r}"
    if failure.status == 401:
        code = "TOKEN_EXPIRED" if category == "EXPIRED_AUTHENTICATION" else "AUTHENTICATION_FAILED"
        return DestinationError(f"{where}: authentication failed ({category or 401}): {failure.message}", code)
    if failure.status == 403:
        scopes = _required_scopes(failure.body)
        detail = f"; required scopes: {', '.join(scopes)}" if scopes else ""
        return DestinationError(
            f"{where}: access denied ({category or 403}): {failure.message}{detail}",
            category or "FORBIDDEN",
        )
    return None


def _required_scopes(body: Mapping[str, Any]) -> list[str]:
    scopes: list[str] = []
    for sub in body.get("errors") or []:
        if isinstance(sub, Mapping):
            ctx = sub.get("context") or {}
            for key in ("requiredGranularScopes", "requiredScopes"):
                scopes.extend(str(s) for s in ctx.get(key) or [])
    return list(dict.fromkeys(scopes))


def is_transient_status(status: int) -> bool:
    """Statuses a later identical request may get past."""
    return status in (408, 423, 425, 429, 477) or 500 <= status <= 599


def transient_for(failure: HttpFailure, window_remainder: float | None) -> TransientError | DestinationError:
    """The retry hint for a transient status; a DAILY 429 stops the sync instead."""
    retry_after = retry_after_seconds(failure.headers)
    if failure.status == 429:
        policy = str(failure.body.get("policyName") or "").upper()
        if policy == "DAILY":
            return DestinationError(
                "HubSpot daily API limit reached; the sync stops until the limit resets",
                code="DAILY_LIMIT_EXCEEDED",
            )
        if retry_after is None:
            if policy == "SECONDLY":
                retry_after = 1.0
            elif window_remainder is not None:
                retry_after = window_remainder
        return TransientError(
            f"HubSpot rate limit reached ({policy or 'unknown policy'}): {failure.message}",
            code="RATE_LIMITED",
            retry_after=retry_after,
        )
    if failure.status == 423 and retry_after is None:
        retry_after = 2.0
    return TransientError(
        f"HubSpot answered {failure.status} ({failure.category or 'no category'}): {failure.message}",
        code=f"HTTP_{failure.status}",
        retry_after=retry_after,
    )


def summarize(details: Sequence[ErrorDetail]) -> ErrorDetail:
    """Fold several reasons for one record into one outcome."""
    if len(details) == 1:
        return details[0]
    fields = list(dict.fromkeys(f for d in details for f in d.fields))
    return ErrorDetail(
        code=details[0].code,
        message="; ".join(d.message for d in details),
        fields=fields,
        category=details[0].category,
        existing_id=next((d.existing_id for d in details if d.existing_id), None),
    )
