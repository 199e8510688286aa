"""Plan ordering: dbt DAG, lookups and associations, depends_on, cycles, selection."""

from __future__ import annotations

from pathlib import Path

import pytest

from dbt_sync.errors import PlanError, SelectionError
from dbt_sync.manifest import load_manifest, load_run_results
from dbt_sync.plan import NOTHING_TO_DO, EdgeKind, Plan, build_plan
from dbt_sync.project.config import load_config
from dbt_sync.spec import load_specs
from tests.core.builders import ProjectBuilder, hs_sync, sf_sync


def plan_of(builder: ProjectBuilder, statuses: dict[str, str] | None = None, **kwargs: object) -> Plan:
    target = builder.write(statuses)
    manifest = load_manifest(target)
    specs = load_specs(manifest, load_config(builder.root))
    return build_plan(specs, manifest, load_run_results(target), **kwargs)  # type: ignore[arg-type]


def stages(plan: Plan) -> list[list[str]]:
    return [[s.name for s in stage] for stage in plan.stages]


def diamond(tmp_path: Path) -> ProjectBuilder:
    """base -> left, right -> top, all to Salesforce; lonely to HubSpot; each model has one sync."""
    b = ProjectBuilder(tmp_path)
    b.model("base", sf_sync("s_base", "Base__c"), tags=("crm",))
    b.model("left", sf_sync("s_left", "Left__c"), depends_on=("base",), tags=("crm",))
    b.model("right", sf_sync("s_right", "Right__c"), depends_on=("base",))
    b.model("top", sf_sync("s_top", "Top__c"), depends_on=("left", "right"))
    b.model("lonely", hs_sync("s_lonely", "deals"))
    return b


def test_diamond_dag_orders_stages_and_runs_independent_syncs_together(tmp_path: Path) -> None:
    plan = plan_of(diamond(tmp_path), all_syncs=True)
    assert stages(plan) == [["s_base", "s_lonely"], ["s_left", "s_right"], ["s_top"]]


def test_transitive_model_dependency_without_direct_edge(tmp_path: Path) -> None:
    b = ProjectBuilder(tmp_path)
    b.model("a", sf_sync("s_a", "A__c"))
    b.model("mid", None, depends_on=("a",))
    b.model("c", sf_sync("s_c", "C__c"), depends_on=("mid",))
    assert stages(plan_of(b, all_syncs=True)) == [["s_a"], ["s_c"]]


def test_lookup_orders_parent_object_writer_first_even_without_model_dependency(tmp_path: Path) -> None:
    b = ProjectBuilder(tmp_path)
    lookup = {"lookup": {"object": "Account", "match": "External_Id__c", "column": "account_id"}}
    b.model("contacts", sf_sync("contacts_sf", fields={"External_Id__c": "id", "AccountId": lookup}))
    b.model("accounts", sf_sync("accounts_sf", "Account"))
    # the same object in another destination is unrelated
    b.model("hs_accounts", hs_sync("accounts_hs", "Account"))
    plan = plan_of(b, all_syncs=True)
    assert stages(plan) == [["accounts_hs", "accounts_sf"], ["contacts_sf"]]
    assert [(e.upstream, e.downstream, e.kind, e.reason) for e in plan.edges] == [
        ("accounts_sf", "contacts_sf", EdgeKind.LOOKUP,
         "contacts_sf looks up Account records (AccountId) that accounts_sf writes"),
    ]


def test_associations_order_targets_first(tmp_path: Path) -> None:
    b = ProjectBuilder(tmp_path)
    b.model("deals", hs_sync("deals_hs", "deals", associations=[{"to": "contacts", "column": "id"}]))
    b.model("contacts", hs_sync("contacts_hs", "contacts"))
    assert stages(plan_of(b, all_syncs=True)) == [["contacts_hs"], ["deals_hs"]]


def test_explicit_depends_on(tmp_path: Path) -> None:
    b = ProjectBuilder(tmp_path)
    b.model("x", sf_sync("first", "X__c"))
    b.model("y", sf_sync("second", "Y__c", depends_on=["first"]))
    assert stages(plan_of(b, all_syncs=True)) == [["first"], ["second"]]


def test_cycle_is_named(tmp_path: Path) -> None:
    b = ProjectBuilder(tmp_path)
    b.model("x", sf_sync("a_sync", "X__c", depends_on=["c_sync"]))
    b.model("y", sf_sync("b_sync", "Y__c", depends_on=["a_sync"]))
    b.model("z", sf_sync("c_sync", "Z__c", depends_on=["b_sync"]))
    b.model("w", sf_sync("d_sync", "W__c"))
    with pytest.raises(PlanError) as info:
        plan_of(b, all_syncs=True)
    message = str(info.value)
    assert "cycle" in message
    assert message.count("->") == 3
    for name in ("a_sync", "b_sync", "c_sync"):
        assert name in message
    assert "d_sync" not in message


