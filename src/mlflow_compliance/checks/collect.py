"""Fetching what ``check`` looks at from a tracking server, in few large requests.

Everything the caller may read (the server's authorization narrows every search):
experiments, their runs with tags, params, latest metrics and dataset inputs, and
registered model versions with their source runs. Pages are large (2,000 runs, 10,000
versions), so 10,000 runs cost a handful of requests.

Runs are read by two streams at once, one from each end of the run-id order, so two
server workers share the database work; they stop where they meet. Targets are handed
out as their page arrives, so the rules run while the server reads the next pages. A
version's source run is fetched on its own only when the scan did not already bring it.

A target whose record (or a dataset's record) references evidence as ``artifact:<path>``
gets those paths looked up in its run's artifacts, one listing per folder; targets that
reference no artifact cost no request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import date
from itertools import takewhile
from typing import Any

from mlflow.entities import Experiment, ViewType
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from mlflow.utils.credentials import get_default_host_creds
from mlflow.utils.rest_utils import http_request, verify_rest_response

from mlflow_compliance.checks.model import Finding, Kind, ServerFacts, Target
from mlflow_compliance.checks.references import listing_lookup, referenced_paths, with_evidence
from mlflow_compliance.checks.targets import (
    dataset_targets,
    experiment_target,
    run_target,
    run_target_from_json,
    version_target,
)
from mlflow_compliance.paging import model_versions, name_is

RUN_PAGE = 2000
SEARCH_RUNS = "/api/2.0/mlflow/runs/search"
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


class Scan:
    """The targets of a selection, yielded as they arrive: experiments, then runs (each
    followed by its datasets) in no fixed order, then model versions; ``report_order``
    puts findings in a fixed order afterwards. ``targets``, ``runs`` and ``versions``
    count what has been yielded so far."""

    def __init__(
        self, client: MlflowClient, selection: Selection, server: ServerFacts,
        progress: Progress = lambda what, n: None,
    ) -> None:
        self.client, self.selection, self.server, self.progress = (
            client, selection, server, progress)
        self.targets = 0
        self.runs = 0
        self.versions = 0

    def __iter__(self) -> Iterator[Target]:
        for target in self._targets():
            self.targets += 1
            yield target

    def _targets(self) -> Iterator[Target]:
        client, selection, server = self.client, self.selection, self.server
        today = date.today()
        runs: dict[str, Target] = {}
        if selection.model is None:
            experiments = readable_experiments(client, selection.experiments)
            yield from (experiment_target(e, server) for e in experiments)
            self.progress("experiments", len(experiments))
            ids = [e.experiment_id for e in experiments]
            for start in range(0, len(ids), 100):  # MLflow caps the experiment ids per search
                for run in active_runs_json(client, ids[start:start + 100], self.progress):
                    target = self._evidence(run_target_from_json(run, server, today), None)
                    runs[target.id] = target
                    self.runs += 1
                    yield target
                    yield from dataset_targets(target)
        for version in _versions(client, selection, self.progress):
            if selection.experiments and version.run_id not in runs:
                continue  # --experiment: only versions made from its runs
            source = runs.get(version.run_id) if version.run_id else None
            if source is None and version.run_id:
                source = _source_run(client, version.run_id, server, today)
                if source is not None:
                    runs[source.id] = source
            self.versions += 1
            yield self._evidence(version_target(version, source, server), version.run_id)

    def _evidence(self, target: Target, run_id: str | None) -> Target:
        """The target with the artifacts its records reference looked up in the run's
        artifacts (``run_id``, or the target's own id for a run)."""
        run_id = target.id if run_id is None else run_id
        if not run_id or not referenced_paths(target) - target.evidence_files.keys():
            return target
        client = self.client

        def list_dir(parent: str) -> list[str]:
            return [f.path for f in client.list_artifacts(run_id, parent or None)]

        return with_evidence(target, listing_lookup(list_dir))


def collect(
    client: MlflowClient,
    selection: Selection,
    server: ServerFacts,
    progress: Progress = lambda what, n: None,
) -> Collected:
    """Every target of the selection at once."""
    scan = Scan(client, selection, server, progress)
    targets = list(scan)
    return Collected(targets=targets, runs=scan.runs, versions=scan.versions)


_KIND_ORDER = {Kind.EXPERIMENT: 0, Kind.RUN: 1, Kind.DATASET: 1, Kind.MODEL_VERSION: 2}


def report_order(finding: Finding) -> tuple[int, str]:
    """Sort key for a scan's findings: experiments and versions in the server's order,
    runs by run id, each run's datasets right after it (a dataset's id is
    ``<run id>/<digest>``). The sort is stable, so rules keep their order."""
    rank = _KIND_ORDER[finding.target_kind]
    return rank, finding.target_id.partition("/")[0] if rank == 1 else ""


def readable_experiments(client: MlflowClient, ids: tuple[str, ...] = ()) -> list[Experiment]:
    """The experiments given (each must exist), else every active one the caller reads."""
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


def active_runs_json(
    client: MlflowClient, experiment_ids: list[str], progress: Progress
) -> Iterator[dict[str, Any]]:
    """Every active run of the experiments, as the REST API's JSON, each once.

    One stream pages through the runs by ascending run id, the other by descending run
    id, each with one request in flight, so the server's workers read two pages at a
    time. Both orders are the database's own (the same collation), mirrored, so when a
    page brings a run the other stream already handed out, everything after it in that
    page was handed out too: the streams have met, and every run has been seen. The
    other stream's request still in flight is abandoned."""
    creds = get_default_host_creds(client.tracking_uri)

    def fetch(order: str, token: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {"experiment_ids": experiment_ids, "max_results": RUN_PAGE,
                                "run_view_type": "ACTIVE_ONLY",
                                "order_by": [f"attributes.run_id {order}"]}
        if token:
            body["page_token"] = token
        response = http_request(creds, SEARCH_RUNS, "POST", json=body)
        page: dict[str, Any] = verify_rest_response(response, SEARCH_RUNS).json()
        return page

    seen: set[str] = set()
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="runs-search")
    try:
        pending = {pool.submit(fetch, order, None): order for order in ("ASC", "DESC")}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                order = pending.pop(future)
                page = future.result()
                runs = page.get("runs", [])
                fresh = list(takewhile(lambda r: r["info"]["run_id"] not in seen, runs))
                seen.update(r["info"]["run_id"] for r in fresh)
                token = page.get("next_page_token")
                if len(fresh) < len(runs) or not token:
                    pending.clear()  # met the other stream, or reached the end: all seen
                else:
                    pending[pool.submit(fetch, order, token)] = order
                progress("runs", len(fresh))
                yield from fresh
                if not pending:
                    break
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _versions(
    client: MlflowClient, selection: Selection, progress: Progress
) -> list[ModelVersion]:
    if selection.model and selection.version:
        return [client.get_model_version(selection.model, selection.version)]
    query = name_is(selection.model) if selection.model else None
    return list(model_versions(client, query, lambda n: progress("model versions", n)))


def _source_run(
    client: MlflowClient, run_id: str, server: ServerFacts, today: date
) -> Target | None:
    try:
        return run_target(client.get_run(run_id), server, today)
    except MlflowException:
        return None  # deleted, or not readable by the caller: the version's rules say so
