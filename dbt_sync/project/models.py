"""Typed models of ``dbt_sync.yml`` (pydantic v2), validated once, when the file is read.

Every model forbids keys it does not declare (``extra="forbid"``), so a
typo such as ``acess_token`` or ``hots`` is an error naming the yaml path,
with a did-you-mean, instead of a key nobody reads. Destinations and
channels are discriminated unions on ``type``: each type has its own model
(:class:`SalesforceSettings`, :class:`HubSpotSettings`,
:class:`EmailChannel`, :class:`SlackChannel`, :class:`WebhookChannel`).

The models check shape and values; the rules that tie several keys of a
destination together (which credentials an ``auth`` flow needs, a My
Domain for ``client_credentials``, ...) stay with the destination's
``parse_config``, which :func:`dbt_sync.project.config.load_config` calls on
each entry so that reading the file rejects everything building the
destination would. ``docs/dbt_sync.schema.json`` is generated from
:class:`DbtSyncFile` by :func:`json_schema`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.functional_validators import BeforeValidator
from pydantic_core import ErrorDetails, PydanticCustomError

from dbt_sync.errors import did_you_mean

SCHEMA_ID = "https://github.com/dbt-sync/dbt-sync/docs/dbt_sync.schema.json"

_HOST = re.compile(r"(?=.{1,253}$)[A-Za-z0-9_-]{1,63}(\.[A-Za-z0-9_-]{1,63})*\.?")

#: secret-looking keys: their values never appear in an error message
_SECRET_HINTS = ("password", "secret", "token", "key", "session", "webhook_url")


class Strict(BaseModel):
    """Base of every model here: unknown keys are errors; numbers, booleans and strings are not coerced."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True, frozen=True)


def _rule(check: Any, allowed: str, null: bool = True) -> Any:
    """A before-validator that keeps the file's historic wording: ``expected <allowed>, got <value>.``

    ``null``: whether an explicit null (``key:`` with no value) is allowed (it means "the default").
    """

    def validate(value: Any) -> Any:
        if (value is not None or not null) and not check(value):
            raise PydanticCustomError("dbt_sync_value", "expected {allowed}, got {got}.",
                                      {"allowed": allowed, "got": repr(value)})
        return value

    return BeforeValidator(validate)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


Share = Annotated[
    Annotated[float, Field(ge=0, le=1)] | None,
    _rule(lambda v: _number(v) and 0 <= v <= 1, "a share between 0 and 1 (e.g. 0.05 for 5%)"),
]
DeleteShare = Annotated[
    Annotated[float, Field(ge=0, le=1)] | None,
    _rule(lambda v: _number(v) and 0 <= v <= 1, "a share between 0 and 1 (e.g. 0.5 for 50%)"),
]
WholeCount = Annotated[
    Annotated[int, Field(ge=0)] | None,
    _rule(lambda v: _number(v) and isinstance(v, int) and v >= 0, "a whole number >= 0"),
]
Hours = Annotated[
    Annotated[float, Field(gt=0)] | None, _rule(lambda v: _number(v) and v > 0, "a positive number of hours")
]
Seconds = Annotated[
    Annotated[float, Field(gt=0)] | None, _rule(lambda v: _number(v) and v > 0, "a positive number of seconds")
]
Flag = Annotated[bool | None, _rule(lambda v: isinstance(v, bool), "true or false")]


