"""``dbt_sync.yml``: named destinations, alert channels and project defaults.

It lives next to ``dbt_project.yml`` (``--config`` or ``DBT_SYNC_CONFIG``
override the path) and is rendered like dbt's ``profiles.yml``:
``{{ env_var('NAME') }}`` and ``{{ env_var('NAME', 'default') }}``, and dbt's
``as_number``, ``as_bool`` and ``as_native`` filters to make a value a number,
a boolean or a YAML value instead of text (``bulk_threshold: "{{
env_var('SF_BULK_THRESHOLD', '2000') | as_number }}"``). Secrets
belong in environment variables; every secret value found here is
registered with :mod:`dbt_sync.secrets` so it is masked wherever it might
leak.

An unset ``env_var()`` without a default is an error when the file is read,
except under ``channels``: a channel is checked for shape (its ``type`` and
required keys) when the file is read, but its values are needed only to
send, so ``validate``, ``plan`` and ``run`` work on a machine that has no
``SLACK_WEBHOOK_URL``. Such a value is kept as :class:`UnsetEnvVar`; a
delivery through that channel fails with the variable's name (recorded in
``dbt_sync_alerts``, never failing the sync).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from dbt_sync import secrets
from dbt_sync.errors import ConfigError, did_you_mean, yaml_problem

CONFIG_FILE = "dbt_sync.yml"
CONFIG_ENV = "DBT_SYNC_CONFIG"

DESTINATION_TYPES = ("salesforce", "hubspot")
CHANNEL_TYPES = ("email", "slack", "webhook")
TOP_LEVEL_KEYS = ("version", "destinations", "channels", "defaults")
DEFAULT_KEYS = ("alerts", "delete_threshold", "retry_budget_seconds")
DEFAULT_ALERT_KEYS = ("channels", "failed_records", "failed_share", "remind_after_hours", "enabled")


#: keys each channel type must have (its values may come from env vars set only where alerts are sent)
CHANNEL_REQUIRED_KEYS = {"email": ("host", "from", "to"), "slack": ("webhook_url",), "webhook": ("url",)}


@dataclass(frozen=True)
class UnsetEnvVar:
    """A channel setting whose ``env_var()`` is not set here; ``message`` says which and where."""

    name: str
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class DestinationConfig:
    name: str
    type: str
    settings: Mapping[str, Any]


@dataclass(frozen=True)
class ChannelConfig:
    name: str
    type: str
    settings: Mapping[str, Any]


@dataclass(frozen=True)
class SyncConfig:
    """The rendered contents of ``dbt_sync.yml``."""

    path: Path | None
    destinations: Mapping[str, DestinationConfig] = field(default_factory=dict)
    channels: Mapping[str, ChannelConfig] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)

    def destination(self, name: str, where: str = "") -> DestinationConfig:
        try:
            return self.destinations[name]
        except KeyError:
            known = ", ".join(sorted(self.destinations)) or "none defined"
            prefix = f"{where}: " if where else ""
            raise ConfigError(
                f"{prefix}unknown destination '{name}'.{did_you_mean(name, self.destinations)} "
                f"Destinations in {self.path or CONFIG_FILE}: {known}."
            ) from None


class _Renderer:
    """Renders ``{{ env_var(...) }}`` in every string of the yaml document."""

    def __init__(self, path: Path, environ: Mapping[str, str]) -> None:
        self.path = path
        self.environ = environ
        self.env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
        self.env.filters.update(as_number=self._as_number, as_bool=self._as_bool, as_native=self._as_native)
        self.native: list[tuple[str, Any]] = []  # (text, value) the filters produced while rendering one string
        self.current_path = ""
        self.missing: str | None = None  # the env var the value being rendered lacked

    def env_var(self, name: str, default: Any = None) -> str:
        if name in self.environ:
            return self.environ[name]
        if default is not None:
            return str(default)
        self.missing = name
        raise ConfigError(
            f"{self.path}: {self.current_path}: environment variable '{name}' is not set "
            f"and env_var() was given no default. Set it, or write env_var('{name}', 'default')."
        )

    def _convert(self, value: Any, kind: str, convert: Any) -> str:
        text = str(value).strip()
        try:
            native = convert(text)
        except (ValueError, yaml.YAMLError):
            raise ConfigError(f"{self.path}: {self.current_path}: {kind} cannot read {text!r}") from None
        self.native.append((text, native))
        return text

    def _as_number(self, value: Any) -> str:
        def number(text: str) -> int | float:
            try:
                return int(text)
            except ValueError:
                return float(text)
        return self._convert(value, "as_number", number)

    def _as_bool(self, value: Any) -> str:
        def boolean(text: str) -> bool:
            if text.lower() not in ("true", "false"):
                raise ValueError(text)
            return text.lower() == "true"
        return self._convert(value, "as_bool", boolean)

    def _as_native(self, value: Any) -> str:
        return self._convert(value, "as_native", yaml.safe_load)

    def render(self, value: Any, path: str) -> Any:
        if isinstance(value, dict):
            return {k: self.render(v, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.render(v, f"{path}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, str) and "{{" in value:
            self.current_path = path
            self.missing = None
            try:
                template = self.env.from_string(value)
                self.native = []
                text = template.render(env_var=self.env_var)
                # a value that is exactly one as_number/as_bool/as_native result becomes that value, as in dbt
                if len(self.native) == 1 and text.strip() == self.native[0][0]:
                    return self.native[0][1]
                return text
            except ConfigError as exc:
                if path.startswith("channels.") and self.missing:
                    return UnsetEnvVar(self.missing, str(exc))
                raise
            except Exception as exc:  # jinja syntax or undefined names
                raise ConfigError(f"{self.path}: {path}: cannot render template: {exc}") from None
        return value


def find_config(project_dir: Path, explicit: str | os.PathLike[str] | None = None) -> Path:
    if explicit:
        return Path(explicit)
    from_env = os.environ.get(CONFIG_ENV)
    if from_env:
        return Path(from_env)
    return project_dir / CONFIG_FILE


def load_config(
    project_dir: Path,
    explicit: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    required: bool = True,
) -> SyncConfig:
    """Read, render and check ``dbt_sync.yml``; register its secrets."""
    path = find_config(project_dir, explicit)
    if not path.exists():
        if required:
            raise ConfigError(
                f"{path}: no dbt-sync config found. Create {CONFIG_FILE} next to dbt_project.yml "
                f"(or pass --config / set {CONFIG_ENV}) defining your destinations."
            )
        return SyncConfig(path=None)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {yaml_problem(exc)}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping with keys {', '.join(TOP_LEVEL_KEYS)}.")
    rendered = _Renderer(path, os.environ if environ is None else environ).render(raw, "")
    return _parse(path, rendered)


def _parse(path: Path, doc: dict[str, Any]) -> SyncConfig:
    problems: list[str] = []
    for key in doc:
        if key not in TOP_LEVEL_KEYS:
            problems.append(
                f"{key}: unknown key.{did_you_mean(str(key), TOP_LEVEL_KEYS)} Allowed: {', '.join(TOP_LEVEL_KEYS)}."
            )
    version = doc.get("version", 1)
    if version != 1:
        problems.append(f"version: {version!r} is not supported; use 1.")

    destinations = _named_entries(doc.get("destinations") or {}, "destinations", DESTINATION_TYPES, problems)
    channels = _named_entries(doc.get("channels") or {}, "channels", CHANNEL_TYPES, problems)
    defaults = doc.get("defaults") or {}
    if not isinstance(defaults, dict):
        problems.append("defaults: expected a mapping.")
        defaults = {}
    for key in defaults:
        if key not in DEFAULT_KEYS:
            problems.append(
                f"defaults.{key}: unknown key.{did_you_mean(str(key), DEFAULT_KEYS)} "
                f"Allowed: {', '.join(DEFAULT_KEYS)}."
            )
    alert_defaults = defaults.get("alerts") or {}
    if not isinstance(alert_defaults, dict):
        problems.append("defaults.alerts: expected a mapping with " + ", ".join(DEFAULT_ALERT_KEYS) + ".")
    else:
        for key in alert_defaults:
            if key not in DEFAULT_ALERT_KEYS:
                problems.append(
                    f"defaults.alerts.{key}: unknown key.{did_you_mean(str(key), DEFAULT_ALERT_KEYS)} "
                    f"Allowed: {', '.join(DEFAULT_ALERT_KEYS)}."
                )
        for i, name in enumerate(alert_defaults.get("channels") or []):
            if name not in channels:
                problems.append(
                    f"defaults.alerts.channels[{i}]: unknown channel '{name}'.{did_you_mean(str(name), channels)}"
                )
        _check_value(alert_defaults, "failed_share", "defaults.alerts", problems)
        _check_value(alert_defaults, "failed_records", "defaults.alerts", problems)
        _check_value(alert_defaults, "remind_after_hours", "defaults.alerts", problems)
        _check_value(alert_defaults, "enabled", "defaults.alerts", problems)
    _check_value(defaults, "delete_threshold", "defaults", problems)
    _check_value(defaults, "retry_budget_seconds", "defaults", problems)
    if len(problems) == 1:
        raise ConfigError(f"{path}: invalid dbt-sync config: {problems[0]}")
    if problems:
        raise ConfigError(f"{path}: invalid dbt-sync config:\n" + "\n".join(f"  - {p}" for p in problems))

    secrets.register(_secret_values(doc))
    return SyncConfig(
        path=path,
        destinations={n: DestinationConfig(n, s["type"], s) for n, s in destinations.items()},
        channels={n: ChannelConfig(n, s["type"], s) for n, s in channels.items()},
        defaults=defaults,
    )


#: what each value of ``defaults`` may be: a check and what is allowed
_VALUE_RULES: dict[str, tuple[Any, str]] = {
    "failed_share": (lambda v: _number(v) and 0 <= v <= 1, "a share between 0 and 1 (e.g. 0.05 for 5%)"),
    "delete_threshold": (lambda v: _number(v) and 0 <= v <= 1, "a share between 0 and 1 (e.g. 0.5 for 50%)"),
    "failed_records": (lambda v: _number(v) and isinstance(v, int) and v >= 0, "a whole number >= 0"),
    "remind_after_hours": (lambda v: _number(v) and v > 0, "a positive number of hours"),
    "retry_budget_seconds": (lambda v: _number(v) and v > 0, "a positive number of seconds"),
    "enabled": (lambda v: isinstance(v, bool), "true or false"),
}


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_value(section: Mapping[str, Any], key: str, where: str, problems: list[str]) -> None:
    """A value of ``defaults`` that would be ignored or break a run is a problem, not silently dropped."""
    if key not in section or section[key] is None:
        return
    check, allowed = _VALUE_RULES[key]
    if not check(section[key]):
        problems.append(f"{where}.{key}: expected {allowed}, got {section[key]!r}.")


def _named_entries(section: Any, label: str, types: tuple[str, ...], problems: list[str]) -> dict[str, dict[str, Any]]:
    if not isinstance(section, dict):
        problems.append(f"{label}: expected a mapping of name -> settings.")
        return {}
    out: dict[str, dict[str, Any]] = {}
    for name, settings in section.items():
        where = f"{label}.{name}"
        if not isinstance(settings, dict):
            problems.append(f"{where}: expected a mapping with at least 'type'.")
            continue
        kind = settings.get("type")
        if isinstance(kind, UnsetEnvVar) or kind not in types:
            hint = did_you_mean(str(kind), types) if kind else ""
            problems.append(f"{where}.type: {kind!r} is not supported.{hint} Allowed: {', '.join(types)}.")
            continue
        if label == "channels":
            missing = [k for k in CHANNEL_REQUIRED_KEYS.get(str(kind), ()) if settings.get(k) in (None, "", [])]
            if missing:
                problems.append(f"{where}: a channel of type {kind} needs {', '.join(missing)}.")
                continue
        out[str(name)] = dict(settings)
    return out


def _secret_values(value: Any, key: str = "") -> list[str]:
    found: list[str] = []
    if isinstance(value, dict):
        for k, v in value.items():
            found += _secret_values(v, str(k))
    elif isinstance(value, list):
        for v in value:
            found += _secret_values(v, key)
    elif isinstance(value, str) and key and secrets.is_secret_key(key):
        found.append(value)
    return found
