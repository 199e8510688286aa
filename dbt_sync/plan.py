"""The sync plan: which syncs run, in which order, and which can run together.

Order matters in a CRM: an account must exist before a contact points at it,
and a deal can only be associated with contacts that are already there.
Sync B runs after sync A (B *needs* A) when

* B looks up records that A writes (a ``lookup`` field to A's object, same
  destination),
* B associates its records with records that A writes (an ``association``
  to A's object, same destination),
* B says ``depends_on: [A]``, or
* B's model depends on A's model in the dbt DAG (directly or not) **and**
  both syncs write to the same destination.

A dbt dependency between models of syncs to different destinations is not an
edge: a HubSpot sync cannot need a record that only exists in Salesforce, so
one destination's failure (an expired token, a daily limit) never holds up
the other. A sync runs after, and is skipped when a sync it needs (directly or
through other syncs) fails as a whole. Syncs with no path between them share
a stage and may run concurrently. docs/spec.md states the same rule.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import networkx as nx

from dbt_sync.errors import PlanError
from dbt_sync.manifest import BUILT_STATUSES, Manifest, RunResults
from dbt_sync.selection import Selector
from dbt_sync.spec import SyncSpec

log = logging.getLogger("dbt_sync")

class EdgeKind(str, Enum):
    """Why one sync runs after another (``plan --json`` shows the value)."""

    LOOKUP = "lookup"
    ASSOCIATION = "association"
    DEPENDS_ON = "depends_on"
    MODEL = "model"  # dbt DAG ancestry, both syncs to the same destination
    TRANSITIVE = "transitive"  # through syncs left out of the plan

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Edge:
    upstream: str
    downstream: str
    reason: str
    kind: EdgeKind = EdgeKind.DEPENDS_ON


@dataclass(frozen=True)
class Closure(Edge):
    """An ordering between planned syncs; ``via`` lists the unplanned syncs it passes through."""

    via: tuple[str, ...] = ()


@dataclass(frozen=True)
class Skipped:
    sync: SyncSpec
    reason: str


@dataclass
class Plan:
    stages: list[list[SyncSpec]]
    skipped: list[Skipped]
    edges: list[Edge]
    manifest: Manifest
    run_results: RunResults | None = None
    upstream: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    closure: Sequence[Closure] = ()
    #: dbt-style selection warnings (a criterion that matched nothing; "Nothing to do")
    warnings: Sequence[str] = ()

    @property
    def syncs(self) -> list[SyncSpec]:
        return [s for stage in self.stages for s in stage]

    def upstream_of(self, name: str) -> tuple[str, ...]:
        return self.upstream.get(name, ())

    def planned_edges(self) -> list[Edge]:
        """Each direct constraint between planned syncs, with its reason, in stage order.

        A constraint through syncs left out of the plan shows as one ``transitive``
        edge naming the path.
        """
        order = {s.name: (i, s.name) for i, stage in enumerate(self.stages) for s in stage}
        return sorted(self.closure, key=lambda e: (order[e.downstream], order[e.upstream]))

    def to_dict(self) -> dict[str, Any]:
        reasons: dict[str, list[dict[str, str]]] = defaultdict(list)
        for edge in self.planned_edges():
            reasons[edge.downstream].append({"sync": edge.upstream, "kind": edge.kind.value, "reason": edge.reason})
        return {
            "manifest": {
                "path": str(self.manifest.path),
                "dbt_version": self.manifest.dbt_version,
                "invocation_id": self.manifest.invocation_id,
            },
            "run_results": (
                {"path": str(self.run_results.path), "invocation_id": self.run_results.invocation_id}
                if self.run_results
                else None
            ),
            "stages": [
                {
                    "stage": i + 1,
                    "syncs": [
                        {
                            "name": s.name,
                            "model": s.model_name,
                            "destination": s.destination,
                            "object": s.object,
                            "mode": s.mode,
                            "after": reasons.get(s.name, []),
                        }
                        for s in stage
                    ],
                }
                for i, stage in enumerate(self.stages)
            ],
            "skipped": [{"name": k.sync.name, "model": k.sync.model_name, "reason": k.reason} for k in self.skipped],
            "warnings": list(self.warnings),
        }


def dependency_edges(specs: Sequence[SyncSpec], manifest: Manifest) -> list[Edge]:
    """Every ordering constraint between the given syncs, with its kind and reason (rule: module docstring).

    Returns one edge per (upstream, downstream) pair; when several rules apply,
    the first of lookup, association, depends_on, model names it.
    """
    edges: list[Edge] = []
    seen: set[tuple[str, str]] = set()

    def add(a: SyncSpec, b: SyncSpec, kind: EdgeKind, reason: str) -> None:
        if a.name != b.name and (a.name, b.name) not in seen:
            seen.add((a.name, b.name))
            edges.append(Edge(a.name, b.name, reason, kind))

    by_name = {s.name: s for s in specs}
    ancestors = {uid: manifest.ancestors(uid) for uid in {s.model_unique_id for s in specs}}
    writers: dict[tuple[str, str], list[SyncSpec]] = defaultdict(list)
    for spec in specs:
        writers[spec.written_objects].append(spec)

    for b in specs:
        for m in b.fields:
            if m.lookup:
                for a in writers.get((b.destination, m.lookup.object.lower()), []):
                    add(a, b, EdgeKind.LOOKUP,
                        f"{b.name} looks up {m.lookup.object} records ({m.name}) that {a.name} writes")
        for assoc in b.associations:
            for a in writers.get((b.destination, assoc.to.lower()), []):
                add(a, b, EdgeKind.ASSOCIATION, f"{b.name} associates with {assoc.to} records that {a.name} writes")
        for dep in b.depends_on:
            if dep in by_name:
                add(by_name[dep], b, EdgeKind.DEPENDS_ON, f"{b.name} lists {dep} in depends_on")
        for a in specs:
            if (
                a.destination == b.destination
                and a.model_unique_id != b.model_unique_id
                and a.model_unique_id in ancestors[b.model_unique_id]
            ):
                add(a, b, EdgeKind.MODEL,
                    f"model {b.model_name} depends on {a.model_name} and both sync to {b.destination}")
    return edges


def sync_graph(names: Iterable[str], edges: Iterable[Edge]) -> nx.DiGraph:
    """The syncs ``names`` as nodes, and the ``edges`` between two of them (upstream → downstream).

    Each graph edge keeps its :class:`Edge` (or :class:`Closure`) under the
    attribute ``edge``; edges naming a sync outside ``names`` are left out.
    Nodes are added in sorted order, so walks and the cycle reported are the
    same from run to run.
    """
    graph = nx.DiGraph()
    graph.add_nodes_from(sorted(names))
    for e in edges:
        if e.upstream in graph and e.downstream in graph:
            graph.add_edge(e.upstream, e.downstream, edge=e)
    return graph


def check_acyclic(graph: nx.DiGraph) -> None:
    """Raise :class:`PlanError` naming one cycle of ``graph``: its syncs in order and each edge's reason."""
    try:
        cycle = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        return
    names = [u for u, _ in cycle] + [cycle[-1][1]]
    reasons = "; ".join(graph.edges[u, v]["edge"].reason for u, v in cycle)
    raise PlanError(
        "syncs depend on each other in a cycle: "
        + " -> ".join(names)
        + f" ({reasons}). Break it by removing a depends_on, a lookup or an association."
    )


