"""The tags an object holds now, read from MLflow's own stores (blocking: call in a thread).

The compliance validation judges a write by the record it leaves behind, so it needs
the record before it: the run's, experiment's, model's, version's, logged model's or
evaluation dataset's current tags, and a run's dataset inputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from mlflow.entities import Run

from mlflow_compliance.record import RecordKind

RUN_TAGS = sa.text("SELECT key, value FROM tags WHERE run_uuid = :run_id")


def _tracking() -> Any:
    from mlflow.server.handlers import _get_tracking_store

    return _get_tracking_store()


def _registry() -> Any:
    from mlflow.server.handlers import _get_model_registry_store

    return _get_model_registry_store()


def run(run_id: str) -> Run:
    """The run (MlflowException when there is none)."""
    found: Run = _tracking().get_run(run_id)
    return found


def run_tags(run_id: str) -> Mapping[str, str]:
    """The run's tags. On a SQL store one indexed query (every compliance tag write
    needs them), instead of MLflow's get_run, which also loads params, metrics and
    inputs; a run that does not exist has none, and MLflow answers the write itself."""
    engine = getattr(_tracking(), "engine", None)
    if engine is None:
        return dict(run(run_id).data.tags)
    with engine.connect() as c:
        return {str(k): "" if v is None else str(v)
                for k, v in c.execute(RUN_TAGS, {"run_id": run_id})}


def input_tags(found: Run) -> list[dict[str, str]]:
    """The tags of each dataset input of the run."""
    inputs = found.inputs.dataset_inputs if found.inputs else []
    return [{t.key: t.value for t in d.tags} for d in inputs]


def current_tags(kind: RecordKind, ref: tuple[str, ...]) -> Mapping[str, str]:
    """The object's tags now (MlflowException when it does not exist: MLflow then
    answers the request with its own error, the layer lets it through)."""
    if kind is RecordKind.RUN:
        return run_tags(ref[0])
    if kind is RecordKind.EXPERIMENT:
        return dict(_tracking().get_experiment(ref[0]).tags)
    if kind is RecordKind.REGISTERED_MODEL:
        return dict(_registry().get_registered_model(ref[0]).tags or {})
    if kind is RecordKind.MODEL_VERSION:
        return dict(_registry().get_model_version(ref[0], ref[1]).tags or {})
    if kind is RecordKind.LOGGED_MODEL:
        return dict(_tracking().get_logged_model(ref[0]).tags or {})
    if kind is RecordKind.DATASET:
        tags = _tracking().get_dataset(ref[0]).tags or {}
        return {str(k): "" if v is None else str(v) for k, v in tags.items()}
    return {}


def logged_model_run(model_id: str) -> str:
    """The run a logged model was made in ('' when none)."""
    return str(_tracking().get_logged_model(model_id).source_run_id or "")
