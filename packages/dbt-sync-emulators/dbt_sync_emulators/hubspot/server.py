"""HTTP plumbing: parse a request, apply faults, auth and rate limits, route, answer.

Kept free of CRM logic so the order of the cross-cutting checks is visible in
one place: faults first (they model the network and HubSpot's edge), then the
OAuth token endpoint (no bearer token needed), then authentication, then rate
limiting, then the API itself.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from .errors import ApiError, api_error, correlation_id, error_body
from .faults import Fault
from .ratelimit import rate_limit_body, retry_after_header

if TYPE_CHECKING:
    from .emulator import HubSpotEmulator

OBJECT_BATCH = re.compile(r"^/crm/v3/objects/([^/]+)/batch/(create|update|upsert|read|archive)$")
OBJECT_SEARCH = re.compile(r"^/crm/v3/objects/([^/]+)/search$")
OBJECT_COLLECTION = re.compile(r"^/crm/v3/objects/([^/]+)$")
OBJECT_ONE = re.compile(r"^/crm/v3/objects/([^/]+)/([^/]+)$")
PROPERTIES = re.compile(r"^/crm/v3/properties/([^/]+)$")
PROPERTY_ONE = re.compile(r"^/crm/v3/properties/([^/]+)/([^/]+)$")
ASSOC_BATCH = re.compile(r"^/crm/v4/associations/([^/]+)/([^/]+)/batch/(create|associate/default|read|archive)$")
#: hubspot-api-client calls /crm/v4/associations/…/labels; the published spec names /crm/associations/v4/…
ASSOC_LABELS = re.compile(r"^/crm/(?:v4/associations|associations/v4)/([^/]+)/([^/]+)/labels$")
ASSOC_OF_OBJECT = re.compile(r"^/crm/v4/objects/([^/]+)/([^/]+)/associations/([^/]+)$")

GATEWAY_PAGE = "<html><head><title>{status} {reason}</title></head><body><h1>{status} {reason}</h1></body></html>"


class EmulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], emulator: HubSpotEmulator) -> None:
        self.emulator = emulator
        super().__init__(address, Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up (timeouts, dropped connections) are normal here, not errors."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Responses go out in several writes; without TCP_NODELAY each one after the
    # first waits ~40 ms for the client's delayed ACK, which real APIs don't do.
    disable_nagle_algorithm = True
    #: monotonic time before which the reply is held back (latency fault)
    _answer_at = 0.0
    server: EmulatorHTTPServer
    server_version = "HubSpotEmulator/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log; ``emu.request_log`` is the record."""

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    # ---- request lifecycle -------------------------------------------------------------

    def _serve(self) -> None:
        emu = self.server.emulator
        split = urlsplit(self.path)
        path, query = split.path, parse_qs(split.query)
        raw = self._read_body()
        # Latency is the time a request takes, the emulator's own work included,
        # as a real API's response time is: the reply waits for what is left.
        self._answer_at = time.monotonic() + emu.faults.latency
        fault = emu.faults.take(path)
        if fault is not None and fault.kind == "drop":
            self._wait_for_latency()
            emu._record(self.command, path, 0)
            self._drop()
            return
        if fault is not None and fault.kind == "timeout":
            emu._stopping.wait(fault.seconds)
            fault = None
        search = path.endswith("/search")
        headers: dict[str, str] = {}
        try:
            if fault is not None:
                self._raise_fault(fault)
            if path == "/oauth/v1/token" and self.command == "POST":
                form = {k: v[0] for k, v in parse_qs(raw.decode("utf-8")).items()}
                self._send(emu, path, 200, emu.auth.token_grant(form, emu.settings.token_expires_in), {})
                return
            private_app = emu.auth.check(self.headers.get("Authorization"))
            decision = emu.limiter.admit(search=search, private_app=private_app)
            headers = decision.headers
            if not decision.allowed:
                assert decision.policy is not None
                extra = dict(headers)
                # No Retry-After for DAILY: urllib3's default Retry honours it on GETs and
                # would sleep until midnight.
                if emu.settings.retry_after_on_429 and decision.policy != "DAILY":
                    extra["Retry-After"] = retry_after_header(decision.retry_after)
                raise ApiError(429, rate_limit_body(decision.policy, emu.settings.portal_id), extra)
            body = self._json(raw)
            status, payload = self._route(emu, path, query, body)
        except ApiError as e:
            merged = {**(headers or emu.limiter.current_headers(search=search)), **e.headers}
            self._send(emu, path, e.status, e.body, merged)
            return
        except Exception as e:  # a bug in the emulator must still answer like a server would
            self._send(emu, path, 500, error_body(None, f"internal error: {type(e).__name__}: {e}"), headers)
            raise
        self._send(emu, path, status, payload, headers)

    def _raise_fault(self, fault: Fault) -> None:
        emu = self.server.emulator
        if fault.kind == "fail":
            if fault.status in (502, 503, 504):
                reason = self.responses.get(fault.status, ("Error",))[0]
                html = GATEWAY_PAGE.format(status=fault.status, reason=reason)
                raise ApiError(fault.status, {"__html__": html})
            raise ApiError(fault.status, error_body(None, "internal error"))
        if fault.kind == "rate_limit":
            extra = emu.limiter.current_headers(search=fault.policy == "SECONDLY")
            if "X-HubSpot-RateLimit-Remaining" in extra:
                extra["X-HubSpot-RateLimit-Remaining"] = "0"
            if fault.retry_after is not None:
                extra["Retry-After"] = str(fault.retry_after)
            raise ApiError(429, rate_limit_body(fault.policy, emu.settings.portal_id), extra)
        if fault.kind == "reject_batch":
            raise api_error(400, "VALIDATION_ERROR", "Invalid input JSON on line 1, column 1: batch rejected")
        if fault.kind == "locked":
            raise api_error(423, "LOCKED", "The resource is locked. Wait at least 2 seconds and retry.")

    def _route(self, emu: HubSpotEmulator, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        method = self.command
        objects, assoc, props, store = emu._objects, emu._assoc, emu._props, emu.store
        if method == "POST" and (m := OBJECT_BATCH.match(path)):
            otype, action = store.resolve(m.group(1)), m.group(2)
            if action == "create":
                return objects.batch_create(otype, body)
            if action == "update":
                return objects.batch_update(otype, body)
            if action == "upsert":
                return objects.batch_upsert(otype, body)
            if action == "read":
                archived = query.get("archived", ["false"])[0] == "true"
                return objects.batch_read(otype, body, archived)
            return objects.batch_archive(otype, body)
        if method == "POST" and (m := OBJECT_SEARCH.match(path)):
            return objects.search(store.resolve(m.group(1)), body)
        if m := OBJECT_COLLECTION.match(path):
            otype = store.resolve(m.group(1))
            if method == "GET":
                return objects.list_page(otype, query)
            if method == "POST":
                return objects.create_one(otype, body)
        if m := OBJECT_ONE.match(path):
            otype, object_id = store.resolve(m.group(1)), m.group(2)
            if method == "GET":
                return objects.get_one(otype, object_id, query)
            if method == "PATCH":
                return objects.update_one(otype, object_id, body, query.get("idProperty", [None])[0])
            if method == "DELETE":
                return objects.archive_one(otype, object_id)
        if m := PROPERTIES.match(path):
            otype = store.resolve(m.group(1))
            if method == "GET":
                return props.get_all(otype)
            if method == "POST":
                return props.create(otype, body)
        if method == "GET" and (m := PROPERTY_ONE.match(path)):
            return props.get_by_name(store.resolve(m.group(1)), m.group(2))
        if method == "POST" and (m := ASSOC_BATCH.match(path)):
            a, b, action = store.resolve(m.group(1)), store.resolve(m.group(2)), m.group(3)
            if action == "create":
                return assoc.batch_create(a, b, body)
            if action == "associate/default":
                return assoc.batch_default(a, b, body)
            if action == "read":
                return assoc.batch_read(a, b, body)
            return assoc.batch_archive(a, b, body)
        if m := ASSOC_LABELS.match(path):
            a, b = store.resolve(m.group(1)), store.resolve(m.group(2))
            if method == "GET":
                return assoc.list_labels(a, b)
            if method == "POST":
                return assoc.create_label(a, b, body)
        if method == "GET" and (m := ASSOC_OF_OBJECT.match(path)):
            return assoc.list_for_object(store.resolve(m.group(1)), m.group(2), store.resolve(m.group(3)))
        raise ApiError(
            404,
            {
                "status": "error",
                "message": f"No route for {method} {path}",
                "correlationId": correlation_id(),
            },
        )

    # ---- I/O -----------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    @staticmethod
    def _json(raw: bytes) -> Any:
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError as e:
            raise api_error(400, "VALIDATION_ERROR", f"Invalid input JSON on line 1: {e}") from None

    def _drop(self) -> None:
        """Close the socket with no response, as a reset connection or crashed proxy would."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _wait_for_latency(self) -> None:
        remaining = self._answer_at - time.monotonic()
        if remaining > 0:
            time.sleep(remaining)

    def _send(self, emu: HubSpotEmulator, path: str, status: int, payload: Any, headers: dict[str, str]) -> None:
        self._wait_for_latency()
        emu._record(self.command, path, status)
        if payload is None:
            data, ctype = b"", None
        elif isinstance(payload, dict) and "__html__" in payload:
            data, ctype = payload["__html__"].encode(), "text/html"
        else:
            data, ctype = (
                json.dumps(payload, separators=(",", ":")).encode(),
                "application/json;charset=utf-8",
            )
        try:
            self.send_response(status)
            if ctype:
                self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            if data:
                self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
