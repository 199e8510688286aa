"""One place where requests leave for HubSpot.

Every call goes through the real hubspot-api-client, using the
``*_with_http_info`` variants with ``_preload_content=False`` so we see the
status, the rate-limit headers and the raw JSON of every response. Parsing
JSON ourselves avoids two traps of the generated client: a 2xx status that
is missing from its response map deserializes to ``None`` silently, and a
model it cannot parse raises ``ApiException(status=0)``.

urllib3 is told never to retry (``Retry(total=0)``): the engine owns retries,
and urllib3 would otherwise skip POSTs and raise ``MaxRetryError`` on its own
schedule. Connection problems and timeouts become :class:`TransientError`;
429/5xx/423 too, with a ``retry_after`` hint; bad tokens and missing scopes
become :class:`DestinationError`. OAuth access tokens are refreshed before
they expire and once more if HubSpot says one expired mid-request.
"""

from __future__ import annotations

import contextlib
import json
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import urllib3
from hubspot import HubSpot
from urllib3.util.retry import Retry

from dbt_sync.destinations import metering
from dbt_sync.destinations.base import DestinationError, Pacer, TransientError, Usage
from dbt_sync.destinations.hubspot.config import RATE_INTERVAL_SECONDS, HubSpotConfig
from dbt_sync.destinations.hubspot.errors import (
    HttpFailure,
    fatal_for,
    header,
    is_transient_status,
    parse_body,
    transient_for,
)
from dbt_sync.secrets import redact_values

#: Refresh an OAuth token this long before HubSpot says it expires.
_REFRESH_MARGIN_SECONDS = 60.0

_API_FACTORIES: dict[str, Callable[[HubSpot], Any]] = {
    "objects_batch": lambda c: c.crm.objects.batch_api,
    "properties": lambda c: c.crm.properties.core_api,
    "associations_batch": lambda c: c.crm.associations.v4.batch_api,
    "association_labels": lambda c: c.crm.associations.v4.schema.definitions_api,
    "oauth_tokens": lambda c: c.oauth.tokens_api,
}

_RATE_HEADERS = {
    "max": "X-HubSpot-RateLimit-Max",
    "remaining": "X-HubSpot-RateLimit-Remaining",
    "interval_ms": "X-HubSpot-RateLimit-Interval-Milliseconds",
    "daily": "X-HubSpot-RateLimit-Daily",
    "daily_remaining": "X-HubSpot-RateLimit-Daily-Remaining",
}


@dataclass
class Reply:
    """A response that is neither transient nor fatal: 2xx, or a 4xx the caller reads."""

    status: int
    body: dict[str, Any]
    headers: Mapping[str, str]
    #: for a 429: seconds until the oldest request of the account's window leaves it, taken when it arrived
    window_remainder: float | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status <= 299


def _no_retries() -> Retry:
    """urllib3 must not retry or follow anything by itself."""
    return Retry(total=0, connect=0, read=0, redirect=0, status=0, other=0, raise_on_status=False)


def _api_exception(exc: BaseException) -> HttpFailure | None:
    """Duck-type any hubspot package's ApiException (their classes are unrelated)."""
    status = getattr(exc, "status", None)
    if not isinstance(status, int) or not hasattr(exc, "body"):
        return None
    headers = getattr(exc, "headers", None) or {}
    return HttpFailure(status=status, body=parse_body(getattr(exc, "body", None)), headers=headers)


