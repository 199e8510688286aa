"""v4 association endpoints: batch create, associate/default, read and archive, and labels.

Status codes follow hubspot-api-client's generated map: ``batch/create`` 201
(207 partial), ``batch/associate/default`` 200 only, ``batch/read`` 200/207,
``batch/archive`` 204; labels list and create 200 (HubSpot's CRM associations
schema v4 spec, ``associationsSchema.json``).
"""

from __future__ import annotations

from typing import Any

from .associations import HUBSPOT_DEFINED, AssociationGraph, AssocType, UndefinedAssociation, numeric
from .errors import api_error
from .objects import Failure, Response, envelope, inputs_of
from .schema import ObjectTypeDef
from .settings import EmulatorSettings
from .store import Store, now
from .values import iso_ms


def _id(ref: Any) -> str:
    return str((ref or {}).get("id", "")) if isinstance(ref, dict) else str(ref or "")


class AssociationHandlers:
    def __init__(self, store: Store, graph: AssociationGraph, settings: EmulatorSettings) -> None:
        self.store = store
        self.graph = graph
        self.settings = settings

    def _missing(self, a: ObjectTypeDef, from_id: str, b: ObjectTypeDef, to_id: str) -> Failure | None:
        """Per-input check that both ends exist (error text UNVERIFIED; context names the id)."""
        if self.store.get(a, from_id) is None:
            return Failure(
                400,
                "VALIDATION_ERROR",
                f"No {a.singular} with id {from_id} exists",
                {"fromObjectId": [from_id]},
            )
        if self.store.get(b, to_id) is None:
            return Failure(400, "VALIDATION_ERROR", f"No {b.singular} with id {to_id} exists", {"toObjectId": [to_id]})
        return None

    @staticmethod
    def _undefined(a: ObjectTypeDef, b: ObjectTypeDef, from_id: str) -> Failure:
        """A pair with a custom object whose schema defines no association with the other type.

        HubSpot refuses to associate such records until the association is
        defined on the custom object schema; the message text is UNVERIFIED.
        """
        return Failure(
            400,
            "VALIDATION_ERROR",
            f"No association is defined between {a.type_id} and {b.type_id}; define it on the custom object "
            "schema first",
            {"fromObjectId": [from_id]},
        )

    # -- labels (CRM associations schema v4) ----------------------------------

    def list_labels(self, a: ObjectTypeDef, b: ObjectTypeDef) -> Response:
        """``GET …/{from}/{to}/labels``: 200 ``CollectionResponseAssociationSpecWithLabelNoPaging``."""
        with self.store.lock:
            types = self.graph.types.between(a.type_id, b.type_id)
            return 200, {"results": [t.label_spec() for t in types]}

    def create_label(self, a: ObjectTypeDef, b: ObjectTypeDef, body: Any) -> Response:
        """``POST …/{from}/{to}/labels`` with ``PublicAssociationDefinitionCreateRequest``
        (``label`` and ``name`` required, ``inverseLabel`` optional): 200 with the new
        USER_DEFINED types, this direction first."""
        if not isinstance(body, dict):
            raise api_error(400, "VALIDATION_ERROR", "Invalid input JSON: expected an object")
        missing = [k for k in ("label", "name") if not isinstance(body.get(k), str) or not body.get(k)]
        if missing:
            raise api_error(
                400, "VALIDATION_ERROR",
                f"Invalid input JSON on line 1, column 1: Some required fields were not set: [{', '.join(missing)}]",
            )
        inverse = body.get("inverseLabel")
        with self.store.lock:
            try:
                t = self.graph.types.define_label(
                    a.type_id, b.type_id, body["label"], inverse if isinstance(inverse, str) and inverse else None
                )
            except UndefinedAssociation:
                failure = self._undefined(a, b, "")
                raise api_error(400, failure.category, failure.message) from None
            back = self.graph.types.inverse_of(t)
            return 200, {"results": [t.label_spec(), back.label_spec()]}

    def _pair_result(
        self, a: ObjectTypeDef, from_id: str, b: ObjectTypeDef, to_id: str, labels: list[str]
    ) -> dict[str, Any]:
        return {
            "fromObjectTypeId": a.type_id,
            "fromObjectId": numeric(from_id),
            "toObjectTypeId": b.type_id,
            "toObjectId": numeric(to_id),
            "labels": labels,
        }

    def batch_create(self, a: ObjectTypeDef, b: ObjectTypeDef, body: Any) -> Response:
        started = iso_ms(now())
        inputs = inputs_of(body, self.settings.max_association_write_inputs)
        results: list[dict[str, Any]] = []
        failures: list[Failure] = []
        with self.store.lock:
            plan: list[tuple[str, str, list[AssocType]]] = []
            for item in inputs:
                from_id, to_id = _id(item.get("from")), _id(item.get("to"))
                failure = self._missing(a, from_id, b, to_id)
                types: list[AssocType] = []
                if failure is None:
                    for spec in item.get("types") or []:
                        category = spec.get("associationCategory", HUBSPOT_DEFINED)
                        t = self.graph.types.get(category, int(spec.get("associationTypeId", -1)))
                        if t is None or (t.from_type, t.to_type) != (a.type_id, b.type_id):
                            failure = Failure(
                                400,
                                "VALIDATION_ERROR",
                                f"{category} {spec.get('associationTypeId')} is not a valid association type "
                                f"between {a.type_id} and {b.type_id}",
                                {"fromObjectId": [from_id]},
                            )
                            break
                        types.append(t)
                    if failure is None and not types:
                        try:
                            types = [self.graph.types.default(a.type_id, b.type_id)]
                        except UndefinedAssociation:
                            failure = self._undefined(a, b, from_id)
                if failure is not None:
                    if not self.settings.association_partial_errors:
                        raise failure.as_api_error()
                    failures.append(failure)
                else:
                    plan.append((from_id, to_id, types))
            for from_id, to_id, types in plan:
                for t in types:
                    self.graph.add(t, from_id, to_id)
                labels = [t.label for t in types if t.label]
                results.append(self._pair_result(a, from_id, b, to_id, labels))
                if self.settings.association_results_both_directions:
                    back = [self.graph.types.inverse_of(t).label for t in types]
                    results.append(self._pair_result(b, to_id, a, from_id, [x for x in back if x]))
        return (207 if failures else 201), envelope(results, failures, started)

    def batch_default(self, a: ObjectTypeDef, b: ObjectTypeDef, body: Any) -> Response:
        """The client maps only 200 here, so any bad input fails the whole request with 400."""
        started = iso_ms(now())
        inputs = inputs_of(body, self.settings.max_association_write_inputs)
        with self.store.lock:
            pairs = []
            for item in inputs:
                from_id, to_id = _id(item.get("from")), _id(item.get("to"))
                failure = self._missing(a, from_id, b, to_id)
                if failure is not None:
                    raise failure.as_api_error()
                pairs.append((from_id, to_id))
            try:
                t = self.graph.types.default(a.type_id, b.type_id)
            except UndefinedAssociation:
                raise self._undefined(a, b, pairs[0][0] if pairs else "").as_api_error() from None
            results = []
            for from_id, to_id in pairs:
                self.graph.add(t, from_id, to_id)
                results.append(self._default_result(t, from_id, to_id))
                if self.settings.association_results_both_directions:
                    results.append(self._default_result(self.graph.types.inverse_of(t), to_id, from_id))
        return 200, envelope(results, [], started)

    @staticmethod
    def _default_result(t: AssocType, from_id: str, to_id: str) -> dict[str, Any]:
        return {
            "from": {"id": from_id},
            "to": {"id": to_id},
            "associationSpec": {"associationCategory": t.category, "associationTypeId": t.type_id},
        }

    def batch_read(self, a: ObjectTypeDef, b: ObjectTypeDef, body: Any) -> Response:
        started = iso_ms(now())
        inputs = inputs_of(body, self.settings.max_association_read_inputs)
        results, failures = [], []
        with self.store.lock:
            for item in inputs:
                from_id = _id(item)
                targets = self.graph.targets(a.type_id, from_id, b.type_id)
                if not targets:
                    failures.append(
                        Failure(
                            404,
                            "OBJECT_NOT_FOUND",
                            f"No {b.singular} is associated with {a.singular} {from_id}.",
                            {"fromObjectId": [from_id]},
                            "crm.associations.NO_ASSOCIATIONS_FOUND",
                        )
                    )
                    continue
                results.append({"from": {"id": from_id}, "to": self._to_list(targets)})
        return (207 if failures else 200), envelope(results, failures, started)

    @staticmethod
    def _to_list(targets: list[tuple[str, str, list[AssocType]]]) -> list[dict[str, Any]]:
        return [
            {"toObjectId": numeric(to_id), "associationTypes": [t.spec() for t in types]}
            for _tt, to_id, types in sorted(targets, key=lambda x: int(x[1]) if x[1].isdigit() else 0)
        ]

    def batch_archive(self, a: ObjectTypeDef, b: ObjectTypeDef, body: Any) -> Response:
        inputs = inputs_of(body, self.settings.max_association_write_inputs)
        with self.store.lock:
            for item in inputs:
                from_id = _id(item.get("from"))
                for to in item.get("to") or []:
                    self.graph.remove_pair(a.type_id, from_id, b.type_id, _id(to))
        return 204, None

    def list_for_object(self, a: ObjectTypeDef, from_id: str, b: ObjectTypeDef) -> Response:
        """``GET /crm/v4/objects/{from}/{id}/associations/{to}``."""
        with self.store.lock:
            if self.store.get(a, from_id) is None:
                raise Failure(404, "OBJECT_NOT_FOUND", "resource not found").as_api_error()
            targets = self.graph.targets(a.type_id, from_id, b.type_id)
            return 200, {"results": self._to_list(targets)}
