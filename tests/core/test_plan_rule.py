"""The dependency rule: a sync waits only for syncs it needs (docs/spec.md, "Order and dependencies").

Needs are lookups and associations to objects another sync writes in the same
destination, ``depends_on``, and dbt DAG ancestry between syncs to the same
destination. A dbt dependency across destinations is not an edge.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dbt_sync.errors import PlanError
from dbt_sync.manifest import load_manifest, load_run_results
from dbt_sync.plan import EdgeKind, Plan, build_plan
from dbt_sync.project.config import load_config
from dbt_sync.spec import SyncSpec, load_specs
from tests.core.builders import ProjectBuilder, hs_sync, sf_sync

LOOKUP = {"lookup": {"object": "Account", "match": "External_Id__c", "column": "account_id"}}


def plan_of(builder: ProjectBuilder, **kwargs: Any) -> tuple[Plan, list[SyncSpec]]:
    target = builder.write()
    manifest = load_manifest(target)
    specs = load_specs(manifest, load_config(builder.root))
    return build_plan(specs, manifest, load_run_results(target), all_syncs=True, **kwargs), specs


def crm_project(root: Path) -> ProjectBuilder:
    """The issue's shape: contacts' model depends on accounts' model; each model syncs to both CRMs."""
    b = ProjectBuilder(root)
    b.model("dim_accounts", [sf_sync("accounts_to_salesforce", "Account"),
                             hs_sync("accounts_to_hubspot", "companies")])
    b.model("dim_contacts", [
        sf_sync("contacts_to_salesforce", "Contact", fields={"External_Id__c": "id", "AccountId": LOOKUP}),
        hs_sync("contacts_to_hubspot", "contacts", associations=[{"to": "companies", "column": "account_id"}]),
    ], depends_on=("dim_accounts",))
    b.model("dim_scores", sf_sync("scores_to_salesforce", "Score__c"), depends_on=("dim_contacts",))
    return b


def test_model_dependency_across_destinations_is_not_an_edge(tmp_path: Path) -> None:
    """Regression: accounts_to_hubspot must not hold up (or skip) contacts_to_salesforce."""
    plan, _ = plan_of(crm_project(tmp_path))
    edges = {(e.upstream, e.downstream): e.kind for e in plan.edges}
    assert edges == {
        ("accounts_to_salesforce", "contacts_to_salesforce"): EdgeKind.LOOKUP,
        ("accounts_to_hubspot", "contacts_to_hubspot"): EdgeKind.ASSOCIATION,
        ("accounts_to_salesforce", "scores_to_salesforce"): EdgeKind.MODEL,
        ("contacts_to_salesforce", "scores_to_salesforce"): EdgeKind.MODEL,
    }
    assert plan.upstream_of("contacts_to_salesforce") == ("accounts_to_salesforce",)
    assert plan.upstream_of("scores_to_salesforce") == ("accounts_to_salesforce", "contacts_to_salesforce")
    assert "accounts_to_hubspot" not in plan.upstream_of("scores_to_salesforce")


def test_plan_shows_each_edge_with_its_kind_and_reason(tmp_path: Path) -> None:
    plan, _ = plan_of(crm_project(tmp_path))
    after = {s["name"]: s["after"] for st_ in plan.to_dict()["stages"] for s in st_["syncs"]}
    assert after["contacts_to_hubspot"] == [{
        "sync": "accounts_to_hubspot", "kind": "association",
        "reason": "contacts_to_hubspot associates with companies records that accounts_to_hubspot writes",
    }]
    assert after["scores_to_salesforce"][0] == {
        "sync": "accounts_to_salesforce", "kind": "model",
        "reason": "model dim_scores depends on dim_accounts and both sync to salesforce",
    }
    assert after["accounts_to_hubspot"] == []


def test_order_through_an_unplanned_sync_names_the_path(tmp_path: Path) -> None:
    plan, _ = plan_of(crm_project(tmp_path), select=["accounts_to_salesforce", "scores_to_salesforce"])
    # scores needs accounts directly (same destination, model ancestry), not only through contacts
    assert [(e.upstream, e.downstream, e.kind) for e in plan.planned_edges()] == [
        ("accounts_to_salesforce", "scores_to_salesforce", EdgeKind.MODEL)]
    b = ProjectBuilder(tmp_path / "chain")
    b.model("a", sf_sync("first", "A__c"))
    b.model("b", hs_sync("middle", "deals", depends_on=["first"]))
    b.model("c", sf_sync("last", "C__c", depends_on=["middle"]))
    plan, _ = plan_of(b, select=["first", "last"])
    [edge] = plan.planned_edges()
    assert (edge.upstream, edge.downstream, edge.kind, edge.reason) == (
        "first", "last", EdgeKind.TRANSITIVE, "through middle (not planned)")
    assert [[s.name for s in stage] for stage in plan.stages] == [["first"], ["last"]]


# -- the rule, over random small projects --------------------------------------------------

SF_OBJECTS = ("Account", "Contact", "Opportunity")
HS_OBJECTS = ("companies", "contacts", "deals")


