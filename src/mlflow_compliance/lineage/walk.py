"""Building the lineage graph from MLflow's own records, over REST, as the caller.

MLflow 3.17 records a run's dataset inputs (``run.inputs.dataset_inputs``) and the
logged models it used (``model_inputs``), a logged model's source run, a model
version's run and logged model (``models:/<model id>`` as its source), and a
registered model's aliases; but no search goes from a dataset to its runs. So the
graph is read whole, in few large requests, and walked in memory: the readable
experiments (or those given), their active runs (pages of 2,000, as ``check`` reads
them), their logged models (pages of 1,000), every readable model version (pages of
10,000) and registered model with its aliases (pages of 1,000).

Only what the caller may read appears: the server narrows every search, and an edge to
an object that was not read is dropped (``Graph.of``). Asking for an object the caller
may not read is the same ``NotFound`` as asking for one that does not exist.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from mlflow_compliance.checks.collect import Progress, readable_experiments
from mlflow_compliance.checks.collect import active_runs_json as runs_of
from mlflow_compliance.lineage.graph import Edge, Graph, Key, Kind, Node
from mlflow_compliance.paging import model_versions, pages

LOGGED_MODEL_PAGE = 1000
MODEL_PAGE = 1000
EXPERIMENTS_PER_SEARCH = 100  # MLflow caps the experiment ids of one search
# What the server answers for an object that is not there or not the caller's to read.
ABSENT = {"RESOURCE_DOES_NOT_EXIST", "PERMISSION_DENIED", "INVALID_PARAMETER_VALUE",
          "NOT_FOUND"}


class NotFound(Exception):
    """The object asked about does not exist, or the caller may not read it."""


@dataclass(frozen=True)
class Start:
    """The object a lineage is asked for: ``kind`` and what names it (a dataset:
    ``NAME`` or ``NAME@DIGEST``; a model version: ``NAME/VERSION``)."""

    kind: Kind
    id: str


def lineage(client: MlflowClient, start: Start, experiments: tuple[str, ...] = (),
            progress: Progress = lambda what, n: None) -> Graph:
    """The lineage of ``start``: what it came from and what was made from it, among the
    runs of ``experiments`` (default: every experiment the caller may read) and the
    start's own experiment."""
    home = _home_experiment(client, start)
    scope = tuple(sorted(set(experiments) | home)) if experiments else None
    graph = read(client, scope, progress, also=home)
    keys = start_keys(graph, start)
    if not keys:
        raise NotFound(f"{_name(start)} not found (or you may not read it)")
    return graph.lineage(keys)


def read(client: MlflowClient, experiments: tuple[str, ...] | None,
         progress: Progress = lambda what, n: None, also: set[str] | None = None) -> Graph:
    """Everything the caller may read, as one graph: the runs of ``experiments`` (None:
    every readable active experiment, plus ``also``), their logged models, and every
    readable model version and alias."""
    ids = list(experiments) if experiments is not None else sorted(
        {e.experiment_id for e in readable_experiments(client)} | (also or set()))
    progress("experiments", len(ids))
    nodes: list[Node] = []
    edges: list[Edge] = []
    for chunk in _chunks(ids):
        for run in runs_of(client, chunk, progress):
            _add_run(run, nodes, edges)
        for model in _logged_models(client, chunk, progress):
            nodes.append(Node("logged_model", model.model_id, model.name))
            if model.source_run_id:
                edges.append(Edge(("run", model.source_run_id), "logged",
                                  ("logged_model", model.model_id)))
    logged = {n.id for n in nodes if n.kind == "logged_model"}
    for version in model_versions(client, None, lambda n: progress("model versions", n)):
        _add_version(version, logged, nodes, edges)
    for name, alias, version_number in _aliases(client):
        nodes.append(Node("alias", f"{name}@{alias}", alias))
        edges.append(Edge(("alias", f"{name}@{alias}"), "points to",
                          ("model_version", f"{name}/{version_number}")))
    return Graph.of(nodes, edges)


