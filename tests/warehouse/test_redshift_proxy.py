"""The Redshift wire proxy's rewrites (the end-to-end run is in test_targets)."""

from __future__ import annotations

import struct

from tests.fixtures.redshift_proxy import rewrite_parameter_status, rewrite_startup, startup_parameters


def startup(params: dict[str, str]) -> bytes:
    payload = struct.pack("!i", 196608) + b"".join(f"{k}\0{v}\0".encode() for k, v in params.items()) + b"\0"
    return struct.pack("!i", len(payload) + 4) + payload


def test_startup_keeps_only_parameters_postgres_accepts() -> None:
    sent = startup({"user": "u", "database": "d", "application_name": "dbt", "client_encoding": "UTF8",
                    "driver_version": "2.1", "os_version": "Linux", "plugin_name": "x", "options": "-c a=b"})
    rewritten = rewrite_startup(sent[4:])
    assert struct.unpack("!i", rewritten[:4])[0] == len(rewritten)
    assert startup_parameters(rewritten) == {"user": "u", "database": "d", "application_name": "dbt",
                                             "client_encoding": "UTF8", "options": "-c a=b"}


def test_server_version_is_reported_as_redshift() -> None:
    message = rewrite_parameter_status(b"server_version\x0015.4\x00")
    assert message == b"S" + struct.pack("!i", 4 + 21) + b"server_version\x008.0.2\x00"
    other = rewrite_parameter_status(b"TimeZone\x00UTC\x00")
    assert other == b"S" + struct.pack("!i", 4 + 13) + b"TimeZone\x00UTC\x00"
