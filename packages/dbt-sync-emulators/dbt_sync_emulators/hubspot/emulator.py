"""The public face of the HubSpot emulator: start/stop, seeding, inspection.

Tests (and dbt-sync's own end-to-end runs) talk to it with the real
hubspot-api-client over loopback HTTP, and use the methods here to arrange
state and check what arrived, without going through the API themselves.
"""

from __future__ import annotations

import secrets
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .associations import AssociationGraph, AssociationTypes
from .auth import Auth
from .errors import ApiError
from .faults import Faults
from .objects import ObjectHandlers
from .properties_api import PropertyHandlers
from .ratelimit import DEFAULT_DAILY_LIMIT, RateLimiter
from .schema import PropertyDef, make_options
from .server import EmulatorHTTPServer
from .settings import EmulatorSettings
from .store import Store
from .v4 import AssociationHandlers


@dataclass(frozen=True)
class EmulatorStats:
    """A snapshot of traffic: total requests and how many got each status (0 = dropped)."""

    requests: int
    by_status: dict[int, int] = field(default_factory=dict)

    @property
    def rate_limited(self) -> int:
        return self.by_status.get(429, 0)

    def count(self, status: int) -> int:
        return self.by_status.get(status, 0)

    def __getitem__(self, key: int | str) -> int:
        """``stats["requests"]`` or ``stats[429]``."""
        if key == "requests":
            return self.requests
        if key in ("rate_limited", "429s"):
            return self.rate_limited
        return self.by_status.get(int(key), 0)


