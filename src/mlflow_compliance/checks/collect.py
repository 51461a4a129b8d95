"""Fetching what ``check`` looks at from a tracking server, in few large requests.

Everything the caller may read (the server's authorization narrows every search):
experiments, their runs with tags, params, latest metrics and dataset inputs, and
registered model versions with their source runs. Pages are large (5,000 runs, 10,000
versions) so 10,000 runs cost a handful of requests; a version's source run is
fetched on its own only when the scan did not already bring it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from mlflow.entities import Experiment, Run, ViewType
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from mlflow_compliance.checks.model import ServerFacts, Target
from mlflow_compliance.checks.targets import (
    dataset_targets,
    experiment_target,
    run_target,
    version_target,
)

RUN_PAGE = 5000
VERSION_PAGE = 10000
EXPERIMENT_PAGE = 1000

Progress = Callable[[str, int], None]  # (what, how many more) -> None


@dataclass(frozen=True)
class Selection:
    """What to check: everything readable, or only some experiments, or one model."""

    experiments: tuple[str, ...] = ()
    model: str | None = None
    version: str | None = None


@dataclass
class Collected:
    targets: list[Target] = field(default_factory=list)
    runs: int = 0
    versions: int = 0


def collect(
    client: MlflowClient,
    selection: Selection,
    server: ServerFacts,
    progress: Progress = lambda what, n: None,
) -> Collected:
    today = date.today()
    found = Collected()
    runs: dict[str, Target] = {}
    if selection.model is None:
        experiments = _experiments(client, selection.experiments)
        for experiment in experiments:
            found.targets.append(experiment_target(experiment, server))
        progress("experiments", len(experiments))
        ids = [e.experiment_id for e in experiments]
        for start in range(0, len(ids), 100):  # MLflow caps the experiment ids per search
            for run in _runs(client, ids[start:start + 100], progress):
                target = run_target(run, server, today)
                runs[target.id] = target
                found.targets.append(target)
                found.targets.extend(dataset_targets(target))
        found.runs = len(runs)
    for version in _versions(client, selection, progress):
        if selection.experiments and version.run_id not in runs:
            continue  # --experiment: only versions made from its runs
        source = runs.get(version.run_id) if version.run_id else None
        if source is None and version.run_id:
            source = _source_run(client, version.run_id, server, today)
            if source is not None:
                runs[source.id] = source
        found.targets.append(version_target(version, source, server))
        found.versions += 1
    return found


def _experiments(client: MlflowClient, ids: tuple[str, ...]) -> list[Experiment]:
    if ids:
        return [client.get_experiment(i) for i in ids]
    experiments: list[Experiment] = []
    token = None
    while True:
        page = client.search_experiments(
            view_type=ViewType.ACTIVE_ONLY, max_results=EXPERIMENT_PAGE, page_token=token
        )
        experiments.extend(page)
        token = page.token
        if not token:
            return experiments


def _runs(client: MlflowClient, experiment_ids: list[str], progress: Progress) -> list[Run]:
    runs: list[Run] = []
    token = None
    while True:
        page = client.search_runs(
            experiment_ids, max_results=RUN_PAGE, page_token=token,
            run_view_type=ViewType.ACTIVE_ONLY,
        )
        runs.extend(page)
        progress("runs", len(page))
        token = page.token
        if not token:
            return runs


def _versions(
    client: MlflowClient, selection: Selection, progress: Progress
) -> list[ModelVersion]:
    if selection.model and selection.version:
        return [client.get_model_version(selection.model, selection.version)]
    name = selection.model
    query = f"name = '{name}'" if name else None
    versions: list[ModelVersion] = []
    token = None
    while True:
        page = client.search_model_versions(query, max_results=VERSION_PAGE, page_token=token)
        versions.extend(page)
        progress("model versions", len(page))
        token = page.token
        if not token:
            return versions


def _source_run(
    client: MlflowClient, run_id: str, server: ServerFacts, today: date
) -> Target | None:
    try:
        return run_target(client.get_run(run_id), server, today)
    except MlflowException:
        return None  # deleted, or not readable by the caller: the version's rules say so
