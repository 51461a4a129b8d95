"""Fetching what ``check`` looks at from a tracking server, in few large requests.

Everything the caller may read (the server's authorization narrows every search):
experiments, their runs with tags, params, latest metrics and dataset inputs, and
registered model versions with their source runs. Pages are large (2,000 runs, 10,000
versions) so 10,000 runs cost a handful of requests, and the next page of runs is
requested before this one is parsed: the server reads page n+1 from its database
while the client turns page n into entities. A version's source run is fetched on its
own only when the scan did not already bring it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from mlflow.entities import Experiment, Run, ViewType
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.protos.service_pb2 import SearchRuns
from mlflow.tracking import MlflowClient
from mlflow.utils.credentials import get_default_host_creds
from mlflow.utils.proto_json_utils import parse_dict
from mlflow.utils.rest_utils import http_request, verify_rest_response

from mlflow_compliance.checks.model import ServerFacts, Target
from mlflow_compliance.checks.targets import (
    dataset_targets,
    experiment_target,
    run_target,
    version_target,
)

RUN_PAGE = 2000
SEARCH_RUNS = "/api/2.0/mlflow/runs/search"
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


def _runs(client: MlflowClient, experiment_ids: list[str], progress: Progress) -> Iterator[Run]:
    """Every active run of the experiments, page by page, one page requested ahead."""
    creds = get_default_host_creds(client.tracking_uri)

    def fetch(token: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {"experiment_ids": experiment_ids, "max_results": RUN_PAGE,
                                "run_view_type": "ACTIVE_ONLY"}
        if token:
            body["page_token"] = token
        response = http_request(creds, SEARCH_RUNS, "POST", json=body)
        page: dict[str, Any] = verify_rest_response(response, SEARCH_RUNS).json()
        return page

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="runs-search") as ahead:
        pending: Future[dict[str, Any]] | None = ahead.submit(fetch, None)
        while pending is not None:
            page = pending.result()
            token = page.get("next_page_token")
            pending = ahead.submit(fetch, token) if token else None
            parsed = SearchRuns.Response()
            parse_dict(page, parsed)
            progress("runs", len(parsed.runs))
            yield from (Run.from_proto(run) for run in parsed.runs)


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
