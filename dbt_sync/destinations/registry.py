"""The destination registry: what dbt-sync knows about each destination ``type``.

A destination ``type`` of ``dbt_sync.yml`` (``salesforce``, ``hubspot``)
maps to one :class:`DestinationType`: the destination class that talks to
the CRM, the typed model of its ``dbt_sync.yml`` entry, and the rules it adds
to a sync spec (what a sync to that CRM may and may not declare). The engine,
``validate`` and ``--check-destinations`` look a type up here instead of
testing its name, so a new destination is one package plus one
:func:`register` call (the alert channels work the same way, see
``dbt_sync/alerts/channels/__init__.py``).

The destination class is named by its import path and imported on first
use: a run that writes only to HubSpot never imports simple-salesforce.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dbt_sync.destinations.base import Destination, DestinationError
from dbt_sync.errors import Problem
from dbt_sync.project.models import HubSpotSettings, SalesforceSettings


@dataclass(frozen=True)
class DestinationType:
    """One destination ``type``.

    ``destination``: ``"package.module:ClassName"`` of the class implementing
    :class:`~dbt_sync.destinations.base.Destination`; it is built as
    ``cls(name, settings)`` with the entry's name and its settings (the
    mapping under ``destinations.<name>`` of ``dbt_sync.yml``).
    ``config_model``: the typed model (pydantic) of that entry, which
    reading ``dbt_sync.yml`` validates it with (``dbt_sync.project.models``);
    the rules between its keys stay in the destination's ``config.parse_config``.
    ``spec_rules``: ``"package.module:function"`` of the destination's checks
    of a sync spec, ``(raw spec mapping, yaml path) -> list[Problem]``,
    imported on first use (see :meth:`spec_problems`).
    """

    name: str
    #: how people call it in messages (``Salesforce``, ``HubSpot``)
    label: str
    destination: str
    config_model: Any = None
    spec_rules: str | None = None

    def spec_problems(self, entry: Mapping[str, Any], loc: str) -> list[Problem]:
        """What a sync spec (the raw meta mapping at yaml path ``loc``) declares that this destination cannot do."""
        if self.spec_rules is None:
            return []
        module_name, _, function = self.spec_rules.partition(":")
        problems: list[Problem] = getattr(importlib.import_module(module_name), function)(entry, loc)
        return problems

    def destination_class(self) -> type[Destination]:
        """Import and return the destination class (raises ``ImportError`` when its client library is missing)."""
        module_name, _, class_name = self.destination.partition(":")
        cls: type[Destination] = getattr(importlib.import_module(module_name), class_name)
        return cls

    def open(self, name: str, settings: Mapping[str, Any]) -> Destination:
        """A destination named ``name`` for the ``dbt_sync.yml`` entry ``settings``.

        Raises :class:`~dbt_sync.destinations.base.DestinationError` for
        settings it cannot use (missing credentials, bad values).
        """
        factory: Any = self.destination_class()
        destination: Destination = factory(name, settings)
        return destination


#: destination ``type`` -> what dbt-sync knows about it, in the order messages list them
DESTINATION_TYPES: dict[str, DestinationType] = {}


def register(destination_type: DestinationType) -> DestinationType:
    """Add (or replace) a destination type; returns it."""
    DESTINATION_TYPES[destination_type.name] = destination_type
    return destination_type


def destination_type(name: str, where: str = "") -> DestinationType:
    """The registered type ``name``; raises :class:`DestinationError` (``UNKNOWN_DESTINATION_TYPE``) otherwise.

    ``where`` prefixes the message (e.g. ``"destination 'crm'"``).
    """
    try:
        return DESTINATION_TYPES[name]
    except KeyError:
        known = ", ".join(DESTINATION_TYPES)
        prefix = f"{where}: " if where else ""
        raise DestinationError(
            f"{prefix}type '{name}' is not supported ({known}).", code="UNKNOWN_DESTINATION_TYPE"
        ) from None


register(
    DestinationType(
        name="salesforce",
        label="Salesforce",
        destination="dbt_sync.destinations.salesforce.destination:SalesforceDestination",
        config_model=SalesforceSettings,
        spec_rules="dbt_sync.destinations.salesforce.rules:spec_problems",
    )
)
register(
    DestinationType(
        name="hubspot",
        label="HubSpot",
        destination="dbt_sync.destinations.hubspot.destination:HubSpotDestination",
        config_model=HubSpotSettings,
        spec_rules="dbt_sync.destinations.hubspot.rules:spec_problems",
    )
)
