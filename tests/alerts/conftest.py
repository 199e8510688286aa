"""Real receivers for alert tests: an SMTP server (STARTTLS + AUTH), an HTTP
server for Slack and webhooks, and the alert tables on DuckDB through a
real dbt project.

Fixtures:

``tls_cert`` -> (cert_path, key_path): a self-signed certificate for
    127.0.0.1/localhost made with ``cryptography``; channels trust it through
    ``ca_bundle``.
``smtp_server`` -> :class:`SmtpServer`: aiosmtpd on loopback; STARTTLS
    required, AUTH (LOGIN/PLAIN) with ``alerts`` / ``smtp-pa55word``;
    ``.messages`` are parsed :class:`email.message.EmailMessage` with
    ``.envelope_to``.
``http_server`` -> :class:`HttpServer`: records every POST (path, headers,
    body); ``.status[path] = 503`` makes a path fail.
``warehouse``: a Warehouse on a DuckDB copy of integration_tests (deps
    only, no build), alert tables emptied before each test.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from dbt_sync.alerts.store import AlertStore
from tests.alerts.helpers import SMTP_PASSWORD, SMTP_USER


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def tls_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    base = tmp_path_factory.mktemp("tls")
    cert_path, key_path = base / "cert.pem", base / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, smtp: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        msg.envelope_to = list(envelope.rcpt_tos)  # type: ignore[attr-defined]
        self.server.messages.append(msg)
        self.server.tls_used.append(session.ssl is not None)
        self.server.authenticated.append(bool(session.authenticated))
        return "250 OK"


@dataclass
class SmtpServer:
    host: str
    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    tls_used: list[bool] = field(default_factory=list)
    authenticated: list[bool] = field(default_factory=list)


@pytest.fixture
def smtp_server(tls_cert: tuple[str, str]) -> Iterator[SmtpServer]:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(*tls_cert)

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login == SMTP_USER.encode()
              and auth_data.password == SMTP_PASSWORD.encode())
        return AuthResult(success=ok, handled=False)

    server = SmtpServer("127.0.0.1", free_port())
    controller = Controller(
        _Handler(server), hostname=server.host, port=server.port, tls_context=ctx, require_starttls=True,
        authenticator=authenticator, auth_required=True, auth_require_tls=True,
    )
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class HttpServer:
    url: str
    requests: list[Request] = field(default_factory=list)
    status: dict[str, int] = field(default_factory=dict)

    def to(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]


@pytest.fixture
def http_server() -> Iterator[HttpServer]:
    state = HttpServer(url="")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                state.requests.append(Request(self.path, {k: v for k, v in self.headers.items()}, body))
            code = state.status.get(self.path, 200)
            reply = b"ok" if code == 200 else b"no_service"
            self.send_response(code)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="session")
def alerts_project(dbt_project_factory: Any) -> Any:
    return dbt_project_factory("duckdb", name="alerts", build=False)


@pytest.fixture(scope="session")
def _session_warehouse(alerts_project: Any) -> Iterator[Any]:
    with alerts_project.warehouse() as wh:
        AlertStore(wh).ensure_tables()
        yield wh


@pytest.fixture
def warehouse(_session_warehouse: Any) -> Any:
    wh = _session_warehouse
    store = AlertStore(wh)
    with wh._transaction():
        for table in ("dbt_sync_health", "dbt_sync_alerts", "dbt_sync_failures", "dbt_sync_state"):
            wh._execute(f"delete from {store.table(table)}")
    return wh
