"""The lineage graph: what was made from what, as MLflow recorded it.

Nodes are datasets, runs, logged models, model versions and aliases. Edges read as a
sentence, ``<from> <relation> <to>``: a dataset is *used by* a run, a run *logged* a
logged model, a run or logged model is *registered as* a model version, an alias
*points to* a version. Every relation but the last runs with the lineage (from what
came first to what was made from it); ``points to`` runs against it, so walking
downstream follows it backwards.

The graph is immutable and ordered (kinds in lineage order, then ids), so the same
records always give the same output. ``upstream`` and ``downstream`` are what the
data-subject index and erasure walk: everything a dataset reached, everything a model
version came from.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

Kind = Literal["dataset", "run", "logged_model", "model_version", "alias"]
KINDS: tuple[Kind, ...] = ("dataset", "run", "logged_model", "model_version", "alias")
Relation = Literal["used by", "logged", "registered as", "points to"]
# Whether an edge of this relation runs from what came first to what was made from it.
WITH_THE_LINEAGE: dict[Relation, bool] = {
    "used by": True, "logged": True, "registered as": True, "points to": False,
}

Key = tuple[Kind, str]
"""A node's identity: its kind and id (ids are unique within a kind only)."""


@dataclass(frozen=True)
class Node:
    """One object: ``id`` is the one MLflow knows it by (a dataset: ``NAME@DIGEST``; a
    model version: ``NAME/VERSION``; an alias: ``NAME@ALIAS``); ``label`` is for people."""

    kind: Kind
    id: str
    label: str

    @property
    def key(self) -> Key:
        return (self.kind, self.id)


@dataclass(frozen=True)
class Edge:
    """``source relation target``, e.g. a dataset *used by* a run."""

    source: Key
    relation: Relation
    target: Key


def _order(key: Key) -> tuple[int, str]:
    return KINDS.index(key[0]), key[1]


@dataclass(frozen=True)
class Graph:
    """Nodes and the edges between them; build it with ``Graph.of``."""

    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]

    @classmethod
    def of(cls, nodes: Iterable[Node], edges: Iterable[Edge]) -> Graph:
        """The graph of these nodes (the first of each key kept) and of those edges whose
        two ends are among them: an edge to an object the caller may not read is dropped
        with it."""
        by_key: dict[Key, Node] = {}
        for node in nodes:
            by_key.setdefault(node.key, node)
        kept = {e for e in edges if e.source in by_key and e.target in by_key}
        return cls(
            nodes=tuple(by_key[k] for k in sorted(by_key, key=_order)),
            edges=tuple(sorted(kept, key=lambda e: (*_order(e.source), e.relation,
                                                     *_order(e.target)))),
        )

    @cached_property
    def _by_key(self) -> dict[Key, Node]:
        return {n.key: n for n in self.nodes}

    @cached_property
    def _next(self) -> dict[Key, set[Key]]:
        """Key -> what was made from it, directly."""
        after: dict[Key, set[Key]] = {n.key: set() for n in self.nodes}
        for e in self.edges:
            first, then = ((e.source, e.target) if WITH_THE_LINEAGE[e.relation]
                           else (e.target, e.source))
            after[first].add(then)
        return after

    @cached_property
    def _previous(self) -> dict[Key, set[Key]]:
        """Key -> what it was made from, directly."""
        before: dict[Key, set[Key]] = {n.key: set() for n in self.nodes}
        for first, thens in self._next.items():
            for then in thens:
                before[then].add(first)
        return before

    def node(self, kind: Kind, id: str) -> Node | None:
        return self._by_key.get((kind, id))

    def __contains__(self, key: object) -> bool:
        return key in self._by_key

    def of_kind(self, kind: Kind) -> tuple[Node, ...]:
        return tuple(n for n in self.nodes if n.kind == kind)

    def downstream(self, key: Key) -> frozenset[Key]:
        """Everything made from ``key``, directly or not (``key`` excluded)."""
        return _reach(key, self._next)

    def upstream(self, key: Key) -> frozenset[Key]:
        """Everything ``key`` was made from, directly or not (``key`` excluded)."""
        return _reach(key, self._previous)

    def lineage(self, keys: Iterable[Key]) -> Graph:
        """The lineage of these objects: them, what they came from and what was made from
        them, with the edges among those."""
        keep: set[Key] = set()
        for key in keys:
            if key in self:
                keep |= {key} | self.upstream(key) | self.downstream(key)
        return Graph.of((self._by_key[k] for k in keep), self.edges)


def _reach(start: Key, links: dict[Key, set[Key]]) -> frozenset[Key]:
    seen: set[Key] = set()
    todo = list(links.get(start, ()))
    while todo:
        key = todo.pop()
        if key not in seen and key != start:
            seen.add(key)
            todo.extend(links.get(key, ()))
    return frozenset(seen)
