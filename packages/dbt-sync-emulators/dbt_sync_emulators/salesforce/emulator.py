"""The public face of the Salesforce emulator: lifecycle, test hooks and org state."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import requests

from ..tls import TLSFiles, shared_tls
from .auth import Authenticator, Sessions
from .bulk import BulkIngest
from .client import RewritingSession, verified_session
from .errors import ApiError
from .faults import Faults
from .objects import default_objects, object_describe
from .rest import DataApi, RestConfig
from .server import _Server
from .store import Store, ValidationRule


class SalesforceEmulator:
    """A local HTTPS Salesforce org that simple-salesforce can talk to unmodified.

    Tests drive it through the real client; the methods here set the org up
    (users, apps, metadata, seed data), inject faults and read back what was
    stored. See docs/emulators-salesforce.md for the covered API surface.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, api_usage_max: int = 15000,
                 seed: int = 1234, tls: TLSFiles | None = None) -> None:
        self.host = host
        self.port = port
        self.api_usage_max = api_usage_max
        self.api_usage_used = 0
        self._tls = tls
        self.store = Store()
        self.sessions = Sessions()
        self.auth = Authenticator(self.sessions)
        self.faults = Faults(on_expire_sessions=self.sessions.expire_all)
        self.store.row_locked = self.faults.take_row_lock
        self.bulk = BulkIngest(self.store, self.faults, seed=seed)
        #: switches for behaviour the reference notes mark UNVERIFIED
        self.config = RestConfig()
        self.store.round_numbers = lambda: self.config.number_scale == "round_half_up"
        self.api = DataApi(self.store, self.bulk, self.config, self._limits)
        #: (method, path, status) of every request; status 0 = connection dropped. No headers, no bodies.
        self.request_log: list[tuple[str, str, int]] = []
        #: tracebacks of unexpected server-side exceptions (answered as 500 UNKNOWN_EXCEPTION)
        self.errors: list[str] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._inflight = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._custom_prefix = 0
        for describe in default_objects():
            fields = describe.pop("fields")
            self.store.define(object_describe(describe.pop("name"), fields, **describe))

    # ---- lifecycle ----

    def start(self) -> SalesforceEmulator:
        if self._server is not None:
            return self
        tls = self._tls or shared_tls()
        self._tls = tls
        self.stopping.clear()
        self._server = _Server((self.host, self.port), self, tls.server_context())
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True, name=f"sf-emulator-{self.port}")
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self.stopping.set()
        server.shutdown()
        server.server_close()
        server.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> SalesforceEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def instance_url(self) -> str:
        return f"https://{self.host}:{self.port}"

    @property
    def ca_cert_path(self) -> str:
        if self._tls is None:
            self._tls = shared_tls()
        return self._tls.ca_cert_path

    # ---- auth ----

    def add_user(self, username: str, password: str, security_token: str = "") -> None:
        self.auth.add_user(username, password, security_token)

    def add_connected_app(self, consumer_key: str, consumer_secret: str | None = None,
                          public_key_pem: str | bytes | None = None) -> None:
        if isinstance(public_key_pem, bytes):
            public_key_pem = public_key_pem.decode()
        self.auth.add_connected_app(consumer_key, consumer_secret, public_key_pem)

    def issue_session(self) -> str:
        """A valid session id, for ``Salesforce(session_id=..., instance_url=...)``."""
        return self.sessions.issue()

    def login_session(self) -> requests.Session:
        """A session for simple-salesforce's ``session=`` that sends ``*.salesforce.com`` here."""
        return RewritingSession(self.instance_url, self.ca_cert_path)

    def http_session(self) -> requests.Session:
        """A plain session trusting the emulator's CA (for direct ``session_id`` clients)."""
        return verified_session(self.ca_cert_path)

    # ---- metadata and data ----

    def define_object(self, name: str, fields: list[dict[str, Any]], **describe_attrs: Any) -> None:
        """Add or replace an object; ``fields`` use describe keys, missing keys get type defaults."""
        if not describe_attrs.get("keyPrefix"):
            existing = self.store.meta(name)
            if existing is not None:
                describe_attrs["keyPrefix"] = existing.key_prefix
            else:
                used = self.store.used_prefixes()
                while True:
                    prefix = f"a0{'0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ'[self._custom_prefix % 36]}"
                    self._custom_prefix += 1
                    if prefix not in used:
                        break
                describe_attrs["keyPrefix"] = prefix
        self.store.define(object_describe(name, fields, **describe_attrs))

    def describe(self, object_name: str) -> dict[str, Any]:
        return self._meta(object_name).describe

    def _meta(self, object_name: str) -> Any:
        meta = self.store.meta(object_name)
        if meta is None:
            raise KeyError(f"unknown object {object_name}")
        return meta

    def records(self, object_name: str) -> list[dict[str, Any]]:
        """Copies of every stored record, all describe fields present (None when unset)."""
        meta = self._meta(object_name)
        with self.store.lock:
            return [{f.name: rec.get(f.name) for f in meta.ordered} for rec in self.store.records(meta)]

    def seed(self, object_name: str, records: Sequence[dict[str, Any]]) -> list[str]:
        """Insert records directly (JSON-style values, describe rules apply, no validation rules)."""
        meta = self._meta(object_name)
        ids = []
        with self.store.lock:
            for rec in records:
                changes, errors = self.store.prepare_json(meta, rec)
                outcome = self.store.create(meta, changes, errors, internal=True)
                if not outcome.success:
                    raise ValueError(f"cannot seed {object_name} {rec!r}: {outcome.errors}")
                assert outcome.id is not None
                ids.append(outcome.id)
        return ids

    def add_validation_rule(self, object_name: str, name: str, condition: Callable[[dict[str, Any]], bool],
                            message: str, fields: Sequence[str] = ()) -> None:
        """Reject writes whose resulting record makes ``condition`` true (FIELD_CUSTOM_VALIDATION_EXCEPTION)."""
        self._meta(object_name)
        self.store.add_rule(object_name, ValidationRule(name, condition, message, tuple(fields)))

    def reset(self) -> None:
        """Clear records, Bulk jobs, faults, usage and the request log; keep metadata, users and sessions."""
        self.store.clear()
        self.bulk.reset()
        self.faults.clear()
        with self._lock:
            self.api_usage_used = 0
            self.request_log.clear()
            self.errors.clear()

    # ---- server internals ----

    def log_request(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self.request_log.append((method, path, status))

    def enter_request(self) -> None:
        with self._lock:
            self._inflight += 1

    def leave_request(self) -> None:
        with self._lock:
            self._inflight -= 1

    def usage_gate(self) -> str:
        """Enforce daily and concurrent limits for one data request; returns its Sforce-Limit-Info."""
        with self._lock:
            if self.faults.daily_limit_exceeded or self.api_usage_used >= self.api_usage_max:
                raise ApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
            limit = self.faults.concurrent_limit
            if limit is not None and self._inflight > limit:
                raise ApiError(403, "REQUEST_LIMIT_EXCEEDED",
                               "ConcurrentRequests (Concurrent API Requests) Limit exceeded.")
            self.api_usage_used += 1
            return f"api-usage={self.api_usage_used}/{self.api_usage_max}"

    def _limits(self) -> dict[str, Any]:
        used = self.api_usage_used
        jobs = len(self.bulk.jobs())
        return {
            "DailyApiRequests": {"Max": self.api_usage_max, "Remaining": max(self.api_usage_max - used, 0)},
            "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000 - jobs},
            "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
            "DailyBulkV2QueryFileStorageMB": {"Max": 976562, "Remaining": 976562},
            "ConcurrentSyncProcessing": {"Max": 25, "Remaining": 25},
        }
