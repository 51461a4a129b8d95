"""Resolving what a request names to the experiments or registered models it touches.

Runs, logged models, traces and artifact paths belong to an experiment; model versions
to a registered model. Resolution also says whether the resource declares personal data
(``compliance.gdpr.personal_data``, read by the record's own parser), for need-to-know;
sensitivity follows lineage: a logged model made from a personal-data run, and a model
version registered from such a run or model, are personal data too, through every route
that serves them or their files.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from mlflow.exceptions import MlflowException
from mlflow.tracing.constant import TraceMetadataKey

from mlflow_compliance.record import PERSONAL_DATA_TAG, declares_personal_data
from mlflow_compliance.server.authorization.table import Resource

SOURCE_RUN = TraceMetadataKey.SOURCE_RUN

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
    return declares_personal_data((tags or {}).get(PERSONAL_DATA_TAG))


def _as_map(value: Any) -> dict[str, Any]:
    """Tags or metadata as a map, whether given as one or as ``[{key, value}]``."""
    if isinstance(value, dict):
        return value
    if isinstance(value, list):
        return {str(i.get("key")): i.get("value") for i in value if isinstance(i, dict)}
    return {}


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
                experiment_id, personal = str(found[0]), declares_personal_data(found[1])
            target.ids.append(experiment_id)
            target.personal_data |= personal
        return target

    def _logged_model(self, ids: list[str], extra: Mapping[str, Any]) -> Target:
        model = self._tracking().get_logged_model(ids[0])
        target = Target(EXPERIMENT, [model.experiment_id], _personal(model.tags))
        target.personal_data |= self.run_is_personal(model.source_run_id)
        return target

    def run_is_personal(self, run_id: str | None) -> bool:
        """Whether a run (a model's source) declares personal data. A source that no
        longer exists cannot say it does not: it counts as personal (fail closed)."""
        if not run_id:
            return False
        source = self.resolve(Resource.RUN, [run_id], {})
        return source.missing or source.personal_data

    def logged_model_is_personal(self, model_id: str | None) -> bool:
        """The same for a model version's logged model."""
        if not model_id:
            return False
        model = self.resolve(Resource.LOGGED_MODEL, [model_id], {})
        return model.missing or model.personal_data

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
            # Files of a run that no longer exists: nothing says they are not personal.
            target.personal_data = run.missing or run.personal_data
        elif len(parts) > 2:
            model = self.resolve(Resource.LOGGED_MODEL, [parts[2]], extra)
            if not model.missing and model.ids != [parts[0]]:
                return Target(EXPERIMENT, missing=True)
            target.personal_data = model.missing or model.personal_data
        return target

    def _trace(self, ids: list[str], extra: Mapping[str, Any]) -> Target:
        """A trace belongs to its experiment; it is personal data when its tags say so or
        the run it was logged in is (``mlflow.sourceRun``)."""
        target = Target(EXPERIMENT)
        for trace_id in ids:
            info = self._tracking().get_trace_info(trace_id)
            if info is None or not info.experiment_id:  # not an experiment's trace
                return Target(EXPERIMENT, missing=True)
            target.ids.append(str(info.experiment_id))
            target.personal_data |= _personal(info.tags) or self.run_is_personal(
                (info.request_metadata or {}).get(SOURCE_RUN)
            )
        return target

    def _dataset(self, ids: list[str], extra: Mapping[str, Any]) -> Target:
        """An evaluation dataset belongs to every experiment it is linked to (none: only
        admins reach it); personal data when its tags say so."""
        store = self._tracking()
        experiments = [str(e) for e in store.get_dataset_experiment_ids(ids[0])]
        if not experiments:
            return Target(EXPERIMENT, missing=True)
        dataset = store.get_dataset(ids[0])
        return Target(EXPERIMENT, experiments, _personal(dataset.tags))

    def trace_is_personal(
        self, trace: Mapping[str, Any], run_is_personal: Callable[[str | None], bool]
    ) -> bool:
        """The same for a trace as a search answers it (API 3.0 maps or 2.0 lists);
        ``run_is_personal`` may be a per-request cache of ``self.run_is_personal``."""
        tags, metadata = trace.get("tags"), trace.get("trace_metadata",
                                                     trace.get("request_metadata"))
        return _personal(_as_map(tags)) or run_is_personal(_as_map(metadata).get(SOURCE_RUN))

    def _registered_model(self, ids: list[str], extra: Mapping[str, Any]) -> Target:
        return Target(REGISTERED_MODEL, list(ids))

    def _model_version(self, ids: list[str], extra: Mapping[str, Any]) -> Target:
        target = Target(REGISTERED_MODEL, list(ids))
        version, alias = extra.get("version"), extra.get("alias")
        if version or alias:
            registry = self._registry()
            mv = (registry.get_model_version(ids[0], str(version)) if version
                  else registry.get_model_version_by_alias(ids[0], str(alias)))
            target.personal_data = (
                _personal(mv.tags)
                or self.run_is_personal(mv.run_id)
                or self.logged_model_is_personal(getattr(mv, "model_id", None))
            )
        return target
