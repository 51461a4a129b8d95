"""The experiments and their newest runs (``/compliance/runs``), each run with its record
summary and its checks. Runs have no model files to read, so their checks run live on
the runs shown. Lists are narrowed to what the signed-in principal may see.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlflow.entities import ViewType
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mlflow_compliance.checks.packs import DEFAULT_PACKS
from mlflow_compliance.checks.references import referenced_paths, with_evidence
from mlflow_compliance.checks.targets import dataset_targets, run_target
from mlflow_compliance.record.tags import PERSONAL_DATA_TAG
from mlflow_compliance.server.gate.decisions import RISK_CLASS_TAG
from mlflow_compliance.server.gate.model_files import artifact_exists
from mlflow_compliance.server.pages.access import Seen
from mlflow_compliance.server.pages.check_results import REGULATIONS_TAG, count_packs
from mlflow_compliance.server.pages.page_query import BadInput, href, number, offset_of, token_of
from mlflow_compliance.server.pages.render import page
from mlflow_compliance.server.pages.site import Site
from mlflow_compliance.server.query import query_fields

EXPERIMENTS_PER_PAGE = 20
MOST_RUNS = 200
"""Runs per experiment a page shows at most: their checks run on every view, so a
page's work stays bounded (20 experiments x 200 runs)."""


def _tracking() -> Any:
    from mlflow.server.handlers import _get_tracking_store

    return _get_tracking_store()


# --- experiments and runs --------------------------------------------------------------


@dataclass(frozen=True)
class RunsQuery:
    max_results: int = 50
    offset: int = 0

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> RunsQuery:
        return cls(number(params, "max_results", 50, MOST_RUNS), offset_of(params))

    def fields(self, offset: int) -> dict[str, str]:
        return {"max_results": "" if self.max_results == 50 else str(self.max_results),
                "page_token": token_of(offset)}


def _run_row(run: Any, site: Site) -> dict[str, Any]:
    target = run_target(run, site.gate.facts)
    if referenced_paths(target):  # only a record that references artifacts costs a listing
        target = with_evidence(target, artifact_exists(run.info.artifact_uri))
    tags = target.tags
    return {"id": run.info.run_id, "name": run.info.run_name or run.info.run_id,
            "href": f"/#/experiments/{run.info.experiment_id}/runs/{run.info.run_id}",
            "regulations": tags.get(REGULATIONS_TAG, ""),
            "risk_class": tags.get(RISK_CLASS_TAG, ""),
            "personal_data": tags.get(PERSONAL_DATA_TAG, ""),
            "started": run.info.start_time,
            "packs": count_packs([target, *dataset_targets(target)])}


def experiment_rows(site: Site, seen: Seen, query: RunsQuery) -> dict[str, Any]:
    """A page of experiments, each with its newest runs checked now (blocking)."""
    tracking = _tracking()
    found = tracking.search_experiments(view_type=ViewType.ACTIVE_ONLY,
                                        max_results=EXPERIMENTS_PER_PAGE,
                                        page_token=token_of(query.offset) or None)
    experiments = []
    for experiment in found:
        if not seen.experiment(experiment.experiment_id):
            continue
        runs = tracking.search_runs([experiment.experiment_id], "", ViewType.ACTIVE_ONLY,
                                    max_results=query.max_results,
                                    order_by=["attributes.start_time DESC"])
        experiments.append({
            "id": experiment.experiment_id, "name": experiment.name,
            "href": f"/#/experiments/{experiment.experiment_id}",
            "runs": [_run_row(r, site) for r in runs
                     if seen.run(experiment.experiment_id, r.data.tags)],
            "more": bool(runs.token),
        })
    return {"experiments": experiments,
            "next_offset": query.offset + EXPERIMENTS_PER_PAGE if found.token else None}



def routes(site: Site) -> list[Route]:
    async def runs(request: Request) -> Response:
        who = site.who(request)
        try:
            query = RunsQuery.parse(query_fields(request.scope))
        except BadInput as e:
            return page("runs.html", 400, who=who, section="runs", problem=str(e),
                        packs=DEFAULT_PACKS, query=RunsQuery(), experiments=[],
                        next_href=None, previous_href=None)
        seen = await run_in_threadpool(site.seen, request)
        found = await run_in_threadpool(experiment_rows, site, seen, query)
        previous = max(0, query.offset - EXPERIMENTS_PER_PAGE) if query.offset else None
        return page("runs.html", who=who, section="runs", problem="", packs=DEFAULT_PACKS,
                    query=query, experiments=found["experiments"],
                    next_href=None if found["next_offset"] is None
                    else href("/compliance/runs", query.fields(found["next_offset"])),
                    previous_href=None if previous is None
                    else href("/compliance/runs", query.fields(previous)))

    return [Route("/compliance/runs", runs, methods=["GET"])]