def _numeric_text(value: Any, strict: bool = False) -> bool:
    """What a channel's number setting may be: a number >= 0 (> 0 when ``strict``), or text that reads as one
    (``port: '587'``)."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return False
    return _number(value) and (value > 0 if strict else value >= 0)


#: a PEM file of CA certificates to trust; empty: the system's
CaBundle = Annotated[
    str | None, _rule(lambda v: isinstance(v, str) and (v == "" or os.path.isfile(v)), "the path of an existing file")
]

#: a host name or an IP address (smtplib cannot connect to anything else, e.g. an empty label in ``smtp..example``)
HostName = Annotated[str, _rule(
    lambda v: isinstance(v, str) and (_HOST.fullmatch(v) is not None or ":" in v), "a host name or an IP address",
    null=False,
)]

#: an http(s) URL (requests refuses anything else)
def _http_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError:
        return False
    host = parts.hostname or ""
    return parts.scheme in ("http", "https") and (_HOST.fullmatch(host) is not None or ":" in host)


HttpUrl = Annotated[str, _rule(_http_url, "an http:// or https:// URL", null=False)]

#: a channel's number setting (read with ``float()`` when sending)
ChannelNumber = Annotated[float | str | None, _rule(_numeric_text, "a number >= 0", null=False)]
#: a channel's timeout: requests and smtplib refuse 0
ChannelTimeout = Annotated[
    float | str | None, _rule(lambda v: _numeric_text(v, strict=True), "a number of seconds > 0", null=False)
]


def _report_url(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(("https://", "http://")) and "#" not in value


def _address_list(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))


# -- destinations --------------------------------------------------------------------------------------------------


class SalesforceSettings(Strict):
    """A ``type: salesforce`` entry: ``auth`` names the login flow, its credentials sit next to it.

    Which credentials each flow takes is checked by
    :func:`dbt_sync.destinations.salesforce.config.parse_config`.
    """

    type: Literal["salesforce"]
    auth: Literal["password", "client_credentials", "jwt", "session"]
    username: str | None = None
    password: str | None = None
    security_token: str | None = None
    consumer_key: str | None = None
    consumer_secret: str | None = None
    private_key: str | None = None
    private_key_file: str | None = None
    session_id: str | None = None
    instance_url: str | None = None
    domain: str | None = None
    login_url: str | None = None
    ca_bundle: CaBundle = None
    api_version: str | float | None = Field(default=None, description="e.g. '59.0'; 46.0 or newer")
    bulk_threshold: int | bool | None = Field(
        default=None, description="records above which a batch goes through Bulk API 2.0; false: never (default 2000)"
    )
    bulk_timeout: float | None = Field(default=None, description="seconds a Bulk job may take (default 3600)")
    timeout: float | None = Field(default=None, description="seconds per HTTP request (default 120)")
    concurrency: int | None = Field(default=None, ge=1, description="sObject Collections requests at once")


class HubSpotSettings(Strict):
    """A ``type: hubspot`` entry: a private app ``access_token``, or OAuth keys."""

    type: Literal["hubspot"]
    access_token: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    refresh_token: str | None = None
    host: str | None = None
    tier: Literal["free", "starter", "professional", "enterprise", "api_add_on"] | None = None
    rate_limit: int | None = Field(default=None, gt=0, description="requests per 10 s (default: by tier)")
    timeout: float | None = Field(default=None, gt=0, description="seconds per HTTP request (default 60)")
    ca_bundle: CaBundle = None


DestinationSettings = Annotated[SalesforceSettings | HubSpotSettings, Field(discriminator="type")]

# -- alert channels ------------------------------------------------------------------------------------------------


class _Channel(Strict):
    """Settings every channel type takes (see ``dbt_sync.alerts.channels.base``)."""

    timeout_seconds: ChannelTimeout = None
    attempts: ChannelNumber = None
    backoff_seconds: ChannelNumber = None
    ca_bundle: CaBundle = None
    verify_tls: bool | None = None


class EmailChannel(_Channel):
    """``type: email``: SMTP with ``security`` starttls (default, port 587), tls (465) or none (25)."""

    type: Literal["email"]
    host: HostName
    port: ChannelNumber = None
    security: Literal["starttls", "tls", "none"] | None = None
    username: str | None = None
    password: str | None = None
    from_: str = Field(alias="from")
    to: Annotated[str | list[str], _rule(_address_list, "an address or a list of addresses")]
    subject_prefix: str | None = None


class SlackChannel(_Channel):
    """``type: slack``: a Slack incoming webhook (a secret)."""

    type: Literal["slack"]
    webhook_url: HttpUrl


#: lifecycle events a webhook channel can receive (opt-in, ``channels.<name>.events``); see docs/alerts.md
LIFECYCLE_EVENTS = ("run.completed", "sync.completed")
LifecycleEvent = Literal["run.completed", "sync.completed"]


class WebhookChannel(_Channel):
    """``type: webhook``: a signed JSON POST."""

    type: Literal["webhook"]
    url: HttpUrl
    secret: str | None = None
    headers: dict[str, str] | None = None
    events: Annotated[
        list[LifecycleEvent] | None,
        _rule(lambda v: not isinstance(v, list) or len({str(e) for e in v}) == len(v),
              "each event at most once (run.completed, sync.completed)"),
    ] = Field(
        default=None,
        description="Lifecycle events to POST to this channel besides alerts, signed as alerts are: "
        "run.completed (once per run, every sync's figures), sync.completed (as each sync ends). "
        "Default: none.",
    )


ChannelSettings = Annotated[EmailChannel | SlackChannel | WebhookChannel, Field(discriminator="type")]

#: keys each channel type must have (its values may come from env vars set only where alerts are sent)
CHANNEL_REQUIRED_KEYS = {"email": ("host", "from", "to"), "slack": ("webhook_url",), "webhook": ("url",)}

# -- defaults and the file -----------------------------------------------------------------------------------------


class AlertDefaults(Strict):
    """``defaults.alerts``: each sync's ``alerts`` falls back to these."""

    channels: list[str] | None = None
    failed_records: WholeCount = None
    failed_share: Share = None
    remind_after_hours: Hours = None
    enabled: Flag = None