@pytest.mark.parametrize(
    ("select", "exclude", "expected"),
    [
        (["s_top"], [], {"s_top"}),
        (["top"], [], {"s_top"}),
        (["+s_top"], [], {"s_base", "s_left", "s_right", "s_top"}),
        (["1+s_top"], [], {"s_left", "s_right", "s_top"}),
        (["s_base+"], [], {"s_base", "s_left", "s_right", "s_top"}),
        (["s_base+1"], [], {"s_base", "s_left", "s_right"}),
        (["+s_left+"], [], {"s_base", "s_left", "s_top"}),
        (["tag:crm"], [], {"s_base", "s_left"}),
        (["destination:hubspot"], [], {"s_lonely"}),
        (["tag:crm,destination:salesforce s_lonely"], [], {"s_base", "s_left", "s_lonely"}),
        (["s_*"], ["destination:hubspot", "s_top"], {"s_base", "s_left", "s_right"}),
        (["object:Right__c", "mode:upsert,model:lonely"], [], {"s_right", "s_lonely"}),
        # dbt's "@": regression, it matched nothing (a sync named "@s_left") and the command did nothing, exit 0
        (["@s_left"], [], {"s_base", "s_left", "s_right", "s_top"}),
        (["@s_top"], [], {"s_base", "s_left", "s_right", "s_top"}),
        (["@s_lonely"], [], {"s_lonely"}),
    ],
)
def test_selection_operators(tmp_path: Path, select: list[str], exclude: list[str], expected: set[str]) -> None:
    plan = plan_of(diamond(tmp_path), select=select, exclude=exclude, all_syncs=True)
    assert {s.name for s in plan.syncs} == expected


def test_selection_keeps_order_through_unselected_syncs(tmp_path: Path) -> None:
    plan = plan_of(diamond(tmp_path), select=["s_base", "s_top"], all_syncs=True)
    assert stages(plan) == [["s_base"], ["s_top"]]


def test_bad_selector_method_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SelectionError, match="unknown selector method 'tga:'"):
        plan_of(diamond(tmp_path), select=["tga:crm"], all_syncs=True)
    with pytest.raises(SelectionError, match="'@' is not combined with '\\+'"):
        plan_of(diamond(tmp_path), select=["@s_left+"], all_syncs=True)


@pytest.mark.parametrize(
    ("select", "warnings"),
    [
        (["s_tpo"], ["The selection criterion 's_tpo' does not match any sync. Did you mean 's_top'?", NOTHING_TO_DO]),
        (["tag:nope"], ["The selection criterion 'tag:nope' does not match any sync.", NOTHING_TO_DO]),
        (["tag:nope s_top"], ["The selection criterion 'tag:nope' does not match any sync."]),
        (["tag:crm,destination:hubspot"],
         ["The selection criterion 'tag:crm,destination:hubspot' does not match any sync.", NOTHING_TO_DO]),
        (["s_top"], []),
    ],
)
def test_selector_matching_nothing_warns_as_dbt_does(
    tmp_path: Path, select: list[str], warnings: list[str]
) -> None:
    """dbt warns NoNodesForSelectionCriteria per criterion, then NothingToDo; it does not fail."""
    plan = plan_of(diamond(tmp_path), select=select, all_syncs=True)
    assert list(plan.warnings) == warnings and plan.to_dict()["warnings"] == warnings
    assert bool(plan.syncs) == (NOTHING_TO_DO not in warnings)


def test_default_plans_only_models_built_in_latest_invocation(tmp_path: Path) -> None:
    statuses = {"base": "success", "left": "error", "right": "skipped", "top": "success"}
    plan = plan_of(diamond(tmp_path), statuses)
    assert stages(plan) == [["s_base"], ["s_top"]]
    reasons = {k.sync.name: k.reason for k in plan.skipped}
    assert reasons["s_left"] == "model left error in the latest dbt invocation: error msg"
    assert reasons["s_right"] == "model right skipped in the latest dbt invocation"
    assert "was not built by the latest dbt invocation" in reasons["s_lonely"]


def test_pending_retries_are_planned_even_when_model_not_built(tmp_path: Path) -> None:
    plan = plan_of(diamond(tmp_path), {"base": "success"}, pending_retries=["s_lonely"])
    assert {s.name for s in plan.syncs} == {"s_base", "s_lonely"}


def test_disabled_syncs_are_skipped_with_reason(tmp_path: Path) -> None:
    b = ProjectBuilder(tmp_path)
    b.model("x", sf_sync("off", "X__c", enabled=False))
    plan = plan_of(b, all_syncs=True)
    assert plan.syncs == [] and plan.skipped[0].reason == "disabled (enabled: false)"


def test_plan_json_shape(tmp_path: Path) -> None:
    data = plan_of(diamond(tmp_path), all_syncs=True).to_dict()
    assert [st["stage"] for st in data["stages"]] == [1, 2, 3]
    top = data["stages"][2]["syncs"][0]
    assert top["name"] == "s_top"
    assert {a["sync"] for a in top["after"]} == {"s_left", "s_right", "s_base"}


def test_cycle_names_each_edge_reason(tmp_path: Path) -> None:
    """The cycle error says why each sync needs the next, not only which syncs form it."""
    b = ProjectBuilder(tmp_path)
    b.model("x", sf_sync("a_sync", "X__c", depends_on=["b_sync"]))
    b.model("y", sf_sync("b_sync", "Y__c", depends_on=["a_sync"]))
    with pytest.raises(PlanError) as info:
        plan_of(b, all_syncs=True)
    message = str(info.value)
    assert "a_sync lists b_sync in depends_on" in message and "b_sync lists a_sync in depends_on" in message


def test_selection_does_not_import_the_plan() -> None:
    """``selection`` works on a graph it is given: no ``plan`` <-> ``selection`` import, not even for types."""
    import ast

    import dbt_sync.selection

    tree = ast.parse(Path(dbt_sync.selection.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert "dbt_sync.plan" not in imported
