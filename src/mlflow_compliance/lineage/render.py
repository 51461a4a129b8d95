"""Showing a lineage graph: a table for the terminal, JSON for programs, and a picture
for people as Mermaid (``flowchart LR``, rendered by GitHub, GitLab and most wikis) or
Graphviz DOT text. Plain text only: no network, no binary needed."""

from __future__ import annotations

import json

from rich.table import Table

from mlflow_compliance.lineage.graph import Graph, Key, Kind, Node

WORDS: dict[Kind, str] = {
    "dataset": "dataset", "run": "run", "logged_model": "logged model",
    "model_version": "model version", "alias": "alias",
}
# Mermaid shapes: (opening, closing) around the label.
_MERMAID_SHAPES: dict[Kind, tuple[str, str]] = {
    "dataset": ("[(", ")]"), "run": ("[", "]"), "logged_model": ("([", "])"),
    "model_version": ("[[", "]]"), "alias": (">", "]"),
}
_DOT_SHAPES: dict[Kind, str] = {
    "dataset": "cylinder", "run": "box", "logged_model": "component",
    "model_version": "box3d", "alias": "cds",
}


def to_dict(graph: Graph, start: list[Key]) -> dict[str, object]:
    """The JSON form: the objects asked about, every object and every edge."""
    return {
        "start": [{"kind": k, "id": i} for k, i in start],
        "nodes": [{"kind": n.kind, "id": n.id, "label": n.label} for n in graph.nodes],
        "edges": [{"from": {"kind": e.source[0], "id": e.source[1]}, "relation": e.relation,
                   "to": {"kind": e.target[0], "id": e.target[1]}} for e in graph.edges],
    }


def to_json(graph: Graph, start: list[Key]) -> str:
    return json.dumps(to_dict(graph, start), indent=2)


def _shown(node: Node) -> str:
    """A node for people: its label, and its id when that says more."""
    return node.label if node.label == node.id else f"{node.label} ({node.id})"


def tables(graph: Graph) -> tuple[Table, Table]:
    """The objects, in lineage order, and the links between them as sentences."""
    objects = Table("kind", "id", "name", title="objects")
    for n in graph.nodes:
        objects.add_row(WORDS[n.kind], n.id, n.label)
    links = Table("from", "relation", "to", title="links")
    for e in graph.edges:
        source, target = graph.node(*e.source), graph.node(*e.target)
        assert source is not None and target is not None
        links.add_row(f"{WORDS[source.kind]} {_shown(source)}", e.relation,
                      f"{WORDS[target.kind]} {_shown(target)}")
    return objects, links


def _names(graph: Graph) -> dict[Key, str]:
    """Short identifiers for pictures: n0, n1, ... in the graph's order."""
    return {n.key: f"n{i}" for i, n in enumerate(graph.nodes)}


def to_mermaid(graph: Graph) -> str:
    """A Mermaid ``flowchart LR``: one shape per kind, the relation on each arrow."""
    names = _names(graph)
    lines = ["flowchart LR"]
    for n in graph.nodes:
        opening, closing = _MERMAID_SHAPES[n.kind]
        text = f"{WORDS[n.kind]}<br/>{n.label}".replace('"', "#quot;")
        lines.append(f'    {names[n.key]}{opening}"{text}"{closing}')
    for e in graph.edges:
        lines.append(f"    {names[e.source]} -- {e.relation} --> {names[e.target]}")
    return "\n".join(lines) + "\n"


def _dot_text(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(graph: Graph) -> str:
    """Graphviz DOT (``dot -Tsvg``): left to right; an alias is drawn after its version,
    the arrow still pointing at the version."""
    names = _names(graph)
    lines = ["digraph lineage {", "    rankdir=LR;"]
    for n in graph.nodes:
        label = _dot_text(f"{WORDS[n.kind]}\n{n.label}").replace("\n", "\\n")
        lines.append(f"    {names[n.key]} [label={label}, shape={_DOT_SHAPES[n.kind]}];")
    for e in graph.edges:
        if e.relation == "points to":
            lines.append(f"    {names[e.target]} -> {names[e.source]} "
                         f"[label={_dot_text(e.relation)}, dir=back];")
        else:
            lines.append(f"    {names[e.source]} -> {names[e.target]} "
                         f"[label={_dot_text(e.relation)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"
