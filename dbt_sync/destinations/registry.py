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


@dataclass(frozen=True)
class DestinationType:
    """One destination ``type``.

    ``destination``: ``"package.module:ClassName"`` of the class implementing
    :class:`~dbt_sync.destinations.base.Destination`; it is built as
    ``cls(name, settings)`` with the entry's name and its settings (the
    mapping under ``destinations.<name>`` of ``dbt_sync.yml``).
    ``config_model``: the typed model of that entry (``None`` where the
    destination parses its settings itself, in its ``config`` module).
    ``spec_rules``: the destination's checks of a sync spec (``None``: the
    rules still live in ``dbt_sync/spec.py``).
    """

    name: str
    #: how people call it in messages (``Salesforce``, ``HubSpot``)
    label: str
    destination: str
    config_model: Any = None
    spec_rules: Any = None

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
    )
)
register(
    DestinationType(
        name="hubspot",
        label="HubSpot",
        destination="dbt_sync.destinations.hubspot.destination:HubSpotDestination",
    )
)
