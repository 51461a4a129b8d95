"""Reading the runs and model versions whose retention is looked at, in few large
requests: the same paging as ``check`` (checks/collect.py), without the artifact
lookups, which retention does not need."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from mlflow_compliance.checks.collect import (
    Progress,
    active_runs_json,
    readable_experiments,
)
from mlflow_compliance.checks.model import ServerFacts, Target
from mlflow_compliance.checks.targets import run_target, run_target_from_json, version_target
from mlflow_compliance.paging import model_versions


@dataclass
class Read:
    """Every readable run and model version of the selection."""

    runs: list[Target] = field(default_factory=list)
    versions: list[Target] = field(default_factory=list)


def experiment_ids(client: MlflowClient, given: tuple[str, ...]) -> list[str]:
    """The experiments given (each must exist), else every active one the caller reads."""
    return [e.experiment_id for e in readable_experiments(client, given)]


def read(client: MlflowClient, experiments: tuple[str, ...], server: ServerFacts,
         progress: Progress = lambda what, n: None) -> Read:
    """Active runs of the experiments and the model versions; with ``experiments`` only
    the versions made from their runs. A version's source run outside the scan (another
    experiment, deleted) is fetched on its own; one the caller cannot read is left out."""
    today = date.today()
    found = Read()
    runs: dict[str, Target] = {}
    ids = experiment_ids(client, experiments)
    for start in range(0, len(ids), 100):  # MLflow caps the experiment ids per search
        for run in active_runs_json(client, ids[start:start + 100], progress):
            target = run_target_from_json(run, server, today)
            runs[target.id] = target
            found.runs.append(target)
    for version in model_versions(client, None, lambda n: progress("model versions", n)):
        if experiments and version.run_id not in runs:
            continue
        source = runs.get(version.run_id) if version.run_id else None
        if source is None and version.run_id:
            try:
                source = run_target(client.get_run(version.run_id), server, today)
            except MlflowException:
                source = None
        found.versions.append(version_target(version, source, server))
    return found
