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
* Graph operators walk the sync DAG (the edges of ``plan.dependency_edges``): ``+name`` adds everything upstream,
  ``name+`` everything downstream, ``2+name`` / ``name+1`` limit the depth, ``@name`` adds everything
  downstream and everything upstream of those (what they need to run).
"""

from __future__ import annotations

import fnmatch
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from dbt_sync.errors import SelectionError, did_you_mean

if TYPE_CHECKING:
    from dbt_sync.plan import Edge
    from dbt_sync.spec import SyncSpec

METHODS = ("sync", "model", "tag", "destination", "object", "mode")
_ATOM = re.compile(r"^(?P<up>(\d*)\+)?(?P<body>[^+]+?)(?P<down>\+(\d*))?$")


class Selector:
    def __init__(self, specs: Sequence[SyncSpec], edges: Iterable[Edge]) -> None:
        self.specs = list(specs)
        self.parents: dict[str, set[str]] = defaultdict(set)
        self.children: dict[str, set[str]] = defaultdict(set)
        for e in edges:
            self.parents[e.downstream].add(e.upstream)
            self.children[e.upstream].add(e.downstream)
        self._reduce()
        #: dbt-style warnings, one per ``--select`` criterion that matched no sync
        self.unmatched: list[str] = []
        self._hints: dict[str, str] = {}

    def _reduce(self) -> None:
        """Keep only direct parents, so ``1+x`` means one step as in dbt.

        Model-ancestry edges are transitive (base -> top as well as base -> left
        -> top); an edge is dropped when a longer path already implies it.
        """
        for child, parents in list(self.parents.items()):
            implied = set()
            for parent in parents:
                implied |= self._walk({parent}, self.parents, None)
            for parent in parents & implied:
                self.parents[child].discard(parent)
                self.children[parent].discard(child)

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
            result = base | self._walk(base, self.children, None)
            return result | self._walk(result, self.parents, None)
        m = _ATOM.match(text)
        if not m:
            raise SelectionError(f"cannot parse selector '{text}'. Examples: contacts_sync, +dim_contacts, tag:crm+.")
        base = self._method(m.group("body"))
        result = set(base)
        if m.group("up"):
            result |= self._walk(base, self.parents, _depth(m.group(2)))
        if m.group("down"):
            result |= self._walk(base, self.children, _depth(m.group(5)))
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
    def _walk(start: set[str], graph: dict[str, set[str]], depth: int | None) -> set[str]:
        seen: set[str] = set()
        frontier = set(start)
        level = 0
        while frontier and (depth is None or level < depth):
            level += 1
            nxt = set()
            for node in frontier:
                nxt |= graph.get(node, set())
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