@st.composite
def projects(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Models in topological order: each with parents among earlier models and 0-2 syncs."""
    n_models = draw(st.integers(2, 5))
    models: list[dict[str, Any]] = []
    sync_names: list[str] = []
    for i in range(n_models):
        parents = draw(st.lists(st.integers(0, i - 1), unique=True, max_size=2)) if i else []
        syncs = []
        for j in range(draw(st.integers(0, 2))):
            name = f"s{i}_{j}"
            dest = draw(st.sampled_from(["salesforce", "hubspot"]))
            depends_on = draw(st.lists(st.sampled_from(sync_names), unique=True, max_size=1)) if sync_names else []
            extra: dict[str, Any] = {"depends_on": depends_on} if depends_on else {}
            if dest == "salesforce":
                obj = draw(st.sampled_from(SF_OBJECTS))
                fields: dict[str, Any] = {"External_Id__c": "id"}
                if draw(st.booleans()):
                    fields["AccountId"] = LOOKUP
                syncs.append(sf_sync(name, obj, fields=fields, **extra))
            else:
                obj = draw(st.sampled_from(HS_OBJECTS))
                to = draw(st.lists(st.sampled_from(HS_OBJECTS), unique=True, max_size=2))
                assoc = [{"to": t, "column": "account_id"} for t in to]
                syncs.append(hs_sync(name, obj, **({"associations": assoc} if assoc else {}), **extra))
            sync_names.append(name)
        models.append({"name": f"m{i}", "parents": [f"m{p}" for p in parents], "syncs": syncs})
    return models


def needs(a: SyncSpec, b: SyncSpec, ancestors: dict[str, set[str]]) -> set[EdgeKind]:
    """Every rule under which ``b`` needs ``a`` (written from docs/spec.md, independently of plan.py)."""
    kinds: set[EdgeKind] = set()
    if a.name == b.name:
        return kinds
    same = a.destination == b.destination
    if same and any(m.lookup and m.lookup.object.lower() == a.object.lower() for m in b.fields):
        kinds.add(EdgeKind.LOOKUP)
    if same and any(x.to.lower() == a.object.lower() for x in b.associations):
        kinds.add(EdgeKind.ASSOCIATION)
    if a.name in b.depends_on:
        kinds.add(EdgeKind.DEPENDS_ON)
    if same and a.model_name != b.model_name and a.model_name in ancestors[b.model_name]:
        kinds.add(EdgeKind.MODEL)
    return kinds


def has_cycle(specs: list[SyncSpec], ancestors: dict[str, set[str]]) -> bool:
    succ = {a.name: {b.name for b in specs if needs(a, b, ancestors)} for a in specs}
    state: dict[str, int] = {}

    def visit(n: str) -> bool:
        state[n] = 1
        for m in succ[n]:
            if state.get(m) == 1 or (m not in state and visit(m)):
                return True
        state[n] = 2
        return False

    return any(n not in state and visit(n) for n in succ)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(models=projects(), data=st.data())
def test_every_edge_has_a_reason_from_the_rule_and_targets_come_first(
    models: list[dict[str, Any]], data: st.DataObject
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        b = ProjectBuilder(Path(tmp))
        for m in models:
            b.model(m["name"], m["syncs"] or None, depends_on=tuple(m["parents"]))
        names = [s["name"] for m in models for s in m["syncs"]]
        select = data.draw(st.lists(st.sampled_from(names), unique=True, min_size=1)) if names else []
        ancestors: dict[str, set[str]] = {}
        for m in models:
            ancestors[m["name"]] = set(m["parents"]).union(*(ancestors[p] for p in m["parents"]))
        target = b.write()
        manifest = load_manifest(target)
        specs = load_specs(manifest, load_config(b.root))
        try:
            plan = build_plan(specs, manifest, load_run_results(target), all_syncs=True, select=select)
        except PlanError:
            # a cycle is refused only when the rule's needs really form one
            assert has_cycle(specs, ancestors)
            return
    by_name = {s.name: s for s in specs}
    # every edge is justified by the rule, with a kind the rule gives; every need is an edge
    edges = {(e.upstream, e.downstream): e for e in plan.edges}
    for (up, down), edge in edges.items():
        assert edge.kind in needs(by_name[up], by_name[down], ancestors), edge
        assert edge.reason
    for a in specs:
        for bb in specs:
            if needs(a, bb, ancestors):
                assert (a.name, bb.name) in edges, (a.name, bb.name)
    # every planned lookup/association target's writer runs in an earlier stage than its user
    stage_of = {s.name: i for i, stage in enumerate(plan.stages) for s in stage}
    for user in plan.syncs:
        for writer in plan.syncs:
            kinds = needs(writer, user, ancestors)
            if kinds & {EdgeKind.LOOKUP, EdgeKind.ASSOCIATION}:
                assert stage_of[writer.name] < stage_of[user.name], (writer.name, user.name)
            if kinds:
                assert writer.name in plan.upstream_of(user.name)
    # every planned edge shown by plan has a reason, and its upstream comes first
    for edge in plan.planned_edges():
        assert edge.reason and stage_of[edge.upstream] < stage_of[edge.downstream]