class Defaults(Strict):
    alerts: AlertDefaults | None = None
    delete_threshold: DeleteShare = None
    retry_budget_seconds: Seconds = None


def _empty_is_unset(value: Any) -> Any:
    """An empty value (``"{{ env_var('OTEL_COLLECTOR_URL', '') }}"`` with the variable unset) is no setting,
    as the OpenTelemetry SDK reads an empty ``OTEL_EXPORTER_OTLP_ENDPOINT``."""
    return None if isinstance(value, str) and not value.strip() else value


class OpenTelemetrySettings(Strict):
    """``opentelemetry``: export each run's traces and metrics over OTLP/HTTP (docs/observability.md).

    The OpenTelemetry SDK's own variables (``OTEL_EXPORTER_OTLP_ENDPOINT``,
    ``OTEL_EXPORTER_OTLP_HEADERS``, ``OTEL_EXPORTER_OTLP_TIMEOUT``, ...) win over these.
    """

    endpoint: Annotated[HttpUrl | None, BeforeValidator(_empty_is_unset)] = Field(
        default=None,
        description="OTLP/HTTP base URL of the collector, e.g. http://localhost:4318 (/v1/traces and /v1/metrics "
        "are appended)",
    )
    headers: dict[str, str] | None = Field(
        default=None, description="HTTP headers of every export request (e.g. an API key, from env_var()); secret"
    )
    timeout_seconds: Seconds = Field(
        default=None, description="seconds an export request, and the flush at a run's end, may take (default 5)"
    )


class DbtSyncFile(Strict):
    """The whole of ``dbt_sync.yml``."""

    model_config = ConfigDict(title="dbt_sync.yml", json_schema_extra={"$id": SCHEMA_ID})

    version: Annotated[int | None, _rule(lambda v: v == 1, "1")] = None
    destinations: dict[str, DestinationSettings] | None = None
    channels: dict[str, ChannelSettings] | None = None
    defaults: Defaults | None = None
    report_url: Annotated[str | None, _rule(_report_url, "an http(s) URL without a #fragment")] = Field(
        default=None,
        description="Where the `dbt-sync report` page is published; alerts link to <report_url>#sync-<name>.",
    )
    opentelemetry: OpenTelemetrySettings | None = None


DESTINATION_MODELS: dict[str, type[Strict]] = {"salesforce": SalesforceSettings, "hubspot": HubSpotSettings}
CHANNEL_MODELS: dict[str, type[Strict]] = {"email": EmailChannel, "slack": SlackChannel, "webhook": WebhookChannel}
DESTINATION_TYPES = tuple(DESTINATION_MODELS)
CHANNEL_TYPES = tuple(CHANNEL_MODELS)

# -- errors --------------------------------------------------------------------------------------------------------


