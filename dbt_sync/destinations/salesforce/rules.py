"""Spec rules of Salesforce syncs: what a sync to a Salesforce destination may declare.

Checked when the specs are read (``dbt-sync validate``, ``plan``, ``run``),
so a sync the Salesforce destination would refuse at its first write fails
before any data moves. ``SPEC_RULES`` in :mod:`dbt_sync.spec` calls
:func:`spec_problems` for every sync whose destination has ``type: salesforce``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from dbt_sync.destinations.base import DestinationError
from dbt_sync.destinations.salesforce.config import parse_bulk_threshold
from dbt_sync.errors import Problem, did_you_mean

#: the write options a Salesforce sync takes (``options`` in its spec)
WRITE_OPTIONS = frozenset({"bulk_threshold", "all_or_none", "lookup_relationships"})


class SalesforceSyncOptions(BaseModel):
    """A Salesforce sync's ``options`` (docs/destinations-salesforce.md, "Write options").

    ``bulk_threshold``: records above which a batch goes through Bulk API 2.0
    (``false``/``0``/``null``: never), overriding the destination's;
    ``all_or_none``: every batch is one sObject Collections request that
    succeeds or fails as a whole; ``lookup_relationships``: lookup field ->
    relationship name, where the field's name does not give it.
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    bulk_threshold: int | bool | None = None
    all_or_none: bool = False
    lookup_relationships: dict[str, str] | None = None

    @field_validator("bulk_threshold", mode="before")
    @classmethod
    def _threshold(cls, value: Any) -> Any:
        try:
            parse_bulk_threshold("", value)
        except DestinationError as exc:
            raise PydanticCustomError("dbt_sync_value", "{message}", {"message": str(exc).split(": ", 1)[-1]}) from None
        return value


def options_problems(options: Mapping[str, Any], loc: str) -> list[Problem]:
    """Every problem of a Salesforce sync's ``options``, located at ``<loc>.options[.<key>]``."""
    from dbt_sync.project.models import problems_of

    unknown = sorted(str(k) for k in options if k not in WRITE_OPTIONS)
    if unknown:
        hints = "".join(did_you_mean(k, WRITE_OPTIONS) for k in unknown)
        return [Problem(
            f"{loc}.options",
            f"unknown option(s) {', '.join(unknown)} for a Salesforce destination.{hints} "
            f"Allowed: {', '.join(sorted(WRITE_OPTIONS))}.",
        )]
    try:
        SalesforceSyncOptions.model_validate(dict(options))
    except ValidationError as exc:
        return [Problem(f"{loc}.options.{path}", message) for path, message in problems_of(exc, SalesforceSyncOptions)]
    return []


def spec_problems(entry: Mapping[str, Any], loc: str) -> list[Problem]:
    """What a sync spec (``entry``, the raw meta mapping at ``loc``) declares that Salesforce cannot do."""
    problems: list[Problem] = []
    if entry.get("associations") is not None:
        problems.append(Problem(
            f"{loc}.associations",
            "associations are a HubSpot feature; for Salesforce map a field with {lookup: ...}.",
        ))
    options = entry.get("options")
    if isinstance(options, Mapping):
        problems += options_problems(options, loc)
    return problems
