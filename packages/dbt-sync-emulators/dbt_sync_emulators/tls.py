"""Self-signed TLS material for the local API emulators.

simple-salesforce hard-codes ``https://`` into every URL it builds, so an
emulator that clients can talk to unmodified must speak TLS. A throwaway CA
signs a leaf certificate for ``127.0.0.1`` / ``localhost``; clients trust the
CA file (``requests`` ``verify=``, urllib3 ``ssl_ca_cert=``) and nothing is
installed system-wide.

Generating RSA keys costs tens of milliseconds, so one set of files is made per
process and shared by every emulator started in it (:func:`shared_tls`).
"""

from __future__ import annotations

import atexit
import datetime
import ipaddress
import os
import shutil
import ssl
import tempfile
import threading
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


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


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def make_self_signed(directory: str | None = None, common_name: str = "dbt-sync emulator") -> TLSFiles:
    """Create a CA and a server certificate for 127.0.0.1/localhost in ``directory``.

    The leaf is signed by a separate CA (rather than being self-signed itself)
    because OpenSSL 3 rejects a self-signed leaf that carries CA:FALSE and
    clients verify against the CA file, exactly as with a real private CA.
    """
    directory = directory or tempfile.mkdtemp(prefix="dbt-sync-tls-")
    now = datetime.datetime.now(datetime.timezone.utc)
    not_before = now - datetime.timedelta(days=1)
    not_after = now + datetime.timedelta(days=30)

    ca_key = _new_key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{common_name} CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    key = _new_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )

    ca_path = os.path.join(directory, "ca.pem")
    cert_path = os.path.join(directory, "server.pem")
    key_path = os.path.join(directory, "server-key.pem")
    with open(ca_path, "wb") as f:
        f.write(ca_cert.public_bytes(serialization.Encoding.PEM))
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
        f.write(ca_cert.public_bytes(serialization.Encoding.PEM))
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
        )
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
