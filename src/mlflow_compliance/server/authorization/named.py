"""Objects a request names in its body besides its route's own resource.

A model version registered from another experiment's logged model serves that model's
files; a metric logged with another experiment's ``model_id`` is written into that
model. Each such object is authorized like the route's own resource, with the
permission the request needs on it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from mlflow_compliance.server.authorization.table import Permission, Resource, Route

_LOGGED_MODEL_URI = re.compile(r"^models:/(?P<model_id>m-[^/]+)")
_RUN_URI = re.compile(r"^runs:/(?P<run_id>[^/]+)")
_PROXIED_URI = re.compile(r"^mlflow-artifacts:/+(?P<path>.+)$")


@dataclass(frozen=True)
class Named:
    field: str  # where the request names it, e.g. "source", "metrics[].model_id"
    resource: Resource
    id: str
    permission: Permission


def _model_ids(items: Any, key: str = "model_id") -> Iterator[str]:
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and item.get(key):
            yield str(item[key])


def _version_sources(body: dict[str, Any]) -> Iterator[Named]:
    if body.get("run_id"):
        yield Named("run_id", Resource.RUN, str(body["run_id"]), Permission.READ)
    if body.get("model_id"):
        yield Named("model_id", Resource.LOGGED_MODEL, str(body["model_id"]), Permission.READ)
    source = body.get("source")
    if not isinstance(source, str):
        return
    if m := _LOGGED_MODEL_URI.match(source):
        yield Named("source", Resource.LOGGED_MODEL, m["model_id"], Permission.READ)
    elif m := _RUN_URI.match(source):
        yield Named("source", Resource.RUN, m["run_id"], Permission.READ)
    elif m := _PROXIED_URI.match(source):
        yield Named("source", Resource.ARTIFACT, m["path"], Permission.READ)


def _metric_model(body: dict[str, Any]) -> Iterator[Named]:
    if body.get("model_id"):
        yield Named("model_id", Resource.LOGGED_MODEL, str(body["model_id"]), Permission.EDIT)


def _batch_models(body: dict[str, Any]) -> Iterator[Named]:
    for model_id in _model_ids(body.get("metrics")):
        yield Named("metrics[].model_id", Resource.LOGGED_MODEL, model_id, Permission.EDIT)


def _output_models(body: dict[str, Any]) -> Iterator[Named]:
    for model_id in _model_ids(body.get("models")):
        yield Named("models[].model_id", Resource.LOGGED_MODEL, model_id, Permission.EDIT)


def _input_models(body: dict[str, Any]) -> Iterator[Named]:
    for model_id in _model_ids(body.get("models")):
        yield Named("models[].model_id", Resource.LOGGED_MODEL, model_id, Permission.READ)


def _source_run(body: dict[str, Any]) -> Iterator[Named]:
    if body.get("source_run_id"):
        yield Named("source_run_id", Resource.RUN, str(body["source_run_id"]), Permission.READ)


def _linked_traces(body: dict[str, Any]) -> Iterator[Named]:
    for trace_id in body.get("trace_ids") or []:
        if isinstance(trace_id, str) and trace_id:
            yield Named("trace_ids", Resource.TRACE, trace_id, Permission.EDIT)


def _linked_prompts(body: dict[str, Any]) -> Iterator[Named]:
    for item in body.get("prompt_versions") or []:
        if isinstance(item, dict) and item.get("name"):
            yield Named("prompt_versions[].name", Resource.REGISTERED_MODEL, str(item["name"]),
                        Permission.READ)


def _linked_experiments(body: dict[str, Any]) -> Iterator[Named]:
    for experiment_id in body.get("experiment_ids") or []:
        if isinstance(experiment_id, str | int) and str(experiment_id):
            yield Named("experiment_ids", Resource.EXPERIMENT, str(experiment_id),
                        Permission.EDIT)


def _version_run(fields: dict[str, Any]) -> Iterator[Named]:
    """A version's documents show its source run (params, metrics, datasets): read access
    to that run too, whatever the registered model's grants say."""
    from mlflow.exceptions import MlflowException
    from mlflow.server.handlers import _get_model_registry_store

    name, version = fields.get("name"), fields.get("version")
    if not isinstance(name, str) or not isinstance(version, str) or not version.isdigit():
        return  # the route answers the bad field itself
    try:
        found = _get_model_registry_store().get_model_version(name, version)
    except MlflowException as e:
        if e.error_code in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND",
                            "INVALID_PARAMETER_VALUE"):
            return  # no such version: the route answers it (404, 400) without the run
        raise  # the registry cannot say which run: nothing is decided without it
    if found.run_id:
        yield Named("version", Resource.RUN, str(found.run_id), Permission.READ)


BY_PATH = {
    "/api/2.0/mlflow/model-versions/create": _version_sources,
    "/api/2.0/mlflow/runs/log-metric": _metric_model,
    "/api/2.0/mlflow/runs/log-batch": _batch_models,
    "/api/2.0/mlflow/runs/outputs": _output_models,
    "/api/2.0/mlflow/runs/log-inputs": _input_models,
    "/api/2.0/mlflow/logged-models": _source_run,
    "/api/2.0/mlflow/traces/link-to-run": _linked_traces,
    "/api/2.0/mlflow/traces/link-prompts": _linked_prompts,
    "/api/3.0/mlflow/datasets/{dataset_id}/add-experiments": _linked_experiments,
    "/api/2.0/compliance/model-versions/documents": _version_run,
    "/api/2.0/compliance/model-versions/bundle": _version_run,
    "/compliance/version": _version_run,
    "/compliance/version/sign-off": _version_run,
}
"""Routes whose body (or, for a GET, query) names further objects, and how to find them."""


def named_in_body(route: Route, body: Any, query: dict[str, list[str]] | None = None
                  ) -> list[Named]:
    finder = BY_PATH.get(route.path)
    if finder is not None and route.path.startswith("/compliance/") and query is not None:
        body = {k: v[0] for k, v in query.items() if v}  # the pages name it in the query
    elif finder is not None and route.method == "GET" and query is not None:
        body = {k: v[0] for k, v in query.items() if v}
    if finder is None or not isinstance(body, dict):
        return []
    return list(finder(body))
