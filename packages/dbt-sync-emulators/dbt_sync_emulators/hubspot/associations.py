"""Association types and the association graph between stored records.

HubSpot keeps associations in both directions: creating contact→company 279
also makes company→contact 280, and any labelled association implies the
unlabelled default one. The graph mirrors that so reads from either side see
what HubSpot would show.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

HUBSPOT_DEFINED = "HUBSPOT_DEFINED"
USER_DEFINED = "USER_DEFINED"


@dataclass(frozen=True)
class AssocType:
    """One association type; ``inverse`` is the type id of the same link seen from the other side."""

    category: str
    type_id: int
    from_type: str
    to_type: str
    label: str | None
    inverse: int

    def spec(self) -> dict[str, object]:
        return {"category": self.category, "typeId": self.type_id, "label": self.label}

    def label_spec(self) -> dict[str, object]:
        """``AssociationSpecWithLabel`` of the labels API: ``label`` is a non-null string
        in the v4 associations schema spec, so an unlabelled type leaves it out."""
        out: dict[str, object] = {"category": self.category, "typeId": self.type_id}
        if self.label is not None:
            out["label"] = self.label
        return out


# (type id, from, to, label, inverse id): the commonly used HUBSPOT_DEFINED ids.
_STANDARD: list[tuple[int, str, str, str | None, int]] = [
    (279, "0-1", "0-2", None, 280),
    (280, "0-2", "0-1", None, 279),
    (1, "0-1", "0-2", "Primary", 2),
    (2, "0-2", "0-1", "Primary", 1),
    (4, "0-1", "0-3", None, 3),
    (3, "0-3", "0-1", None, 4),
    (341, "0-3", "0-2", None, 342),
    (342, "0-2", "0-3", None, 341),
    (5, "0-3", "0-2", "Primary", 6),
    (6, "0-2", "0-3", "Primary", 5),
]

FIRST_ALLOCATED_TYPE_ID = 100_001


def is_custom(object_type_id: str) -> bool:
    """Custom objects have ``2-…`` type ids; HubSpot's standard objects ``0-…``."""
    return object_type_id.startswith("2-")


class UndefinedAssociation(Exception):
    """No association is defined between two object types (a custom object's schema names its pairs)."""

    def __init__(self, from_type: str, to_type: str) -> None:
        super().__init__(f"no association is defined between {from_type} and {to_type}")
        self.from_type, self.to_type = from_type, to_type


class AssociationTypes:
    """Registry of association types.

    Standard object pairs have HubSpot-defined default types (the common ids
    are fixed, others are allocated on first use). A pair involving a custom
    object has types only once it is defined, as HubSpot's custom object
    schema does (``associatedObjects`` when the schema is created, or the
    schema's associations endpoint later): until then it has no default type
    and association writes between the two types fail.
    """

    def __init__(self) -> None:
        self._by_key: dict[tuple[str, int], AssocType] = {}
        self._default: dict[tuple[str, str], AssocType] = {}
        self._ids = itertools.count(FIRST_ALLOCATED_TYPE_ID)
        for type_id, a, b, label, inverse in _STANDARD:
            t = AssocType(HUBSPOT_DEFINED, type_id, a, b, label, inverse)
            self._by_key[(HUBSPOT_DEFINED, type_id)] = t
            if label is None:
                self._default[(a, b)] = t

    def get(self, category: str, type_id: int) -> AssocType | None:
        return self._by_key.get((category, type_id))

    def inverse_of(self, t: AssocType) -> AssocType:
        inverse = self._by_key.get((t.category, t.inverse))
        assert inverse is not None, "association types are always registered in pairs"
        return inverse

    def default(self, from_type: str, to_type: str) -> AssocType:
        """The unlabelled type for a pair; raises :class:`UndefinedAssociation` for an
        undefined custom-object pair. Standard pairs without a fixed id get one here."""
        t = self._default.get((from_type, to_type))
        if t is None and (is_custom(from_type) or is_custom(to_type)):
            raise UndefinedAssociation(from_type, to_type)
        return t if t is not None else self.define(from_type, to_type)

    def is_defined(self, from_type: str, to_type: str) -> bool:
        return (from_type, to_type) in self._default or not (is_custom(from_type) or is_custom(to_type))

    def define(self, from_type: str, to_type: str) -> AssocType:
        """Define the (HUBSPOT_DEFINED, unlabelled) association between two types, both directions."""
        t = self._default.get((from_type, to_type))
        if t is None:
            fwd = next(self._ids)
            if from_type == to_type:
                return self._register(HUBSPOT_DEFINED, fwd, from_type, to_type, None, fwd)
            back = next(self._ids)
            t = self._register(HUBSPOT_DEFINED, fwd, from_type, to_type, None, back)
            self._register(HUBSPOT_DEFINED, back, to_type, from_type, None, fwd)
        return t

    def define_label(self, from_type: str, to_type: str, label: str, inverse_label: str | None = None) -> AssocType:
        """A USER_DEFINED labelled type (and its inverse), as the labels API and UI make.

        Raises :class:`UndefinedAssociation` for a custom-object pair without an association.
        """
        self.default(from_type, to_type)
        fwd, back = next(self._ids), next(self._ids)
        t = self._register(USER_DEFINED, fwd, from_type, to_type, label, back)
        self._register(USER_DEFINED, back, to_type, from_type, inverse_label or label, fwd)
        return t

    def between(self, from_type: str, to_type: str) -> list[AssocType]:
        """Every type from ``from_type`` to ``to_type`` (labels API order: by type id); [] if undefined."""
        if not self.is_defined(from_type, to_type):
            return []
        self.default(from_type, to_type)
        found = [t for t in self._by_key.values() if (t.from_type, t.to_type) == (from_type, to_type)]
        return sorted(found, key=lambda t: (t.category != HUBSPOT_DEFINED, t.type_id))

    def _register(self, category: str, type_id: int, a: str, b: str, label: str | None, inverse: int) -> AssocType:
        t = AssocType(category, type_id, a, b, label, inverse)
        self._by_key[(category, type_id)] = t
        if label is None:
            self._default[(a, b)] = t
        return t


