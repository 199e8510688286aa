"""HubSpot-shaped error bodies and the exception that carries them to the HTTP layer.

Handlers raise :class:`ApiError` for whole-request failures so that the HTTP
plumbing has one place that turns them into a response; per-input failures in
batch calls are built with :func:`standard_error` and end up in a 207 body.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any


def correlation_id() -> str:
    """Return a fresh correlation id, as HubSpot puts on every error body."""
    return str(uuid.uuid4())


class ApiError(Exception):
    """A whole-request error: HTTP ``status`` with a HubSpot error ``body``."""

    def __init__(self, status: int, body: dict[str, Any], headers: Mapping[str, str] | None = None):
        super().__init__(body.get("message", ""))
        self.status = status
        self.body = body
        self.headers = dict(headers or {})


def error_body(
    category: str | None,
    message: str,
    *,
    context: Mapping[str, Sequence[str]] | None = None,
    sub_category: str | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Build the body HubSpot returns for a failed request (``status: "error"``)."""
    body: dict[str, Any] = {"status": "error", "message": message, "correlationId": correlation_id()}
    if category is not None:
        body["category"] = category
    if sub_category is not None:
        body["subCategory"] = sub_category
    if context:
        body["context"] = {k: list(v) for k, v in context.items()}
    if errors:
        body["errors"] = errors
    return body


def api_error(
    status: int,
    category: str | None,
    message: str,
    **kwargs: Any,
) -> ApiError:
    """Shorthand for ``ApiError(status, error_body(...))``."""
    return ApiError(status, error_body(category, message, **kwargs))


def standard_error(
    category: str,
    message: str,
    context: Mapping[str, Sequence[str]] | None = None,
    sub_category: str | None = None,
) -> dict[str, Any]:
    """One entry of a 207 body's ``errors`` list (HubSpot's ``StandardError``)."""
    item: dict[str, Any] = {"status": "error", "category": category, "message": message}
    if sub_category is not None:
        item["subCategory"] = sub_category
    item["context"] = {k: list(v) for k, v in (context or {}).items()}
    item["errors"] = []
    item["links"] = {}
    return item


def validation_message(issues: list[dict[str, Any]]) -> str:
    """HubSpot embeds the list of invalid properties as JSON inside the message string."""
    return "Property values were not valid: " + json.dumps(issues, separators=(",", ":"))


def not_found_object_type(object_type: str) -> ApiError:
    return api_error(404, "OBJECT_NOT_FOUND", f"Unable to infer object type from: {object_type}")


def java_list(values: Sequence[Any]) -> str:
    """Render a list the way HubSpot's Java services print one in messages: ``[a, b]``."""
    return "[" + ", ".join(str(v) for v in values) + "]"
