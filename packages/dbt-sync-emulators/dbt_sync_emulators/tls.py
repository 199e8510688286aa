"""Throwaway TLS material for the local API emulators, made with ``trustme``.

simple-salesforce hard-codes ``https://`` into every URL it builds, so an
emulator that clients can talk to unmodified must speak TLS. A throwaway CA
(``trustme.CA``) signs a leaf certificate for ``127.0.0.1`` / ``localhost``;
clients trust the CA file (``requests`` ``verify=``, urllib3 ``ssl_ca_cert=``)
and nothing is installed system-wide.

One set of files is made per process and shared by every emulator started in
it (:func:`shared_tls`).
"""

from __future__ import annotations

import atexit
import os
import shutil
import ssl
import tempfile
import threading
from dataclasses import dataclass

import trustme


@dataclass(frozen=True)
class TLSFiles:
    """Paths of the PEM files making up one CA + server certificate pair."""

    directory: str
    ca_cert_path: str
    cert_path: str
    key_path: str

    def server_context(self) -> ssl.SSLContext:
        """An SSL context for the server side, presenting the leaf certificate with its chain."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.cert_path, self.key_path)
        return ctx


def make_self_signed(directory: str | None = None, common_name: str = "dbt-sync emulator") -> TLSFiles:
    """Create a CA and a server certificate for 127.0.0.1/localhost in ``directory`` (default: a new temp folder).

    The leaf is signed by a separate CA (rather than being self-signed itself)
    because OpenSSL 3 rejects a self-signed leaf that carries CA:FALSE and
    clients verify against the CA file, exactly as with a real private CA.
    Files: ``ca.pem`` (the CA certificate), ``server.pem`` (the leaf certificate) and
    ``server-key.pem`` (the leaf's private key, mode 0600).
    """
    directory = directory or tempfile.mkdtemp(prefix="dbt-sync-tls-")
    ca = trustme.CA(organization_name=common_name, organization_unit_name=f"{common_name} CA")
    leaf = ca.issue_cert("localhost", "127.0.0.1", common_name="localhost", organization_name=common_name)

    ca_path = os.path.join(directory, "ca.pem")
    cert_path = os.path.join(directory, "server.pem")
    key_path = os.path.join(directory, "server-key.pem")
    ca.cert_pem.write_to_path(ca_path)
    with open(cert_path, "wb") as f:
        for blob in leaf.cert_chain_pems:
            f.write(blob.bytes())
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(leaf.private_key_pem.bytes())
    return TLSFiles(directory, ca_path, cert_path, key_path)


_shared: TLSFiles | None = None
_shared_lock = threading.Lock()


def shared_tls() -> TLSFiles:
    """One certificate set per process, made on first use."""
    global _shared
    with _shared_lock:
        if _shared is None or not os.path.exists(_shared.key_path):
            _shared = make_self_signed()
            atexit.register(shutil.rmtree, _shared.directory, True)
        return _shared
