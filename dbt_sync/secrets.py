"""Keeping secrets (and masked column values) out of everything dbt-sync writes.

Secrets enter dbt-sync in one place (``dbt_sync.yml``, rendered from
environment variables) and are registered here. Every path that emits text
(log handlers, error messages, audit rows, JSON output, alerts) passes it
through :func:`redact`, so a secret echoed back by an API error, or by a
mistake in our own code, is masked before it leaves the process.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from dbt_sync import masking

#: what every secret and masked value becomes, wherever dbt-sync masks it (one mask: :data:`dbt_sync.masking.MASK`)
MASK = masking.MASK

#: dbt's prefix of secret environment variables (``dbt_common.constants.SECRET_ENV_PREFIX``): the value of every
#: variable whose name starts with it is masked in everything dbt-sync writes, used or not (:func:`register_env`)
SECRET_ENV_PREFIX = "DBT_ENV_SECRET"

#: configuration keys whose values are secret wherever they appear
SECRET_KEYS = frozenset(
    {
        "password",
        "security_token",
        "access_token",
        "refresh_token",
        "client_secret",
        "consumer_secret",
        "private_key",
        "session_id",
        "token",
        "secret",
        "webhook_url",
        "api_key",
        "signing_secret",
    }
)

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None


def is_secret_key(key: str) -> bool:
    key = key.lower()
    return key in SECRET_KEYS or key.endswith(("_password", "_secret", "_token", "_key"))


def register(values: Iterable[Any], *, with_host: bool = False) -> None:
    """Remember secret strings so that :func:`redact` masks them from now on.

    Very short values are ignored: masking every "a" in a message would make
    it unreadable without protecting anything. ``with_host``: a value that is
    a URL is secret as a whole, its host too (the value of a secret environment
    variable: requests/urllib3 errors name the host on its own, ``HTTPConnection(host='...')``).
    """
    global _pattern
    with _lock:
        before = len(_secrets)
        for value in values:
            if isinstance(value, str) and len(value.strip()) >= 4:
                # matched in folded text (any case): the value, the parts of a URL printed on their own, and
                # every form it is echoed back in, trimmed, JSON-, URL- or HTML-escaped (as masked columns)
                _secrets.add(masking.fold(value))
                _secrets.update(masking.fold(part) for part in _url_parts(value, with_host) if len(part) >= 4)
                _secrets.update(masking.variants(value))
        if _secrets and len(_secrets) != before:
            ordered = sorted(_secrets, key=len, reverse=True)
            _pattern = re.compile("|".join(re.escape(s) for s in ordered))


def register_env(environ: Mapping[str, str] | None = None) -> None:
    """Register the value of every environment variable named ``DBT_ENV_SECRET*``, as dbt scrubs them
    (``dbt_common.exceptions.base.env_secrets``) whether or not anything reads them.

    ``environ``: default ``os.environ``. Called when a command starts, when ``dbt_sync.yml`` is
    read and when the Python API opens the warehouse.
    """
    env = os.environ if environ is None else environ
    register((value for name, value in env.items() if name.upper().startswith(SECRET_ENV_PREFIX)), with_host=True)


def _url_parts(value: str, with_host: bool = False) -> list[str]:
    """The parts of a secret URL that HTTP libraries print on their own, without the rest of the URL.

    A Slack incoming webhook's secret is its path (``/services/T…/B…/…``), and
    requests/urllib3 errors name the host and the path separately (``… Max
    retries exceeded with url: /services/…``); a password can sit in the
    userinfo (``postgres://user:password@host``). Empty for anything that is
    not an absolute URL. ``with_host``: also the host and ``host:port``
    (for a URL that is secret as a whole, not only in its path).
    """
    try:
        url = urlsplit(value.strip())
    except ValueError:
        return []
    if not url.scheme or not url.netloc:
        return []
    path_and_query = url.path + (f"?{url.query}" if url.query else "")
    parts = [path_and_query, url.path.rstrip("/"), url.query]
    if url.password:
        parts.append(url.password)
    if with_host:
        try:
            port = url.port
        except ValueError:  # not a number: the netloc after any userinfo is still named on its own
            port = None
        host = url.hostname or ""
        parts += [host, f"{host}:{port}" if port is not None else "", url.netloc.rsplit("@", 1)[-1]]
    return [part for part in parts if part.strip("/")]


def clear() -> None:
    """Forget registered secrets and masked values (tests, and long-lived processes reloading config)."""
    global _pattern
    with _lock:
        _secrets.clear()
        _pattern = None
    masking.clear()


def redact(text: Any) -> str:
    """``text`` as a string with every registered secret and masked column value masked.

    Masked column values are those the engine registered with
    :func:`dbt_sync.masking.register` (see that module).
    """
    out = text if isinstance(text, str) else str(text)
    pattern = _pattern
    if pattern is not None:
        folded = masking.fold(out)  # as long as ``out``, character for character: spans carry over
        first = pattern.search(folded)
        if first is not None:
            parts, start = [], 0
            for match in (first, *pattern.finditer(folded, first.end())):
                parts += [out[start : match.start()], MASK]
                start = match.end()
            parts.append(out[start:])
            out = "".join(parts)
    return masking.redact(out)


def redact_values(text: str, values: Iterable[str]) -> str:
    """``text`` with every string of ``values`` replaced by :data:`MASK`, longest first.

    For secrets a destination holds that were never registered (an access
    token a login or an OAuth refresh issued mid-run), applied where the
    destination turns an answer into an error message; :func:`redact` then
    masks the registered ones at every output sink.
    """
    for value in sorted({v for v in values if v}, key=len, reverse=True):
        text = text.replace(value, MASK)
    return text


def redact_obj(value: Any) -> Any:
    """Redact every string inside a JSON-like structure."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_obj(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_obj(v) for v in value]
    return value


class RedactingFormatter(logging.Formatter):
    """Masks secrets in the whole rendered record, tracebacks included."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class RedactingFilter(logging.Filter):
    """A logging filter that masks secrets in the rendered message."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _pattern is not None or masking.has_values():
            record.msg = redact(record.getMessage())
            record.args = None
        return True