class AssociationGraph:
    """Edges between records, stored per direction; callers hold the store lock."""

    def __init__(self, types: AssociationTypes) -> None:
        self.types = types
        # (from type, from id) -> (to type, to id) -> set of type keys (category, id)
        self._edges: dict[tuple[str, str], dict[tuple[str, str], set[tuple[str, int]]]] = {}

    def add(self, t: AssocType, from_id: str, to_id: str) -> None:
        """Add ``t`` plus its inverse and, for labelled types, the pair's default type."""
        inverse = self.types.inverse_of(t)
        self._link(t, from_id, to_id)
        self._link(inverse, to_id, from_id)
        if t.label is not None:
            default = self.types.default(t.from_type, t.to_type)
            self._link(default, from_id, to_id)
            self._link(self.types.inverse_of(default), to_id, from_id)

    def _link(self, t: AssocType, from_id: str, to_id: str) -> None:
        targets = self._edges.setdefault((t.from_type, from_id), {})
        targets.setdefault((t.to_type, to_id), set()).add((t.category, t.type_id))

    def remove_pair(self, from_type: str, from_id: str, to_type: str, to_id: str) -> None:
        """Remove every type between two records, in both directions (v4 batch archive)."""
        self._edges.get((from_type, from_id), {}).pop((to_type, to_id), None)
        self._edges.get((to_type, to_id), {}).pop((from_type, from_id), None)

    def drop_object(self, type_id: str, object_id: str) -> None:
        """Forget a record's associations when the record is archived."""
        targets = self._edges.pop((type_id, object_id), {})
        for to_type, to_id in targets:
            self._edges.get((to_type, to_id), {}).pop((type_id, object_id), None)

    def targets(
        self, from_type: str, from_id: str, to_type: str | None = None
    ) -> list[tuple[str, str, list[AssocType]]]:
        """(to type, to id, types) for one record, optionally only towards ``to_type``."""
        out = []
        for (tt, tid), keys in self._edges.get((from_type, from_id), {}).items():
            if to_type is not None and tt != to_type:
                continue
            types = [x for x in (self.types.get(c, i) for c, i in sorted(keys, key=lambda k: k[1])) if x]
            out.append((tt, tid, types))
        return out

    def clear(self) -> None:
        self._edges.clear()


def numeric(object_id: str) -> int | str:
    """v4 responses carry object ids as JSON numbers."""
    return int(object_id) if object_id.isdigit() else object_id


def spec_list(types: Iterable[AssocType]) -> list[dict[str, object]]:
    return [t.spec() for t in types]
