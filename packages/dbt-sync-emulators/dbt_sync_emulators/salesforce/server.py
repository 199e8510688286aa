"""HTTPS plumbing: threaded server, fault injection, auth, usage counting, routing.

Order per request mirrors what a client can observe from Salesforce:
injected network faults (latency, hang, dropped connection, 5xx) come first,
then login endpoints, then session checks (401), then org limits (403
REQUEST_LIMIT_EXCEEDED) and finally the data API. Every data API response
after a successful session check carries ``Sforce-Limit-Info``.
"""

from __future__ import annotations

import contextlib
import re
import socket
import ssl
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from .errors import ApiError, invalid_session, not_found
from .rest import Call, Reply, json_reply

if TYPE_CHECKING:
    from .emulator import SalesforceEmulator

_DATA_RE = re.compile(r"^/services/data/v(\d+\.\d)(?:/(.*))?$")
_SOAP_RE = re.compile(r"^/services/Soap/u/(\d+\.\d)/?$")
_INJECTED = {
    500: ("UNKNOWN_EXCEPTION",
          "An unexpected error occurred. Please include this ErrorId if you contact support: "
          "1924816357-58312 (-1207362914)"),
    502: ("BAD_GATEWAY", "Bad Gateway"),
    503: ("SERVER_UNAVAILABLE", "Server temporarily unavailable"),
}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], emulator: SalesforceEmulator,
                 context: ssl.SSLContext) -> None:
        super().__init__(address, _Handler)
        self.emulator = emulator
        self.context = context
        self.open_sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The TLS handshake runs here, in the per-connection thread, so one slow
        # client cannot stall accept() for everyone else.
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        with self.sockets_lock:
            self.open_sockets.add(tls)
        try:
            super().finish_request(tls, client_address)
        except (ssl.SSLError, ConnectionError, OSError):
            pass
        finally:
            with self.sockets_lock:
                self.open_sockets.discard(tls)
            with contextlib.suppress(OSError):
                tls.close()

    def close_connections(self) -> None:
        with self.sockets_lock:
            sockets = list(self.open_sockets)
        for s in sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Responses go out in several writes; without TCP_NODELAY each one after the
    # first waits ~40 ms for the client's delayed ACK, which real APIs don't do.
    disable_nagle_algorithm = True
    #: monotonic time before which the reply is held back (latency fault)
    _answer_at = 0.0
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # requests are in emulator.request_log
        return

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        emu = self.server.emulator
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path, _, qs = self.path.partition("?")
        # A data request counts as in flight from arrival (injected latency and
        # hangs included), so concurrent-limit faults see slow requests.
        data = _DATA_RE.match(path) is not None
        if data:
            emu.enter_request()
        try:
            self._handle(emu, method, path, qs, body)
        finally:
            if data:
                emu.leave_request()

    def _handle(self, emu: SalesforceEmulator, method: str, path: str, qs: str, body: bytes) -> None:
        faults = emu.faults
        # Latency is the time a request takes, the emulator's own work included,
        # as a real API's response time is: the reply waits for what is left.
        self._answer_at = time.monotonic() + faults.latency
        if faults.take_drop(path):
            self._wait_for_latency(emu)
            emu.log_request(method, path, 0)
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        hang = faults.take_timeout(path)
        if hang:
            emu.stopping.wait(hang)
        injected = faults.take_failure(path)
        if injected is not None:
            code, message = _INJECTED.get(injected, ("UNKNOWN_EXCEPTION", "Injected failure"))
            self._send(method, path, json_reply(injected, [{"message": message, "errorCode": code}]))
            return
        try:
            reply = self._route(emu, method, path, dict(parse_qsl(qs, keep_blank_values=True)), body)
        except ApiError as exc:
            reply = json_reply(exc.status, exc.body())
        except Exception:
            emu.errors.append(traceback.format_exc())
            reply = json_reply(500, [{"message": _INJECTED[500][1], "errorCode": "UNKNOWN_EXCEPTION"}])
        self._send(method, path, reply)

    def _route(self, emu: SalesforceEmulator, method: str, path: str, query: dict[str, str],
               body: bytes) -> Reply:
        m = _DATA_RE.match(path)
        if m:
            return self._data(emu, method, m.group(1), m.group(2) or "", query, body)
        if path.rstrip("/") == "/services/data" and method == "GET":
            return json_reply(200, [{"label": "Winter '24", "url": "/services/data/v59.0", "version": "59.0"}])
        if path.rstrip("/") == "/services/oauth2/token" and method == "POST":
            status, ctype, data = emu.auth.oauth_token(body, self.headers.get("Authorization"),
                                                       emu.instance_url)
            return Reply(status, data, ctype)
        s = _SOAP_RE.match(path)
        if s and method == "POST":
            status, ctype, data = emu.auth.soap_login(body, emu.instance_url, s.group(1))
            return Reply(status, data, ctype)
        raise not_found()

    def _data(self, emu: SalesforceEmulator, method: str, version: str, rest: str,
              query: dict[str, str], body: bytes) -> Reply:
        auth = self.headers.get("Authorization") or ""
        scheme, _, token = auth.partition(" ")
        if scheme.lower() not in ("bearer", "oauth") or not emu.sessions.is_valid(token.strip()):
            raise invalid_session()
        usage_header = emu.usage_gate()
        call = Call(method, version, rest.split("/") if rest.strip("/") else [], query, body)
        if call.segments and call.segments[-1] == "":
            call.segments.pop()
        try:
            reply = emu.api.handle(call)
        except ApiError as exc:
            reply = json_reply(exc.status, exc.body())
        reply.headers["Sforce-Limit-Info"] = usage_header
        return reply

    def _wait_for_latency(self, emu: SalesforceEmulator) -> None:
        remaining = self._answer_at - time.monotonic()
        if remaining > 0:
            emu.stopping.wait(remaining)

    def _send(self, method: str, path: str, reply: Reply) -> None:
        emu = self.server.emulator
        self._wait_for_latency(emu)
        emu.log_request(method, path, reply.status)
        try:
            self.send_response(reply.status)
            for k, v in reply.headers.items():
                self.send_header(k, v)
            if reply.status not in (204, 304):
                if reply.content_type:
                    self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if reply.body and reply.status not in (204, 304) and method != "HEAD":
                self.wfile.write(reply.body)
        except (ConnectionError, ssl.SSLError, OSError):
            self.close_connection = True