def _stages(graph: nx.DiGraph) -> list[list[str]]:
    """Each sync one stage after its latest upstream (topological generations); cycles raise :class:`PlanError`."""
    check_acyclic(graph)
    return [sorted(generation) for generation in nx.topological_generations(graph)]


def build_plan(
    specs: Sequence[SyncSpec],
    manifest: Manifest,
    run_results: RunResults | None,
    *,
    select: Sequence[str] = (),
    exclude: Sequence[str] = (),
    all_syncs: bool = False,
    pending_retries: Iterable[str] = (),
) -> Plan:
    """Order the selected syncs into stages.

    By default a sync is planned only when its model was built successfully by
    the latest dbt invocation, or when it has records waiting for a retry;
    ``all_syncs`` plans every enabled sync.
    """
    edges = dependency_edges(specs, manifest)
    graph = sync_graph((s.name for s in specs), edges)
    full_stages = _stages(graph)  # raises on cycles among all syncs
    order = {n: i for i, stage in enumerate(full_stages) for n in stage}

    selector = Selector(specs, graph)
    chosen = selector.select(select, exclude)
    warnings = selection_warnings(selector, chosen)
    pending = set(pending_retries)

    skipped: list[Skipped] = []
    planned: list[SyncSpec] = []
    for spec in sorted(specs, key=lambda s: (order[s.name], s.name)):
        if spec.name not in chosen:
            continue
        if not spec.enabled:
            skipped.append(Skipped(spec, "disabled (enabled: false)"))
            continue
        if not all_syncs:
            reason = _not_built_reason(spec, run_results)
            if reason and spec.name not in pending:
                skipped.append(Skipped(spec, reason))
                continue
        planned.append(spec)

    planned_names = [s.name for s in planned]
    closure_edges = _transitive_edges(planned_names, graph)
    closure_graph = sync_graph(planned_names, closure_edges)
    stage_names = _stages(closure_graph)
    by_name = {s.name: s for s in planned}
    return Plan(
        stages=[[by_name[n] for n in stage] for stage in stage_names],
        skipped=skipped,
        edges=edges,
        manifest=manifest,
        run_results=run_results,
        upstream={n: tuple(sorted(up)) for n in planned_names if (up := nx.ancestors(closure_graph, n))},
        closure=closure_edges,
        warnings=warnings,
    )


