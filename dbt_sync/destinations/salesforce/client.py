"""The HTTP layer: authenticated calls, session renewal, errors, usage.

simple-salesforce logs in; the data calls are sent here over its session
because three things must be controlled exactly: the JSON body (Decimals
verbatim, so ``data=``), renewal of an expired session on every kind of
call (simple-salesforce never renews on Bulk calls and renews forever on
``SFType`` calls), and the mapping of whole-request failures to the
engine's ``TransientError`` / ``DestinationError``.
"""

from __future__ import annotations

import contextlib
import email.utils
import re
import threading
import time
from collections.abc import Mapping
from typing import Any

import requests
from simple_salesforce import Salesforce

from dbt_sync.destinations import metering
from dbt_sync.destinations.base import DestinationError, Pacer, TransientError, Usage
from dbt_sync.destinations.salesforce.auth import login, make_session
from dbt_sync.destinations.salesforce.config import SalesforceConfig
from dbt_sync.secrets import redact_values

_LIMIT_INFO = re.compile(r"api-usage=(\d+)/(\d+)")


class RequestRejected(DestinationError):
    """HTTP 400 for a whole request: a caller may isolate the records to blame one."""

    def __init__(self, message: str, code: str, sf_message: str, fields: list[str]) -> None:
        super().__init__(message, code=code)
        self.sf_message = sf_message
        self.fields = fields


def parse_error_body(response: requests.Response) -> tuple[str | None, str, list[str]]:
    """(errorCode, message, fields) of a Salesforce error reply, whatever its shape."""
    try:
        body = response.json()
    except ValueError:
        return None, response.text[:500].strip(), []
    item = body[0] if isinstance(body, list) and body else body
    if not isinstance(item, Mapping):
        return None, str(body)[:500], []
    code = item.get("errorCode") or item.get("statusCode") or item.get("error")
    message = item.get("message") or item.get("error_description") or ""
    fields = [str(f) for f in item.get("fields") or []]
    return (str(code) if code else None), str(message), fields


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


