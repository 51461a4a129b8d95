"""Resolving what a request names to the experiments or registered models it touches.

Runs, logged models and artifact paths belong to an experiment; model versions
to a registered model. Resolution also says whether the resource's compliance record
declares personal data (``compliance.gdpr.personal_data = true``), for need-to-know.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from mlflow.exceptions import MlflowException

from mlflow_compliance.server.authorization.table import Resource, Source, Where

PERSONAL_DATA_TAG = "compliance.gdpr.personal_data"

# MLflow's own schema (runs, tags), read-only; the MLflow range is pinned and tested.
RUN_QUERY = sa.text(
    "SELECT r.experiment_id, t.value FROM runs r "
    "LEFT OUTER JOIN tags t ON t.run_uuid = r.run_uuid AND t.key = :key "
    "WHERE r.run_uuid = :run_id"
)

EXPERIMENT = "experiment"
REGISTERED_MODEL = "registered_model"


@dataclass
class Target:
    kind: str  # EXPERIMENT or REGISTERED_MODEL
    ids: list[str] = field(default_factory=list)
    personal_data: bool = False
    missing: bool = False  # names a resource that does not exist (or not where it says)


def _personal(tags: Mapping[str, str] | None) -> bool:
    return (tags or {}).get(PERSONAL_DATA_TAG, "").lower() == "true"


def values(where: tuple[Where, ...], params: Mapping[str, str], query: Mapping[str, list[str]],
           body: Any) -> tuple[Where, list[str]] | None:
    """The first ``where`` present in the request, and its value(s) as strings."""
    for w in where:
        raw: Any
        if w.source is Source.PATH:
            raw = params.get(w.name)
        elif w.source is Source.QUERY:
            got = query.get(w.name) or query.get(w.name + "[]")
            raw = got if w.many else (got[0] if got else None)
        else:
            raw = body.get(w.name) if isinstance(body, dict) else None
        if raw is None or raw == "" or raw == []:
            continue
        items = raw if isinstance(raw, list) else [raw]
        return w, [str(v) for v in items]
    return None


class Resolver:
    """Looks resources up in the tracking and registry stores of this server process."""

    def __init__(self) -> None:
        from mlflow.server.handlers import _get_model_registry_store, _get_tracking_store

        self._tracking = _get_tracking_store
        self._registry = _get_model_registry_store

    def resolve(self, resource: Resource, ids: list[str], extra: Mapping[str, Any]) -> Target:
        try:
            return getattr(self, f"_{resource.value}")(ids, extra)
        except MlflowException as e:
            if e.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                return Target(EXPERIMENT, missing=True)
            raise

    def _experiment(self, ids: list[str], extra: Mapping[str, Any]) -> Target:
        return Target(EXPERIMENT, list(ids))

    def _experiment_name(self, ids: list[str], extra: Mapping[str, Any]) -> Target:
        found = self._tracking().get_experiment_by_name(ids[0])
        if found is None:
            return Target(EXPERIMENT, missing=True)
        return Target(EXPERIMENT, [found.experiment_id])

    def _run(self, ids: list[str], extra: Mapping[str, Any]) -> Target:
        target = Target(EXPERIMENT)
        engine = getattr(self._tracking(), "engine", None)
        for run_id in ids:
            if engine is None:
                run = self._tracking().get_run(run_id)
                experiment_id, personal = run.info.experiment_id, _personal(run.data.tags)
            else:
                # One indexed row instead of MLflow's get_run (params, metrics, tags):
                # this runs on every request that names a run.
                with engine.connect() as c:
                    row = c.execute(RUN_QUERY, {"run_id": run_id, "key": PERSONAL_DATA_TAG})
                    found = row.first()
                if found is None:
                    return Target(EXPERIMENT, missing=True)
                experiment_id, personal = str(found[0]), (found[1] or "").lower() == "true"
            target.ids.append(experiment_id)
            target.personal_data |= personal
        return target

    def _logged_model(self, ids: list[str], extra: Mapping[str, Any]) -> Target:
        model = self._tracking().get_logged_model(ids[0])
        return Target(EXPERIMENT, [model.experiment_id], _personal(model.tags))

    def _artifact(self, ids: list[str], extra: Mapping[str, Any]) -> Target:
        # Proxied artifacts live at "<experiment_id>/<run_id>/artifacts/..." or
        # "<experiment_id>/models/<model_id>/artifacts/...".
        parts = [p for p in ids[0].split("/") if p]
        if not parts or not parts[0].isdigit():
            return Target(EXPERIMENT, missing=True)
        target = Target(EXPERIMENT, [parts[0]])
        if len(parts) > 1 and parts[1] != "models":
            # The folder is the experiment's whether or not the run still exists.
            run = self.resolve(Resource.RUN, [parts[1]], extra)
            if not run.missing and run.ids != [parts[0]]:  # another experiment's run
                return Target(EXPERIMENT, missing=True)
            target.personal_data = run.personal_data
        elif len(parts) > 2:
            model = self.resolve(Resource.LOGGED_MODEL, [parts[2]], extra)
            if not model.missing and model.ids != [parts[0]]:
                return Target(EXPERIMENT, missing=True)
            target.personal_data = model.personal_data
        return target

    def _registered_model(self, ids: list[str], extra: Mapping[str, Any]) -> Target:
        return Target(REGISTERED_MODEL, list(ids))

    def _model_version(self, ids: list[str], extra: Mapping[str, Any]) -> Target:
        target = Target(REGISTERED_MODEL, list(ids))
        version = extra.get("version")
        if version:
            mv = self._registry().get_model_version(ids[0], str(version))
            target.personal_data = _personal(mv.tags)
        return target