def _add_run(run: dict[str, Any], nodes: list[Node], edges: list[Edge]) -> None:
    """A run (the REST API's JSON), its datasets and the logged models it used or logged."""
    info = run["info"]
    run_id = info["run_id"]
    nodes.append(Node("run", run_id, info.get("run_name") or run_id))
    inputs = run.get("inputs") or {}
    for used in inputs.get("dataset_inputs") or []:
        dataset = used.get("dataset") or {}
        key = f"{dataset.get('name', '')}@{dataset.get('digest', '')}"
        nodes.append(Node("dataset", key, dataset.get("name", "")))
        edges.append(Edge(("dataset", key), "used by", ("run", run_id)))
    for used in inputs.get("model_inputs") or []:
        edges.append(Edge(("logged_model", used["model_id"]), "used by", ("run", run_id)))
    for made in (run.get("outputs") or {}).get("model_outputs") or []:
        edges.append(Edge(("run", run_id), "logged", ("logged_model", made["model_id"])))


def _add_version(version: ModelVersion, logged: set[str], nodes: list[Node],
                 edges: list[Edge]) -> None:
    """A model version, registered from its logged model when the caller may read that,
    else from its run."""
    key: Key = ("model_version", f"{version.name}/{version.version}")
    nodes.append(Node("model_version", key[1], f"{version.name} v{version.version}"))
    model_id = model_id_of(version)
    if model_id in logged:
        edges.append(Edge(("logged_model", str(model_id)), "registered as", key))
    elif version.run_id:
        edges.append(Edge(("run", version.run_id), "registered as", key))


def model_id_of(version: ModelVersion) -> str | None:
    """The logged model a version was registered from: its ``model_id``, or the id in a
    ``models:/<id>`` source."""
    if getattr(version, "model_id", None):
        return str(version.model_id)
    source = version.source or ""
    if source.startswith("models:/m-"):
        return source.removeprefix("models:/").split("/")[0]
    return None


def start_keys(graph: Graph, start: Start) -> list[Key]:
    """The nodes of ``graph`` that ``start`` names (a dataset NAME: each of its digests)."""
    if start.kind != "dataset":
        return [(start.kind, start.id)] if (start.kind, start.id) in graph else []
    datasets = graph.of_kind("dataset")
    if ("dataset", start.id) in graph:  # NAME@DIGEST
        return [("dataset", start.id)]
    return [n.key for n in datasets if n.label == start.id]  # NAME: every digest of it


def _home_experiment(client: MlflowClient, start: Start) -> set[str]:
    """The experiment holding the start object, read directly (so an object that is not
    there, or not the caller's, is NotFound); a dataset has none of its own."""
    try:
        if start.kind == "run":
            return {client.get_run(start.id).info.experiment_id}
        if start.kind == "logged_model":
            return {client.get_logged_model(start.id).experiment_id}
        if start.kind == "model_version":
            name, _, number = start.id.rpartition("/")
            version = client.get_model_version(name, number)
            return _run_experiment(client, version.run_id)
    except MlflowException as e:
        if e.error_code in ABSENT:
            raise NotFound(f"{_name(start)} not found (or you may not read it)") from None
        raise
    return set()


def _run_experiment(client: MlflowClient, run_id: str | None) -> set[str]:
    """A version's run's experiment; none when the caller may not read the run."""
    if not run_id:
        return set()
    try:
        return {client.get_run(run_id).info.experiment_id}
    except MlflowException as e:
        if e.error_code in ABSENT:
            return set()
        raise


def _name(start: Start) -> str:
    option = {"run": "--run", "dataset": "--dataset", "model_version": "--model",
              "logged_model": "--logged-model", "alias": "--model"}[start.kind]
    return f"{option}: {start.id}"


def _chunks(ids: list[str]) -> Iterator[list[str]]:
    for at in range(0, len(ids), EXPERIMENTS_PER_SEARCH):
        yield ids[at:at + EXPERIMENTS_PER_SEARCH]


def _logged_models(client: MlflowClient, experiments: list[str],
                   progress: Progress) -> Iterator[Any]:
    return pages(lambda token: client.search_logged_models(
        experiment_ids=experiments, max_results=LOGGED_MODEL_PAGE, page_token=token),
        lambda n: progress("logged models", n))


def _aliases(client: MlflowClient) -> Iterator[tuple[str, str, str]]:
    """(model name, alias, version) of every readable registered model's aliases."""
    token = None
    while True:
        page = client.search_registered_models(max_results=MODEL_PAGE, page_token=token)
        for model in page:
            for alias, version in (model.aliases or {}).items():
                yield model.name, alias, str(version)
        token = page.token
        if not token:
            return
