"""``--select`` / ``--exclude`` in dbt's syntax, over syncs.

* Space-separated (or repeated) selectors are a union; comma-joined ones an
  intersection: ``tag:crm,destination:hubspot``.
* Methods: a bare name matches a sync name or a model name (``*`` globs);
  ``sync:``, ``model:``, ``tag:``, ``destination:``, ``object:``, ``mode:``.
* A criterion (one space-separated selector) that matches no sync is not an
  error, as in dbt: :attr:`Selector.unmatched` keeps dbt's warning for it
  ("The selection criterion 'x' does not match any enabled nodes", here
  "... any sync"), with a did-you-mean for a mistyped name. An unknown
  method or an unparsable selector is an error (``SelectionError``).
* Graph operators walk the sync DAG (the graph of ``plan.sync_graph``): ``+name`` adds everything upstream,
  ``name+`` everything downstream, ``2+name`` / ``name+1`` limit the depth, ``@name`` adds everything
  downstream and everything upstream of those (what they need to run).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

import networkx as nx

from dbt_sync.errors import SelectionError, did_you_mean

if TYPE_CHECKING:
    from dbt_sync.spec import SyncSpec

METHODS = ("sync", "model", "tag", "destination", "object", "mode")
_ATOM = re.compile(r"^(?P<up>(\d*)\+)?(?P<body>[^+]+?)(?P<down>\+(\d*))?$")


class Selector:
    def __init__(self, specs: Sequence[SyncSpec], graph: nx.DiGraph) -> None:
        """``graph``: sync names as nodes, an edge from each sync to every sync that needs it."""
        self.specs = list(specs)
        self.graph = self._reduce(graph)
        #: dbt-style warnings, one per ``--select`` criterion that matched no sync
        self.unmatched: list[str] = []
        self._hints: dict[str, str] = {}

    @staticmethod
    def _reduce(graph: nx.DiGraph) -> nx.DiGraph:
        """Keep only direct parents, so ``1+x`` means one step as in dbt.

        Model-ancestry edges are transitive (base -> top as well as base -> left
        -> top); an edge is dropped when a longer path already implies it (the
        transitive reduction; a graph with a cycle, which no plan accepts, is
        kept as it is).
        """
        if not nx.is_directed_acyclic_graph(graph):
            return graph
        return nx.transitive_reduction(graph)

    def select(self, select: Sequence[str], exclude: Sequence[str]) -> set[str]:
        everything = {s.name for s in self.specs}
        self.unmatched = []
        chosen = self._union(select, warn=True) if _tokens(select) else everything
        return chosen - (self._union(exclude) if _tokens(exclude) else set())

    def _union(self, values: Sequence[str], warn: bool = False) -> set[str]:
        out: set[str] = set()
        for token in _tokens(values):
            parts = [p for p in token.split(",") if p]
            self._hints.clear()
            sets = [self._atom(p) for p in parts]
            matched = set.intersection(*sets) if sets else set()
            if warn and not matched:
                hint = "".join(self._hints.values())
                self.unmatched.append(f"The selection criterion '{token}' does not match any sync.{hint}")
            out |= matched
        return out

    def _atom(self, text: str) -> set[str]:
        if text.startswith("@"):  # dbt's "at" operator: the syncs, their descendants, and the ancestors of all those
            if "+" in text:
                raise SelectionError(f"cannot parse selector '{text}': as in dbt, '@' is not combined with '+'.")
            base = self._method(text[1:])
            result = base | self._walk(base, self.graph.successors, None)
            return result | self._walk(result, self.graph.predecessors, None)
        m = _ATOM.match(text)
        if not m:
            raise SelectionError(f"cannot parse selector '{text}'. Examples: contacts_sync, +dim_contacts, tag:crm+.")
        base = self._method(m.group("body"))
        result = set(base)
        if m.group("up"):
            result |= self._walk(base, self.graph.predecessors, _depth(m.group(2)))
        if m.group("down"):
            result |= self._walk(base, self.graph.successors, _depth(m.group(5)))
        return result

    def _method(self, body: str) -> set[str]:
        method, sep, value = body.partition(":")
        if not sep:
            method, value = "", body
        elif method not in METHODS:
            raise SelectionError(
                f"unknown selector method '{method}:'.{did_you_mean(method, METHODS)} "
                f"Allowed: {', '.join(m + ':' for m in METHODS)} or a bare sync/model name."
            )
        getters: dict[str, Callable[[SyncSpec], Iterable[str]]] = {
            "sync": lambda s: [s.name],
            "model": lambda s: [s.model_name],
            "tag": lambda s: s.tags,
            "destination": lambda s: [s.destination],
            "object": lambda s: [s.object],
            "mode": lambda s: [s.mode],
            "": lambda s: [s.name, s.model_name],
        }
        getter = getters[method]
        matched = {s.name for s in self.specs if any(fnmatch.fnmatchcase(v, value) for v in getter(s))}
        if not matched and method in ("", "sync", "model"):
            names = [s.name for s in self.specs] + [s.model_name for s in self.specs]
            self._hints[body] = did_you_mean(value, names)
        return matched

    @staticmethod
    def _walk(start: set[str], neighbours: Callable[[str], Iterator[str]], depth: int | None) -> set[str]:
        seen: set[str] = set()
        frontier = set(start)
        level = 0
        while frontier and (depth is None or level < depth):
            level += 1
            nxt: set[str] = set()
            for node in frontier:
                nxt.update(neighbours(node))
            nxt -= seen | start
            seen |= nxt
            frontier = nxt
        return seen


def _depth(digits: str | None) -> int | None:
    return int(digits) if digits else None


def _tokens(values: Sequence[str]) -> list[str]:
    out: list[str] = []
    for value in values:
        out += value.split()
    return out