def _allowed_keys(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


def _model_at(root: type[BaseModel], loc: Sequence[int | str]) -> tuple[type[BaseModel] | None, list[str]]:
    """The model a location points into, and the location as yaml keys (union tags dropped)."""
    model: type[BaseModel] | None = root
    path: list[str] = []
    i = 0
    while i < len(loc):
        part = loc[i]
        path.append(str(part))
        if model is root and part in ("destinations", "channels") and i + 1 < len(loc):
            path.append(str(loc[i + 1]))
            tag = loc[i + 2] if i + 2 < len(loc) else None
            table = DESTINATION_MODELS if part == "destinations" else CHANNEL_MODELS
            if isinstance(tag, str) and tag in table:
                model = table[tag]
                i += 3
            else:
                model = None
                i += 2
            continue
        field = model.model_fields.get(str(part)) if model is not None else None
        if field is None and model is not None:
            field = next((f for f in model.model_fields.values() if f.alias == part), None)
        inner = field.annotation if field is not None else None
        model = next((t for t in getattr(inner, "__args__", (inner,)) if isinstance(t, type)
                      and issubclass(t, BaseModel)), None)
        i += 1
    return model, path


def _yaml_path(parts: Sequence[str]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if part.isdigit() and out else (f".{part}" if out else part)
    return out


def _is_secret(key: str) -> bool:
    return any(hint in key.lower() for hint in _SECRET_HINTS)


def problems_of(error: ValidationError, root: type[BaseModel] | None = None) -> list[tuple[str, str]]:
    """Each error of ``error`` as ``(yaml path, message)``: what is wrong and what is allowed; secrets not shown.

    ``root``: the model ``error`` came from (default :class:`DbtSyncFile`).
    """
    root = root or DbtSyncFile
    out: dict[str, str] = {}
    for detail in error.errors():
        path, message = _describe(root, detail)
        out.setdefault(path, message)
    return list(out.items())


def _describe(root: type[BaseModel], detail: ErrorDetails) -> tuple[str, str]:
    loc = detail["loc"]
    kind = detail["type"]
    if kind == "extra_forbidden":
        model, parts = _model_at(root, loc[:-1])
        key = str(loc[-1])
        allowed = _allowed_keys(model) if model is not None else []
        path = _yaml_path([*parts, key])
        return path, f"unknown key.{did_you_mean(key, allowed)} Allowed: {', '.join(allowed)}."
    model, parts = _model_at(root, loc)
    path = _yaml_path(parts)
    key = parts[-1] if parts else ""
    value = detail.get("input")
    shown = "a secret" if _is_secret(key) else repr(value)
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        types = DESTINATION_TYPES if parts[:1] == ["destinations"] else CHANNEL_TYPES
        tag = value.get("type") if isinstance(value, Mapping) else None
        return f"{path}.type", (f"{tag!r} is not supported.{did_you_mean(str(tag), types) if tag else ''} "
                                f"Allowed: {', '.join(types)}.")
    if kind == "literal_error":
        expected = [str(v) for v in (detail.get("ctx") or {}).get("expected", "").replace("'", "").split(" or ")]
        choices = [c.strip() for e in expected for c in e.split(",") if c.strip()]
        hint = did_you_mean(str(value), choices) if isinstance(value, str) and not _is_secret(key) else ""
        return path, f"{shown} is not allowed.{hint} Allowed: {', '.join(choices)}."
    if kind == "missing":
        return path, "required."
    if kind == "dbt_sync_value":
        ctx = detail.get("ctx") or {}
        if _is_secret(key) and "allowed" in ctx:
            return path, f"expected {ctx['allowed']}, got a secret."
        return path, detail["msg"]
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return path, "expected a mapping."
    if kind == "string_type":
        return path, f"expected a string, got {shown}."
    if kind in ("int_type", "float_type", "bool_type", "int_from_float"):
        noun = {"int_type": "a whole number", "int_from_float": "a whole number", "float_type": "a number",
                "bool_type": "true or false"}[kind]
        return path, f"expected {noun}, got {shown}."
    return path, f"{detail['msg']} (got {shown})."


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of ``dbt_sync.yml``, for editors (``docs/dbt_sync.schema.json``).

    Wherever the file takes a number or a boolean it may also hold a
    ``{{ env_var(...) }}`` template, rendered before validation; the schema
    allows such a string there.
    """
    schema = DbtSyncFile.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return _allow_templates(schema)


_TEMPLATE = {"type": "string", "pattern": r"\{\{.*\}\}"}


def _allow_templates(node: Any) -> Any:
    if isinstance(node, list):
        return [_allow_templates(n) for n in node]
    if not isinstance(node, dict):
        return node
    node = {k: _allow_templates(v) for k, v in node.items()}
    kind = node.get("type")
    if kind in ("integer", "number", "boolean") or (("enum" in node or "const" in node) and kind == "string"):
        scalar = {k: v for k, v in node.items() if k not in ("title", "description", "default")}
        kept = {k: v for k, v in node.items() if k in ("title", "description", "default")}
        return {**kept, "anyOf": [scalar, _TEMPLATE]}
    return node


def schema_text() -> str:
    """``json_schema()`` as the committed file holds it (sorted keys, 2-space indent, trailing newline)."""
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"
