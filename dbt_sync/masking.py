"""Keeping the values of masked columns out of everything dbt-sync writes.

A sync's ``failure_payload: {mask: [email]}`` hides the column in the
failures table's ``payload``; the same values also come back in free text:
Salesforce answers ``Email: invalid email address: ada@example``, HubSpot
``Email address ada@example is invalid`` (lower-cased, or JSON-escaped inside
a nested JSON message). Two layers keep them out, the same way
:mod:`dbt_sync.secrets` keeps secrets out:

1. **Per record**, where a destination's answer becomes a failure row or a
   result (:func:`scrub`): the record's own masked values, in every form a
   CRM may echo them (:func:`variants`), become ``****``.
2. **At every output sink** (:func:`redact`, called by
   :func:`dbt_sync.secrets.redact`, hence by log handlers, the console, the
   results JSON, audit rows and alerts): every masked value the engine has
   read in this process (:func:`register`) is scrubbed, so a value echoed in
   a sync-level error or a debug log line is masked too.

Matching ignores case. Values shorter than :data:`MIN_LENGTH` characters are
masked in the payload but not searched for in free text: masking every
"F" of a message would make it unreadable without protecting anything.
"""

from __future__ import annotations

import html
import json
import re
import threading
import urllib.parse
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

MASK = "****"
#: shorter values are not searched for in free text
MIN_LENGTH = 4
_KEY = MIN_LENGTH

class _Bucket:
    """The forms sharing their first :data:`MIN_LENGTH` characters, by length (longest first)."""

    __slots__ = ("forms", "lengths")

    def __init__(self) -> None:
        self.lengths: tuple[int, ...] = ()
        self.forms: dict[int, set[str]] = {}

    def add(self, form: str) -> None:
        same = self.forms.get(len(form))
        if same is None:
            self.forms[len(form)] = {form}
            # replaced, never changed in place: a reader iterating the old tuple is not disturbed
            self.lengths = tuple(sorted((*self.lengths, len(form)), reverse=True))
        else:
            same.add(form)

    def match(self, low: str, i: int) -> int:
        """Length of the longest form at ``low[i:]``, or 0."""
        for length in self.lengths:
            if low[i : i + length] in self.forms[length]:
                return length
        return 0


_lock = threading.Lock()
#: first MIN_LENGTH characters (folded) -> the folded forms starting with them
_index: dict[str, _Bucket] = {}
_known: set[str] = set()


def as_text(value: Any) -> str | None:
    """The text a destination would echo for ``value``; None for NULL."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


_JSON_ESCAPED = re.compile(r'["\\\x00-\x1f\x7f-\U0010ffff]')
_URL_SAFE = re.compile(r"[A-Za-z0-9_.~-]*")
_HTML_ESCAPED = re.compile(r"[&<>\"']")


def variants(value: Any) -> set[str]:
    """Every form in which ``value`` may appear in a message, folded (:func:`fold`).

    The value itself and trimmed; JSON-escaped (ASCII and not, and escaped
    twice, for JSON inside a JSON string); URL-encoded (path and form style);
    HTML-escaped. Forms shorter than :data:`MIN_LENGTH` are left out.
    """
    text = as_text(value)
    if text is None:
        return set()
    forms = {text}
    for base in {text, text.strip()}:
        forms.add(base)
        if _JSON_ESCAPED.search(base):
            once = json.dumps(base)[1:-1]
            forms.update((once, json.dumps(base, ensure_ascii=False)[1:-1], json.dumps(once)[1:-1]))
        if not _URL_SAFE.fullmatch(base):
            quoted = urllib.parse.quote(base, safe="")
            forms.add(quoted)
            if " " in base:  # form style (quote_plus)
                forms.add(quoted.replace("%20", "+"))
            if "/" in base:  # path style (quote)
                forms.add(quoted.replace("%2F", "/"))
        if _HTML_ESCAPED.search(base):
            forms.add(html.escape(base))
    return {fold(f) for f in forms if len(f) >= MIN_LENGTH}


def masked_values(mask: Iterable[str], row: Mapping[str, Any]) -> list[Any]:
    """The values of the masked columns in ``row`` (column names match case-insensitively)."""
    wanted = {c.lower() for c in mask}
    if not wanted:
        return []
    return [v for k, v in row.items() if k.lower() in wanted and v is not None]


def fold(text: str) -> str:
    """Lower case, one character for one (a character whose lower case is longer is kept)."""
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


def _scan(text: str, index: Mapping[str, _Bucket]) -> str:
    low = fold(text)
    out: list[str] = []
    start = 0
    i = 0
    end = len(low) - _KEY + 1
    while i < end:
        bucket = index.get(low[i : i + _KEY])
        if bucket is not None:
            length = bucket.match(low, i)
            if length:
                out.append(text[start:i])
                out.append(MASK)
                i += length
                start = i
                continue
        i += 1
    if not out:
        return text
    out.append(text[start:])
    return "".join(out)


def _build_index(forms: Iterable[str]) -> dict[str, _Bucket]:
    index: dict[str, _Bucket] = {}
    for form in forms:
        index.setdefault(form[:_KEY], _Bucket()).add(form)
    return index


def scrub(text: Any, values: Iterable[Any]) -> str:
    """``text`` with every form of ``values`` replaced by ``****`` (one record's values)."""
    out = text if isinstance(text, str) else str(text)
    forms: set[str] = set()
    for value in values:
        forms |= variants(value)
    if not forms or not out:
        return out
    return _scan(out, _build_index(forms))


def scrub_obj(value: Any, values: Iterable[Any]) -> Any:
    """:func:`scrub` every string inside a JSON-like structure."""
    values = list(values)
    if not values:
        return value
    if isinstance(value, str):
        return scrub(value, values)
    if isinstance(value, dict):
        return {k: scrub_obj(v, values) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub_obj(v, values) for v in value]
    return value


def register(values: Iterable[Any]) -> None:
    """Remember masked values so that :func:`redact` (every output sink) scrubs them from now on."""
    fresh: set[str] = set()
    for value in values:
        text = as_text(value)
        if text is not None and text not in _known:
            fresh.add(text)
    if not fresh:
        return
    with _lock:
        for text in fresh:
            _known.add(text)
            for form in variants(text):
                bucket = _index.get(form[:_KEY])
                if bucket is None:
                    bucket = _index[form[:_KEY]] = _Bucket()
                bucket.add(form)


def clear() -> None:
    """Forget registered values (between runs of a long-lived process, and in tests)."""
    with _lock:
        _index.clear()
        _known.clear()


def has_values() -> bool:
    """Whether any masked value is registered."""
    return bool(_index)


def redact(text: str) -> str:
    """``text`` with every registered masked value replaced by ``****``."""
    if not _index or len(text) < MIN_LENGTH:
        return text
    return _scan(text, _index)