class Transport:
    """Authenticated, non-retrying calls with rate-limit bookkeeping.

    Thread-safe: the urllib3 pools are, and the token, counters and header
    snapshot are guarded by one lock.
    """

    def __init__(self, config: HubSpotConfig) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._token: str | None = config.access_token
        self._refresh_token: str | None = config.refresh_token
        self._token_expires_at: float | None = None
        self._issued_tokens: list[str] = []
        self._apis: dict[str, Any] = {}
        self._requests = 0
        self._rate_limited = 0
        self._refreshes = 0
        self._rate: dict[str, int] = {}
        self._client = self._build_client(self._token)
        #: the engine's per-account rate limiter, when one is attached
        self.pacer: Pacer | None = None

    # -- secrets ---------------------------------------------------------

    def secrets(self) -> list[str]:
        """Configured secrets plus every access token an OAuth refresh issued."""
        with self._lock:
            found = [*self._config.secrets(), *self._issued_tokens]
            if self._refresh_token:
                found.append(self._refresh_token)
        return list(dict.fromkeys(found))

    def redact(self, text: str) -> str:
        return redact_values(text, self.secrets())

    # -- client ----------------------------------------------------------

    def _build_client(self, token: str | None) -> HubSpot:
        kwargs: dict[str, Any] = {"host": self._config.host, "retry": _no_retries()}
        if self._config.ca_bundle:
            kwargs["ssl_ca_cert"] = self._config.ca_bundle
        return HubSpot(access_token=token, **kwargs)

    def _api(self, name: str) -> Any:
        """Generated API objects are cached: each one owns a connection pool."""
        with self._lock:
            api = self._apis.get(name)
            if api is None:
                api = _API_FACTORIES[name](self._client)
                self._apis[name] = api
            return api

    def _set_token(self, token: str, expires_in: float | None) -> None:
        with self._lock:
            self._token = token
            self._issued_tokens.append(token)
            del self._issued_tokens[:-5]
            self._token_expires_at = (
                time.monotonic() + max(0.0, expires_in - _REFRESH_MARGIN_SECONDS) if expires_in else None
            )
            self._client.access_token = token
            for name, api in self._apis.items():
                if name != "oauth_tokens":
                    api.api_client.configuration.access_token = token

    # -- OAuth -----------------------------------------------------------

    def _ensure_token(self) -> str | None:
        if not self._config.uses_oauth:
            return self._token
        with self._lock:
            token, expires = self._token, self._token_expires_at
        if token is None or (expires is not None and time.monotonic() >= expires):
            self._refresh(stale=token)
        with self._lock:
            return self._token

    def _refresh(self, stale: str | None) -> None:
        """Trade the refresh token for a new access token (once, across threads)."""
        with self._refresh_lock:
            with self._lock:
                if self._token is not None and self._token != stale:
                    return  # another thread refreshed meanwhile
                refresh_token = self._refresh_token
            api = self._api("oauth_tokens")
            reply = self._send(
                lambda: api.create_with_http_info(
                    grant_type="refresh_token",
                    client_id=self._config.client_id,
                    client_secret=self._config.client_secret,
                    refresh_token=refresh_token,
                    _preload_content=False,
                    _request_timeout=self._config.timeout,
                ),
                retry_auth=False,
            )
            token = reply.body.get("access_token") if reply.ok else None
            if not token:
                reason = self.redact(str(reply.body.get("message") or reply.body.get("status") or ""))
                raise DestinationError(
                    f"HubSpot destination {self._config.name!r}: OAuth token refresh failed "
                    f"(HTTP {reply.status}, {reason})",
                    code="OAUTH_REFRESH_FAILED",
                )
            metering.count("oauth_refreshes")
            with self._lock:
                self._refreshes += 1
                new_refresh = reply.body.get("refresh_token")
                if isinstance(new_refresh, str) and new_refresh:
                    self._refresh_token = new_refresh
            expires_in = reply.body.get("expires_in")
            self._set_token(str(token), float(expires_in) if isinstance(expires_in, (int, float)) else None)

    # -- calls -----------------------------------------------------------

    def call(self, api_name: str, method: str, **kwargs: Any) -> Reply:
        """Call ``<api>.<method>_with_http_info(**kwargs)``; see the module doc."""
        api = self._api(api_name)
        fn = getattr(api, f"{method}_with_http_info")

        def invoke() -> Any:
            return fn(**kwargs, _preload_content=False, _request_timeout=self._config.timeout)

        return self._send(invoke, retry_auth=True)

    def _send(self, invoke: Callable[[], Any], *, retry_auth: bool) -> Reply:
        used = self._ensure_token() if retry_auth else None
        reply = self._attempt(invoke)
        if (
            retry_auth
            and reply.status == 401
            and self._config.uses_oauth
            and str(reply.body.get("category") or "") in ("EXPIRED_AUTHENTICATION", "INVALID_AUTHENTICATION")
        ):
            self._refresh(stale=used)
            reply = self._attempt(invoke)
        if reply.ok:
            return reply
        failure = HttpFailure(reply.status, reply.body, reply.headers)
        if is_transient_status(reply.status):
            error = transient_for(failure, reply.window_remainder)
            if isinstance(error, TransientError):
                raise TransientError(
                    self.redact(str(error)), code=error.code, retry_after=error.retry_after, shrink=error.shrink
                ) from None
            raise DestinationError(self.redact(str(error)), code=error.code) from None
        fatal = fatal_for(failure, self._config.name)
        if fatal is not None:
            raise DestinationError(self.redact(str(fatal)), code=fatal.code) from None
        return reply

    def _attempt(self, invoke: Callable[[], Any]) -> Reply:
        if self.pacer is not None:
            self.pacer.acquire()
        metering.count("requests")
        with self._lock:
            self._requests += 1
        try:
            response = invoke()
        except Exception as exc:
            failure = _api_exception(exc)
            if failure is None or failure.status == 0:
                mapped = self._network_error(exc)
                if mapped is exc:
                    raise
                raise mapped from None
            reply = Reply(failure.status, failure.body, failure.headers)
        else:
            reply = self._read(response)
        self._observe(reply)
        return reply

    @staticmethod
    def _read(response: Any) -> Reply:
        """Read a raw urllib3 response (``_preload_content=False``)."""
        if isinstance(response, tuple):  # a client that ignored _preload_content
            data, status, headers = response
            return Reply(int(status), parse_body(json.dumps(data) if data is not None else None), headers or {})
        try:
            raw = response.data
        finally:
            release = getattr(response, "release_conn", None)
            if release is not None:
                release()
        return Reply(int(response.status), parse_body(raw), response.headers)

    def _network_error(self, exc: BaseException) -> Exception:
        """Map urllib3/socket failures: TLS trust problems are fatal, the rest transient."""
        reason = getattr(exc, "reason", None) or exc
        if isinstance(reason, (urllib3.exceptions.SSLError, ssl.SSLError)) or "CERTIFICATE_VERIFY_FAILED" in str(
            reason
        ):
            return DestinationError(
                f"HubSpot destination {self._config.name!r}: TLS verification failed ({type(reason).__name__})",
                code="TLS_ERROR",
            )
        if isinstance(exc, (urllib3.exceptions.HTTPError, OSError)) or getattr(exc, "status", None) == 0:
            kind = type(reason).__name__
            code = "TIMEOUT" if "Timeout" in kind or "timed out" in str(reason) else "CONNECTION_ERROR"
            return TransientError(
                self.redact(
                    f"HubSpot destination {self._config.name!r}: request to {self._config.host} failed before a "
                    f"response ({kind}): {reason}. Check the network, or 'host' of "
                    f"destinations.{self._config.name} in dbt_sync.yml"
                ),
                code=code,
            )
        return exc if isinstance(exc, Exception) else RuntimeError(str(exc))

    # -- rate limits and usage --------------------------------------------

    def _interval_seconds(self) -> float:
        interval_ms = self._rate.get("interval_ms")
        return interval_ms / 1000.0 if interval_ms else RATE_INTERVAL_SECONDS

    def _window_remainder(self) -> float:
        """Seconds until the oldest request of the account's rolling window leaves it, 1 s to one interval.

        The window is the engine's rate limiter's (the pacer counts every
        request of the account); without a pacer, one whole interval.
        """
        with self._lock:
            interval = self._interval_seconds()
        left = self.pacer.window_remainder(interval) if self.pacer is not None else None
        if left is None:
            return interval
        return round(min(interval, max(1.0, left)), 3)

    def _observe(self, reply: Reply) -> None:
        values: dict[str, int] = {}
        for key, name in _RATE_HEADERS.items():
            raw = header(reply.headers, name)
            if raw is not None:
                with contextlib.suppress(ValueError):
                    values[key] = int(float(raw))
        with self._lock:
            self._rate.update(values)
            if reply.status == 429:
                self._rate_limited += 1
        if reply.status == 429:
            metering.count("rate_limited")
            reply.window_remainder = self._window_remainder()  # before pause() below empties the window
        if self.pacer is not None:
            interval = values.get("interval_ms")
            self.pacer.observe(values.get("remaining"), interval / 1000.0 if interval else None)
            if reply.status == 429:
                hint = header(reply.headers, "Retry-After")
                try:
                    wait = float(hint) if hint is not None else None
                except ValueError:
                    wait = None
                if wait is None:
                    wait = reply.window_remainder if reply.window_remainder is not None else self._interval_seconds()
                self.pacer.pause(wait)

    def rate_limit_info(self) -> dict[str, int | None]:
        """The latest rate-limit headers seen and the count of 429s."""
        with self._lock:
            info: dict[str, int | None] = {key: self._rate.get(key) for key in _RATE_HEADERS}
            info["rate_limited"] = self._rate_limited
            return info

    def usage(self) -> Usage:
        with self._lock:
            limit_max = self._rate.get("max")
            remaining = self._rate.get("remaining")
            extra: dict[str, Any] = {f"rate_limit_{k}": v for k, v in self._rate.items()}
            extra["oauth_refreshes"] = self._refreshes
            return Usage(
                requests=self._requests,
                limit_used=(limit_max - remaining) if limit_max is not None and remaining is not None else None,
                limit_max=limit_max,
                rate_limited=self._rate_limited,
                extra=extra,
            )

    def close(self) -> None:
        with self._lock:
            apis = list(self._apis.values())
            self._apis.clear()
        for api in apis:
            pool = getattr(getattr(api.api_client, "rest_client", None), "pool_manager", None)
            if pool is not None:
                pool.clear()
