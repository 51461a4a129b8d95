"""What a tag-writing or tag-deleting request asks, read from its route and body.

Every route that writes or deletes tags of a run, dataset, experiment, registered model,
model version or logged model is listed here by the authorization table's (method,
path), with the kind of record its tags hold and where the request names the object.
A request becomes one or more :class:`TagChange`: the object (None for a create
route: nothing exists yet), the writes and the deletes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from mlflow_compliance.record import RecordKind

RUN_CREATE = "/api/2.0/mlflow/runs/create"
LOG_INPUTS = "/api/2.0/mlflow/runs/log-inputs"
VERSION_CREATE = "/api/2.0/mlflow/model-versions/create"


@dataclass(frozen=True)
class TagChange:
    kind: RecordKind
    # The object whose tags change: run id, experiment id, model name, (name, version),
    # logged model id, dataset id; None when the request creates it.
    ref: tuple[str, ...] | None
    writes: tuple[tuple[str, str], ...] = ()
    deletes: tuple[str, ...] = ()
    # runs/log-inputs: the run the dataset input is logged into.
    run_id: str = ""
    payload: Any = field(default=None, compare=False, repr=False)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def tag_list(tags: Any) -> Iterator[tuple[str, str]]:
    """The (key, value) pairs of a body's ``tags``: a list of {key, value}, an object,
    or (3.0 datasets) a JSON object in a string."""
    if isinstance(tags, str):
        try:
            tags = json.loads(tags)
        except ValueError:
            return
    if isinstance(tags, dict):
        yield from ((str(k), _text(v)) for k, v in tags.items())
    elif isinstance(tags, list):
        for tag in tags:
            if isinstance(tag, dict) and "key" in tag:
                yield str(tag["key"]), _text(tag.get("value", ""))


def _key_value(p: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return ((str(p["key"]), _text(p.get("value"))),) if "key" in p else ()


def _key(p: dict[str, Any]) -> tuple[str, ...]:
    return (str(p["key"]),) if "key" in p else ()


def _run_id(p: dict[str, Any]) -> str:
    return _text(p.get("run_id") or p.get("run_uuid"))


Reader = Callable[[dict[str, Any], dict[str, str]], list[TagChange]]

K = RecordKind


def _create(kind: RecordKind) -> Reader:
    return lambda p, _: [TagChange(kind, None, tuple(tag_list(p.get("tags"))), payload=p)]


def _log_inputs(p: dict[str, Any], _: dict[str, str]) -> list[TagChange]:
    run_id = _run_id(p)
    return [TagChange(K.DATASET, None, tuple(tag_list(d.get("tags"))), run_id=run_id, payload=d)
            for d in p.get("datasets") or () if isinstance(d, dict)]


READERS: dict[tuple[str, str], Reader] = {
    ("POST", RUN_CREATE): _create(K.RUN),
    ("POST", "/api/2.0/mlflow/runs/set-tag"):
        lambda p, _: [TagChange(K.RUN, (_run_id(p),), _key_value(p))],
    ("POST", "/api/2.0/mlflow/runs/log-batch"):
        lambda p, _: [TagChange(K.RUN, (_run_id(p),), tuple(tag_list(p.get("tags"))))],
    ("POST", "/api/2.0/mlflow/runs/delete-tag"):
        lambda p, _: [TagChange(K.RUN, (_run_id(p),), deletes=_key(p))],
    ("POST", LOG_INPUTS): _log_inputs,
    ("POST", "/api/2.0/mlflow/experiments/create"): _create(K.EXPERIMENT),
    ("POST", "/api/2.0/mlflow/experiments/set-experiment-tag"):
        lambda p, _: [TagChange(K.EXPERIMENT, (_text(p.get("experiment_id")),), _key_value(p))],
    ("POST", "/api/2.0/mlflow/experiments/delete-experiment-tag"):
        lambda p, _: [TagChange(K.EXPERIMENT, (_text(p.get("experiment_id")),),
                                deletes=_key(p))],
    ("POST", "/api/2.0/mlflow/registered-models/create"): _create(K.REGISTERED_MODEL),
    ("POST", "/api/2.0/mlflow/registered-models/set-tag"):
        lambda p, _: [TagChange(K.REGISTERED_MODEL, (_text(p.get("name")),), _key_value(p))],
    ("DELETE", "/api/2.0/mlflow/registered-models/delete-tag"):
        lambda p, _: [TagChange(K.REGISTERED_MODEL, (_text(p.get("name")),), deletes=_key(p))],
    ("POST", VERSION_CREATE): _create(K.MODEL_VERSION),
    ("POST", "/api/2.0/mlflow/model-versions/set-tag"):
        lambda p, _: [TagChange(K.MODEL_VERSION, (_text(p.get("name")), _text(p.get("version"))),
                                _key_value(p))],
    ("DELETE", "/api/2.0/mlflow/model-versions/delete-tag"):
        lambda p, _: [TagChange(K.MODEL_VERSION, (_text(p.get("name")), _text(p.get("version"))),
                                deletes=_key(p))],
    ("POST", "/api/2.0/mlflow/logged-models"): _create(K.LOGGED_MODEL),
    ("PATCH", "/api/2.0/mlflow/logged-models/{model_id}/tags"):
        lambda p, params: [TagChange(K.LOGGED_MODEL, (params["model_id"],),
                                     tuple(tag_list(p.get("tags"))))],
    ("DELETE", "/api/2.0/mlflow/logged-models/{model_id}/tags/{tag_key}"):
        lambda p, params: [TagChange(K.LOGGED_MODEL, (params["model_id"],),
                                     deletes=(params["tag_key"],))],
    # Evaluation datasets (API 3.0) are datasets: they hold the dataset record.
    ("POST", "/api/3.0/mlflow/datasets/create"): _create(K.DATASET),
    ("PATCH", "/api/3.0/mlflow/datasets/{dataset_id}/tags"):
        lambda p, params: [TagChange(K.DATASET, (params["dataset_id"],),
                                     tuple(tag_list(p.get("tags"))))],
    ("DELETE", "/api/3.0/mlflow/datasets/{dataset_id}/tags/{key}"):
        lambda p, params: [TagChange(K.DATASET, (params["dataset_id"],),
                                     deletes=(params["key"],))],
}
"""Every route that writes or deletes record tags, by the authorization table's path."""

METHODS = frozenset(method for method, _ in READERS)


def changes(method: str, path: str, payload: Any, params: dict[str, str]) -> list[TagChange]:
    """The tag changes a request asks for; [] for a route that changes no tags."""
    reader = READERS.get((method, path))
    if reader is None:
        return []
    return reader(payload if isinstance(payload, dict) else {}, params)
