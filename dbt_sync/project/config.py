"""``dbt_sync.yml``: named destinations, alert channels and project defaults.

It lives next to ``dbt_project.yml`` (``--config`` or ``DBT_SYNC_CONFIG``
override the path) and is rendered as dbt renders ``profiles.yml``:
``{{ env_var('NAME') }}`` and ``{{ env_var('NAME', 'default') }}``, and dbt's
``as_number``, ``as_bool``, ``as_native`` and ``as_text`` filters to make a
value a number, a boolean or a Python literal instead of text (``bulk_threshold:
"{{ env_var('SF_BULK_THRESHOLD', '2000') | as_number }}"``), with dbt's rules
(:func:`_native_value`). Secrets belong in environment variables; every secret
value found here, and every ``DBT_ENV_SECRET*`` value of the environment, is
registered with :mod:`dbt_sync.secrets` so it is masked wherever it might leak.

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
import re
import warnings
from ast import literal_eval
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from itertools import chain, islice
from pathlib import Path
from typing import Any

import yaml
from jinja2 import StrictUndefined
from jinja2.nativetypes import NativeCodeGenerator
from jinja2.sandbox import SandboxedEnvironment
from pydantic import ValidationError

from dbt_sync import secrets
from dbt_sync.errors import ConfigError, did_you_mean, yaml_problem
from dbt_sync.project.models import CHANNEL_REQUIRED_KEYS, DbtSyncFile, problems_of

CONFIG_FILE = "dbt_sync.yml"
CONFIG_ENV = "DBT_SYNC_CONFIG"

TOP_LEVEL_KEYS = ("version", "destinations", "channels", "defaults", "report_url", "opentelemetry")


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
    #: where the ``dbt-sync report`` page is published (alerts link to ``<report_url>#sync-<name>``)
    report_url: str | None = None
    #: ``opentelemetry``: OTLP export settings (dbt_sync/telemetry.py); empty: the environment's only
    opentelemetry: Mapping[str, Any] = field(default_factory=dict)

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


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key given twice in one mapping (YAML 1.2 requires unique keys;
    PyYAML keeps the last silently, so a second ``destinations:`` would drop the first without a word)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Mark] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, (str, int, float, bool)) and key in seen:
                first = seen[key]
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is given twice (first on line {first.line + 1}); keep one",
                    key_node.start_mark,
                )
            if isinstance(key, (str, int, float, bool)):
                seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


def secret_env_name(name: str) -> bool:
    """An environment variable whose value is a secret wherever it is used: dbt's ``DBT_ENV_SECRET*``
    (:data:`dbt_sync.secrets.SECRET_ENV_PREFIX`) or a name ending like a secret key (``..._PASSWORD``,
    ``..._TOKEN``, ``..._SECRET``, ``..._KEY``)."""
    return name.upper().startswith(secrets.SECRET_ENV_PREFIX) or secrets.is_secret_key(name)


# dbt's native rendering of profiles.yml (dbt_common.clients.jinja: NATIVE_FILTERS, quoted_native_concat),
# rebuilt on jinja2's own native code generator: importing dbt's Jinja module costs most of a second.


class _TextMarker(str):
    """``as_text``: the value stays text."""


class _NativeMarker(str):
    """``as_native``: the value becomes the Python literal it spells (``ast.literal_eval``), else stays text."""


class _BoolMarker(_NativeMarker):
    """``as_bool``: the value must spell ``True`` or ``False``."""


class _NumberMarker(_NativeMarker):
    """``as_number``: the value must spell an int or a float."""


_FILTERS = {"as_text": _TextMarker, "as_native": _NativeMarker, "as_bool": _BoolMarker, "as_number": _NumberMarker}
_FILTER_OF = {_BoolMarker: "as_bool", _NumberMarker: "as_number", _NativeMarker: "as_native"}


class _NativeEnvironment(SandboxedEnvironment):
    """A sandboxed Jinja environment whose templates yield their output nodes as Python values."""

    code_generator_class = NativeCodeGenerator


def _native_value(nodes: Iterator[Any]) -> Any:
    """The value of one rendered setting, by dbt's rule for profiles.yml.

    One output node: a marker from ``as_native`` / ``as_bool`` / ``as_number`` becomes
    ``ast.literal_eval`` of its text (``as_bool`` must give a bool, ``as_number`` an int
    or a float, else :class:`ValueError`); ``as_text`` stays text; any other value is kept
    as it is (``env_var()`` gives text). Several nodes (text around the expression, or two
    expressions) are joined into text, filters or not.
    """
    head = list(islice(nodes, 2))
    if not head:
        return ""
    if len(head) > 1:
        return "".join(str(v) for v in chain(head, nodes))
    raw = head[0]
    if isinstance(raw, _TextMarker):
        return str(raw)
    if not isinstance(raw, _NativeMarker):
        return raw
    try:
        with warnings.catch_warnings():  # "invalid decimal literal" and the like: the value just stays text
            warnings.simplefilter("ignore", SyntaxWarning)
            result = literal_eval(raw)
    except (ValueError, SyntaxError, MemoryError):
        result = str(raw)
    if isinstance(raw, _BoolMarker) and not isinstance(result, bool):
        raise _FilterError("as_bool", str(raw), "True or False (as in dbt's profiles.yml)")
    if isinstance(raw, _NumberMarker) and (isinstance(result, bool) or not isinstance(result, (int, float))):
        raise _FilterError("as_number", str(raw), "an integer or a decimal number")
    return result


class _FilterError(ValueError):
    """A value ``as_bool`` / ``as_number`` cannot convert."""

    def __init__(self, name: str, raw: str, allowed: str) -> None:
        super().__init__(f"{name} cannot read {raw!r}: it takes {allowed}")
        self.name, self.allowed = name, allowed


class _Renderer:
    """Renders every string of the yaml document as dbt renders ``profiles.yml``.

    ``{{ env_var('NAME') }}`` / ``{{ env_var('NAME', 'default') }}``, dbt's
    ``as_text``, ``as_bool``, ``as_number`` and ``as_native`` filters (:func:`_native_value`),
    in a sandbox. A value read from a secret environment variable (:func:`secret_env_name`)
    is registered with :mod:`dbt_sync.secrets` when read, and so is the whole rendered
    setting it went into (a filter such as ``upper`` must not give it away).
    """

    def __init__(self, path: Path, environ: Mapping[str, str]) -> None:
        self.path = path
        self.environ = environ
        self.env = _NativeEnvironment(undefined=StrictUndefined, autoescape=False)
        self.env.filters.update(_FILTERS)
        self.current_path = ""
        self.missing: str | None = None  # the env var the value being rendered lacked
        self.read_secret = False  # the value being rendered read a secret environment variable

    def env_var(self, name: str, default: Any = None) -> str:
        if name in self.environ:
            value = self.environ[name]
            if secret_env_name(name):
                # masked from here on, even where a mistake puts it under another key (`auth: {{ env_var(...) }}`)
                secrets.register([value], with_host=True)
                self.read_secret = True
            return value
        if default is not None:
            return str(default)
        self.missing = name
        raise ConfigError(
            f"{self.path}: {self.current_path}: environment variable '{name}' is not set "
            f"and env_var() was given no default. Set it, or write env_var('{name}', 'default')."
        )

    def render(self, value: Any, path: str) -> Any:
        if isinstance(value, dict):
            return {k: self.render(v, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.render(v, f"{path}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, str) and _RENDER_CHARS.search(value):
            self.current_path = path
            self.missing = None
            self.read_secret = False
            try:
                template = self.env.from_string(value)
                rendered = _native_value(template.root_render_func(template.new_context({"env_var": self.env_var})))
            except ConfigError as exc:
                if path.startswith("channels.") and self.missing:
                    return UnsetEnvVar(self.missing, str(exc))
                raise
            except _FilterError as exc:  # a filter's value that is not what the filter takes
                if self.read_secret:  # the text may be a secret changed by other filters: not quoted
                    raise ConfigError(
                        f"{self.path}: {path}: {exc.name} cannot read the value of a secret environment "
                        f"variable (not shown): it takes {exc.allowed}"
                    ) from None
                raise ConfigError(f"{self.path}: {path}: {exc}") from None
            except Exception as exc:  # jinja syntax or undefined names
                raise ConfigError(f"{self.path}: {path}: cannot render template: {exc}") from None
            if self.read_secret and isinstance(rendered, (str, int, float)) and not isinstance(rendered, bool):
                secrets.register([str(rendered)], with_host=True)
            return rendered
        return value


#: a string dbt would render (dbt_common's ``_HAS_RENDER_CHARS_PAT``)
_RENDER_CHARS = re.compile(r"({[{%#]|[#}%]})")


def render_document(doc: Any, path: Path, environ: Mapping[str, str] | None = None) -> Any:
    """``doc`` (parsed YAML) with every string rendered as dbt renders ``profiles.yml`` (see :class:`_Renderer`).

    ``path``: the file, for messages; ``environ``: default ``os.environ``. Raises
    :class:`~dbt_sync.errors.ConfigError` naming the file and yaml path.
    """
    return _Renderer(path, os.environ if environ is None else environ).render(doc, "")


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
    """Read, render and check ``dbt_sync.yml``; register its secrets (and every ``DBT_ENV_SECRET*`` value of
    ``environ``, default ``os.environ``, as dbt does)."""
    secrets.register_env(environ)
    path = find_config(project_dir, explicit)
    if not path.exists():
        if required:
            raise ConfigError(
                f"{path}: no dbt-sync config found. Create {CONFIG_FILE} next to dbt_project.yml "
                f"(or pass --config / set {CONFIG_ENV}) defining your destinations."
            )
        return SyncConfig(path=None)
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # a SafeLoader
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {yaml_problem(exc)}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping with keys {', '.join(TOP_LEVEL_KEYS)}.")
    rendered = render_document(raw, path, environ)
    return _parse(path, rendered)


def _parse(path: Path, doc: dict[str, Any]) -> SyncConfig:
    secrets.register(_secret_values(doc))  # before any message can quote a value
    otel = doc.get("opentelemetry")
    if isinstance(otel, dict) and isinstance(otel.get("headers"), dict):
        secrets.register(str(v) for v in otel["headers"].values())  # credentials of the collector
    problems = validate_document(doc)
    if len(problems) == 1:
        raise ConfigError(f"{path}: invalid dbt-sync config: {problems[0]}")
    if problems:
        raise ConfigError(f"{path}: invalid dbt-sync config:\n" + "\n".join(f"  - {p}" for p in problems))

    destinations = doc.get("destinations") or {}
    channels = doc.get("channels") or {}
    return SyncConfig(
        path=path,
        destinations={str(n): DestinationConfig(str(n), s["type"], dict(s)) for n, s in destinations.items()},
        channels={str(n): ChannelConfig(str(n), s["type"], dict(s)) for n, s in channels.items()},
        defaults=doc.get("defaults") or {},
        report_url=doc.get("report_url") or None,
        opentelemetry={k: v for k, v in (doc.get("opentelemetry") or {}).items() if v is not None and v != ""},
    )


def validate_document(doc: Mapping[str, Any]) -> list[str]:
    """Every problem of a rendered ``dbt_sync.yml``, each ``"<yaml path>: <what is wrong and allowed>"``.

    Shape and values are checked against :class:`dbt_sync.project.models.DbtSyncFile`;
    each destination entry that has the right shape is then checked by its
    destination's ``parse_config`` (the rules between keys: which
    credentials an ``auth`` flow takes, ...), so that nothing building the
    destination at run time would reject passes here.
    """
    problems: list[str] = []
    checked = dict(doc)
    version = checked.pop("version", 1)
    if version != 1:
        problems.append(f"version: {version!r} is not supported; use 1.")
    for label in ("destinations", "channels"):
        if checked.get(label) is not None and not isinstance(checked[label], dict):
            problems.append(f"{label}: expected a mapping of name -> settings.")
            checked.pop(label)
    channels = dict(checked.get("channels") or {})
    for name, settings in list(channels.items()):
        if isinstance(settings, dict):
            missing = [k for k in CHANNEL_REQUIRED_KEYS.get(str(settings.get("type")), ())
                       if settings.get(k) in (None, "", [])]
            if missing:
                problems.append(f"channels.{name}: a channel of type {settings['type']} needs {', '.join(missing)}.")
                channels.pop(name)
                continue
            channels[name] = _without_unset(settings)
    if "channels" in checked:
        checked["channels"] = channels
    located: list[tuple[str, str]] = []
    try:
        DbtSyncFile.model_validate(checked)
    except ValidationError as exc:
        located = problems_of(exc)
    bad_entries = {".".join(p.split(".")[:2]) for p, _ in located}
    problems += [f"{p}: {m}" for p, m in located]
    defaults = doc.get("defaults")
    alert_defaults = defaults.get("alerts") if isinstance(defaults, dict) else None
    names = doc["channels"] if isinstance(doc.get("channels"), dict) else {}
    if isinstance(alert_defaults, dict) and isinstance(alert_defaults.get("channels"), list):
        for i, name in enumerate(alert_defaults["channels"]):
            if isinstance(name, str) and name not in names:  # not a string: the model said so
                problems.append(
                    f"defaults.alerts.channels[{i}]: unknown channel '{name}'.{did_you_mean(str(name), names)}"
                )
    destinations = checked.get("destinations") or {}
    for name, settings in destinations.items():
        if f"destinations.{name}" in bad_entries or not isinstance(settings, dict):
            continue
        problem = destination_problem(str(name), settings)
        if problem is not None:
            problems.append(f"destinations.{name}: {problem}")
    return problems


def destination_problem(name: str, settings: Mapping[str, Any]) -> str | None:
    """What the destination's own ``parse_config`` rejects in a well-shaped entry, or None.

    Imported lazily: the destination packages import this module.
    """
    from dbt_sync.destinations.base import DestinationError

    kind = settings.get("type")
    try:
        if kind == "salesforce":
            from dbt_sync.destinations.salesforce.config import parse_config as parse_salesforce

            parse_salesforce(name, settings)
        elif kind == "hubspot":
            from dbt_sync.destinations.hubspot.config import parse_config as parse_hubspot

            parse_hubspot(name, settings)
    except DestinationError as exc:
        text = str(exc)
        for prefix in (f"destination '{name}': ", f"destination {name!r}: "):
            text = text.removeprefix(prefix)
        return text
    return None


def _without_unset(settings: Mapping[str, Any]) -> dict[str, Any]:
    """A channel's settings to validate: values of unset ``env_var()`` are needed only to send, so left out
    (a required one is kept as a placeholder string: it is there, just not known here)."""
    required = CHANNEL_REQUIRED_KEYS.get(str(settings.get("type")), ())
    out: dict[str, Any] = {}
    for key, value in settings.items():
        if isinstance(value, UnsetEnvVar):
            if key in required:  # a stand-in of the right shape
                out[key] = "https://env-var.invalid/" if key.endswith("url") else f"<{value.name}>"
            elif key == "type":
                out[key] = value
            continue
        out[key] = value
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