NOTHING_TO_DO = "Nothing to do. Try checking your syncs' meta and your --select / --exclude arguments."


def selection_warnings(selector: Selector, chosen: set[str]) -> list[str]:
    """dbt's warnings for a selection, logged as dbt logs them (exit code unchanged).

    One per ``--select`` criterion that matched no sync, then ``Nothing to do``
    when the selection left no sync at all (dbt: NoNodesForSelectionCriteria,
    NothingToDo).
    """
    warnings = list(selector.unmatched)
    if not chosen:
        warnings.append(NOTHING_TO_DO)
    for warning in warnings:
        log.warning("%s", warning)
    return warnings


def select_syncs(
    specs: Sequence[SyncSpec], manifest: Manifest, select: Sequence[str], exclude: Sequence[str]
) -> set[str]:
    """The names of the syncs ``--select`` / ``--exclude`` choose (enabled or not), warning as dbt does."""
    selector = Selector(specs, sync_graph((s.name for s in specs), dependency_edges(specs, manifest)))
    chosen = selector.select(select, exclude)
    selection_warnings(selector, chosen)
    return chosen


def _transitive_edges(names: Sequence[str], graph: nx.DiGraph) -> list[Closure]:
    """Orderings between planned syncs, kept through syncs left out of the plan.

    One ``Closure`` per (upstream, downstream) pair of planned syncs joined
    directly or only through unplanned syncs; ``via`` holds the unplanned syncs
    of one shortest such path (empty when the two are joined directly).
    Paths through another planned sync are implied by its own closures.
    """
    succs: dict[str, list[Edge]] = {n: [e for _, _, e in graph.out_edges(n, data="edge")] for n in graph}
    wanted = set(names)
    out: list[Closure] = []
    for start in names:
        # breadth first, so the path kept is a shortest one; planned syncs end a path
        parent: dict[str, str] = {}
        frontier = [start]
        seen = {start}
        while frontier:
            nxt: list[str] = []
            for node in frontier:
                for e in sorted(succs[node], key=lambda e: e.downstream):
                    if e.downstream in seen:
                        continue
                    seen.add(e.downstream)
                    parent[e.downstream] = node
                    if e.downstream not in wanted:
                        nxt.append(e.downstream)
                        continue
                    via = _path(parent, start, node)
                    kind = EdgeKind.TRANSITIVE if via else e.kind
                    reason = f"through {' -> '.join(via)} (not planned)" if via else e.reason
                    out.append(Closure(start, e.downstream, reason, kind, via))
            frontier = nxt
    return out


def _path(parent: Mapping[str, str], start: str, node: str) -> tuple[str, ...]:
    """The unplanned syncs from ``start`` (excluded) to ``node`` (included, unless it is ``start``)."""
    path: list[str] = []
    while node != start:
        path.append(node)
        node = parent[node]
    return tuple(reversed(path))


def _not_built_reason(spec: SyncSpec, run_results: RunResults | None) -> str | None:
    if run_results is None:
        return "no run_results.json: run dbt first, or pass --all to plan every sync"
    status = run_results.status(spec.model_unique_id)
    if status in BUILT_STATUSES:
        return None
    if status is None:
        command = f" (`dbt {run_results.command}`)" if run_results.command else ""
        return (
            f"model {spec.model_name} was not built by the latest dbt invocation{command} "
            "(pass --all to include it)"
        )
    message = run_results.messages.get(spec.model_unique_id)
    detail = f": {message}" if message and status == "error" else ""
    return f"model {spec.model_name} {status} in the latest dbt invocation{detail}"