class HubSpotEmulator:
    """A local HubSpot CRM API on 127.0.0.1, good enough for hubspot-api-client to not notice."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        rate_limit: int = 190,
        rate_interval: float = 10.0,
        daily_limit: int = DEFAULT_DAILY_LIMIT,
        settings: EmulatorSettings | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.settings = settings or EmulatorSettings()
        self.token = "pat-na1-emulator-" + secrets.token_hex(8)
        self.faults = Faults()
        self.auth = Auth()
        self.auth.add_token(self.token)
        self._limits = (rate_limit, rate_interval, daily_limit)
        self.limiter = RateLimiter(rate_limit, rate_interval, daily_limit, self.settings.search_rate_limit)
        self._log_lock = threading.Lock()
        self._log: list[tuple[str, str, int]] = []
        self._status: Counter[int] = Counter()
        self._stopping = threading.Event()
        self._server: EmulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._build_state()

    def _build_state(self) -> None:
        self.store = Store()
        self.graph = AssociationGraph(AssociationTypes())
        self._objects = ObjectHandlers(self.store, self.graph, self.settings)
        self._assoc = AssociationHandlers(self.store, self.graph, self.settings)
        self._props = PropertyHandlers(self.store)

    # ---- lifecycle ----------------------------------------------------------------------

    def start(self) -> HubSpotEmulator:
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = EmulatorHTTPServer((self.host, self.port), self)
        self.port = self._server.server_address[1]
        # A short poll interval keeps stop() (and so each test's teardown) fast.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="hubspot-emulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> HubSpotEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # ---- credentials -----------------------------------------------------------------------

    def add_token(self, token: str) -> None:
        """Accept another private-app token."""
        self.auth.add_token(token)

    def add_oauth_app(self, client_id: str, client_secret: str, refresh_token: str) -> None:
        """Register an app whose ``refresh_token`` can be exchanged at ``POST /oauth/v1/token``."""
        self.auth.add_oauth_app(client_id, client_secret, refresh_token)

    def expire_access_tokens(self, seconds_ago: float = 1.0) -> None:
        """Expire every OAuth access token issued so far."""
        self.auth.expire_access_tokens(seconds_ago)

    # ---- schema -----------------------------------------------------------------------------

    def define_property(
        self,
        object_type: str,
        name: str,
        type: str = "string",
        field_type: str = "text",
        options: Iterable[Any] | None = None,
        unique: bool = False,
        read_only: bool = False,
        label: str | None = None,
    ) -> None:
        """Add (or replace) a property on an object type."""
        otype = self.store.resolve(object_type)
        if type == "bool" and options is None:
            options = [("true", "Yes"), ("false", "No")]
        prop = PropertyDef(
            name,
            type,
            field_type,
            label=label or name,
            options=make_options(options or []),
            unique=unique,
            read_only=read_only,
            hubspot_defined=False,
        )
        self.store.define_property(otype, prop)

    def define_object_type(
        self,
        object_type_id: str = "2-123456",
        name: str = "p_projects",
        properties: Iterable[PropertyDef | Mapping[str, Any] | str] = (),
        associated_objects: Iterable[str] = (),
    ) -> None:
        """Register a custom object, addressable as ``object_type_id``, ``p_<name>`` or ``<name>``.

        ``properties`` items are property names (plain strings), PropertyDefs, or dicts with
        the keyword arguments of :meth:`define_property`. ``associated_objects`` are the object
        types its records may be associated with (the schema's ``associatedObjects``); any other
        pair has no association until :meth:`define_association`.
        """
        defs: list[PropertyDef] = []
        for p in properties:
            if isinstance(p, PropertyDef):
                defs.append(p)
            elif isinstance(p, str):
                defs.append(PropertyDef(p, hubspot_defined=False))
            else:
                kw = dict(p)
                defs.append(
                    PropertyDef(
                        kw.pop("name"),
                        kw.pop("type", "string"),
                        kw.pop("field_type", "text"),
                        label=kw.pop("label", None) or "",
                        options=make_options(kw.pop("options", None) or []),
                        unique=kw.pop("unique", False),
                        read_only=kw.pop("read_only", False),
                        hubspot_defined=False,
                    )
                )
        self.store.define_object_type(object_type_id, name, defs)
        for other in associated_objects:
            self.define_association(object_type_id, other)

    def define_association_label(
        self, from_type: str, to_type: str, label: str, inverse_label: str | None = None
    ) -> int:
        """Create a USER_DEFINED labelled association type; returns its ``associationTypeId``.

        The same as ``POST /crm/v4/associations/{from}/{to}/labels``.
        """
        a, b = self.store.resolve(from_type), self.store.resolve(to_type)
        with self.store.lock:
            return self.graph.types.define_label(a.type_id, b.type_id, label, inverse_label).type_id

    def define_association(self, from_type: str, to_type: str) -> int:
        """Define the association between a custom object and another type (both directions),
        as a custom object schema's ``associatedObjects`` does; returns the default type id."""
        a, b = self.store.resolve(from_type), self.store.resolve(to_type)
        with self.store.lock:
            return self.graph.types.define(a.type_id, b.type_id).type_id

    # ---- data ----------------------------------------------------------------------------------

    def seed(self, object_type: str, properties: Mapping[str, Any]) -> str:
        """Create a record directly (validated like an API write); returns its id."""
        otype = self.store.resolve(object_type)
        with self.store.lock:
            values, issues = self.store.validate(otype, properties)
            if issues:
                raise ValueError(f"invalid seed values: {issues}")
            if self.store.conflicts(otype, values):
                raise ValueError(f"seed values collide with an existing unique value: {properties}")
            return self.store.create(otype, values).id

    def records(self, object_type: str, include_archived: bool = False) -> list[dict[str, Any]]:
        """Every live record of a type (plus archived ones if asked), with all properties."""
        otype = self.store.resolve(object_type)
        with self.store.lock:
            return [
                o.to_json(otype)
                for o in sorted(self.store.objects[otype.type_id].values(), key=lambda o: int(o.id))
                if include_archived or not o.archived
            ]

    def record(self, object_type: str, object_id: str) -> dict[str, Any] | None:
        otype = self.store.resolve(object_type)
        with self.store.lock:
            obj = self.store.objects[otype.type_id].get(str(object_id))
            return None if obj is None else obj.to_json(otype)

    def associate(self, from_type: str, from_id: str, to_type: str, to_id: str, type_id: int | None = None) -> None:
        """Create an association directly (default type unless ``type_id`` is given)."""
        a, b = self.store.resolve(from_type), self.store.resolve(to_type)
        with self.store.lock:
            if type_id is None:
                t = self.graph.types.default(a.type_id, b.type_id)
            else:
                found = self.graph.types.get("HUBSPOT_DEFINED", type_id) or self.graph.types.get(
                    "USER_DEFINED", type_id
                )
                if found is None:
                    raise ValueError(f"unknown association type id {type_id}")
                t = found
            self.graph.add(t, str(from_id), str(to_id))

    def associations(self, from_type: str, from_id: str) -> list[tuple[str, str, int]]:
        """(to type name, to id, association type id) for every link from a record."""
        a = self.store.resolve(from_type)
        with self.store.lock:
            out = [
                (self.store.types[tt].name, tid, t.type_id)
                for tt, tid, types in self.graph.targets(a.type_id, str(from_id))
                for t in types
            ]
        return sorted(out)

    # ---- observation --------------------------------------------------------------------------

    def _record(self, method: str, path: str, status: int) -> None:
        with self._log_lock:
            self._log.append((method, path, status))
            self._status[status] += 1

    @property
    def request_log(self) -> list[tuple[str, str, int]]:
        """(method, path, status) per request; no headers, so no credentials, are kept."""
        with self._log_lock:
            return list(self._log)

    @property
    def stats(self) -> EmulatorStats:
        with self._log_lock:
            return EmulatorStats(len(self._log), dict(self._status))

    def reset(self) -> None:
        """Forget records, schema changes, traffic, faults, rate-limit usage and OAuth tokens."""
        with self._log_lock:
            self._log.clear()
            self._status.clear()
        self.faults.clear()
        self.limiter.reset()
        self.auth.reset()
        self._build_state()

    def set_rate_limit(self, rate_limit: int, rate_interval: float, daily_limit: int = DEFAULT_DAILY_LIMIT) -> None:
        """Swap the limiter (e.g. a tight window for one test)."""
        self.limiter = RateLimiter(rate_limit, rate_interval, daily_limit, self.settings.search_rate_limit)


__all__ = ["ApiError", "EmulatorStats", "HubSpotEmulator"]