class SalesforceClient:
    """One logged-in connection, shared by the engine's threads.

    Login is lazy (constructing a destination must not touch the network).
    A 401 ``INVALID_SESSION_ID`` logs in again once and repeats the request;
    when several threads see the same expired token only one logs in.
    """

    def __init__(self, config: SalesforceConfig) -> None:
        self.config = config
        self.session = make_session(config)
        self._sf: Salesforce | None = None
        self._lock = threading.Lock()
        self._usage = Usage(extra={"reauthentications": 0, "bulk_jobs": 0})
        #: the engine's per-account rate limiter, when one is attached
        self.pacer: Pacer | None = None

    # -- connection -----------------------------------------------------

    def salesforce(self) -> Salesforce:
        """The simple-salesforce client, logging in on first use."""
        with self._lock:
            if self._sf is None:
                self._sf = login(self.config, self.session)
            return self._sf

    def _renew(self, failed_token: str) -> None:
        with self._lock:
            if self._sf is not None and self._sf.session_id != failed_token:
                return  # another thread already renewed it
            self._sf = login(self.config, self.session)
            self._usage.extra["reauthentications"] += 1
            metering.count("reauthentications")

    def secrets(self) -> list[str]:
        """Config secrets plus the live access token."""
        found = self.config.secrets()
        sf = self._sf
        if sf is not None and getattr(sf, "session_id", None):
            found.append(sf.session_id)
        return found

    def redact(self, text: str) -> str:
        return redact_values(text, self.secrets())

    def usage(self) -> Usage:
        with self._lock:
            u = self._usage
            return Usage(u.requests, u.limit_used, u.limit_max, u.rate_limited, dict(u.extra))

    def count(self, key: str) -> None:
        """Count one ``key`` (e.g. ``bulk_jobs``) for the account and for the current sync."""
        metering.count(key)
        with self._lock:
            self._usage.extra[key] = self._usage.extra.get(key, 0) + 1

    def close(self) -> None:
        self.session.close()

    # -- requests ---------------------------------------------------------

    def url(self, path: str) -> str:
        sf = self.salesforce()
        if path.startswith("/services/"):
            return f"https://{sf.sf_instance}{path}"
        return f"https://{sf.sf_instance}/services/data/v{self.config.api_version}/{path}"

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        data: str | bytes | None = None,
        content_type: str = "application/json",
        accept: str = "application/json",
    ) -> requests.Response:
        """Send one call; return the 2xx response or raise the mapped error."""
        for attempt in (1, 2):
            sf = self.salesforce()
            token = sf.session_id
            headers = {"Authorization": f"Bearer {token}", "Accept": accept}
            if data is not None:
                headers["Content-Type"] = content_type
                if isinstance(data, str):
                    data = data.encode("utf-8")
            try:
                response = self._paced(method, self.url(path), params, data, headers)
            except requests.Timeout:
                raise TransientError(
                    f"destination '{self.config.name}': {method} {path} timed out after {self.config.timeout:g}s",
                    code="TIMEOUT",
                ) from None
            except requests.ConnectionError as exc:
                raise TransientError(
                    self.redact(
                        f"destination '{self.config.name}': {method} {path} failed: connection error "
                        f"({type(exc).__name__})"
                    ),
                    code="CONNECTION_ERROR",
                ) from None
            self._observe(response)
            if response.status_code != 401:
                if response.status_code >= 300:
                    raise self._error(method, path, response)
                return response
            code, message, _ = parse_error_body(response)
            if self.config.auth == "session":
                raise DestinationError(
                    f"destination '{self.config.name}': the Salesforce session is expired or invalid "
                    f"({code or 'HTTP 401'}) and auth 'session' cannot renew it; supply a new session_id",
                    code="INVALID_SESSION_ID",
                )
            if attempt == 1:
                self._renew(token)
        raise DestinationError(
            self.redact(
                f"destination '{self.config.name}': Salesforce still rejects the session after logging in "
                f"again: {code or 'HTTP 401'} {message}"
            ),
            code="INVALID_SESSION_ID",
        )

    def _paced(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        data: bytes | str | None,
        headers: dict[str, str],
    ) -> requests.Response:
        """Wait for the engine's limiter, and hold a concurrency slot while the request is in flight."""
        pacer = self.pacer
        gate = getattr(pacer, "concurrent", None)
        if pacer is not None:
            pacer.acquire()
        with gate() if gate is not None else contextlib.nullcontext():
            return self.session.request(method, url, params=params, data=data, headers=headers)

    def json(self, method: str, path: str, body: str | None = None, **kwargs: Any) -> Any:
        """Send a JSON call and return the parsed reply (None for no content)."""
        response = self.request(method, path, data=body, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def query_all(self, soql: str) -> list[dict[str, Any]]:
        """Every row of a SOQL query, following ``nextRecordsUrl``."""
        reply = self.json("GET", "query", params={"q": soql})
        rows: list[dict[str, Any]] = list(reply.get("records", []))
        while reply.get("nextRecordsUrl") and not reply.get("done", True):
            reply = self.json("GET", reply["nextRecordsUrl"])
            rows.extend(reply.get("records", []))
        return rows

    # -- bookkeeping and errors --------------------------------------------

    def _observe(self, response: requests.Response) -> None:
        info = _LIMIT_INFO.search(response.headers.get("Sforce-Limit-Info", ""))
        limited = response.status_code in (403, 429) and b"REQUEST_LIMIT_EXCEEDED" in response.content
        metering.count("requests")
        if limited:
            metering.count("rate_limited")
        with self._lock:
            self._usage.requests += 1
            if info:
                self._usage.limit_used, self._usage.limit_max = int(info.group(1)), int(info.group(2))
            if limited:
                self._usage.rate_limited += 1

    def _error(self, method: str, path: str, response: requests.Response) -> Exception:
        status = response.status_code
        code, message, fields = parse_error_body(response)
        text = self.redact(
            f"destination '{self.config.name}': {method} {path.split('?')[0]} -> HTTP {status}"
            + (f" {code}" if code else "")
            + (f": {message}" if message else "")
        )
        if code == "REQUEST_LIMIT_EXCEEDED" or status == 429:
            if "totalrequests" in message.lower() or "daily" in message.lower():
                return DestinationError(text + " (daily API request limit; the sync stops)", "DAILY_LIMIT_EXCEEDED")
            return TransientError(text, code="REQUEST_LIMIT_EXCEEDED", retry_after=_retry_after(response))
        if code == "UNABLE_TO_LOCK_ROW":
            return TransientError(text, code="UNABLE_TO_LOCK_ROW", retry_after=_retry_after(response), shrink=True)
        if status >= 500 or status in (408, 409, 425):
            return TransientError(text, code=code or f"HTTP_{status}", retry_after=_retry_after(response))
        if status == 400:
            return RequestRejected(text, code or "BAD_REQUEST", self.redact(message), fields)
        return DestinationError(text, code=code or f"HTTP_{status}")
