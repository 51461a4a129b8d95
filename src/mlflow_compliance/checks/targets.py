"""Targets from MLflow's entities: the same for the CLI (over REST) and the server's gate
(from its own stores), so a version passes or fails for the same reasons in both."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from datetime import date
from typing import Any

from mlflow.entities import Experiment, Run
from mlflow.entities.model_registry import ModelVersion

from mlflow_compliance.checks.model import DatasetRef, Kind, ServerFacts, Target
from mlflow_compliance.client.runs import DATA_DESCRIPTION_PARAM
from mlflow_compliance.record import (
    InvalidComplianceRecord,
    dataset_record_from_tags,
    record_from_tags,
)
from mlflow_compliance.record.dataset import DatasetRecord
from mlflow_compliance.record.schema import ComplianceRecord
from mlflow_compliance.record.tags import is_compliance_tag


def _record(tags: Mapping[str, str]) -> tuple[ComplianceRecord | None, tuple[str, ...]]:
    ours = tuple(sorted((k, v) for k, v in tags.items() if is_compliance_tag(k)))
    return _parsed(ours)


@functools.lru_cache(maxsize=4096)
def _parsed(tags: tuple[tuple[str, str], ...]) -> tuple[ComplianceRecord | None, tuple[str, ...]]:
    """Runs of one project mostly share one record: each distinct one is parsed once."""
    try:
        return record_from_tags(dict(tags)), ()
    except InvalidComplianceRecord as e:
        return None, tuple(str(p) for p in e.problems)


def _dataset_record(
    tags: Mapping[str, str],
) -> tuple[DatasetRecord | None, tuple[str, ...]]:
    ours = tuple(sorted((k, v) for k, v in tags.items() if is_compliance_tag(k)))
    return _parsed_dataset(ours)


@functools.lru_cache(maxsize=4096)
def _parsed_dataset(
    tags: tuple[tuple[str, str], ...],
) -> tuple[DatasetRecord | None, tuple[str, ...]]:
    try:
        return dataset_record_from_tags(dict(tags)), ()
    except InvalidComplianceRecord as e:
        return None, tuple(str(p) for p in e.problems)


def dataset_ref(
    name: str, digest: str, source_type: str = "", source: str = "",
    tags: Mapping[str, str] | None = None,
) -> DatasetRef:
    """A dataset input with its compliance record read from the input's tags."""
    tags = dict(tags or {})
    record, problems = _dataset_record(tags)
    return DatasetRef(name=name, digest=digest, source_type=source_type, source=source,
                      tags=tags, record=record, record_problems=problems)


def run_target(run: Run, server: ServerFacts, today: date | None = None) -> Target:
    """A run from MLflow's entity (the server's gate reads its own store)."""
    return _run(
        run_id=run.info.run_id,
        name=run.info.run_name,
        experiment_id=run.info.experiment_id,
        started=int(run.info.start_time or 0),
        creator=run.info.user_id or "",
        tags=dict(run.data.tags),
        params=dict(run.data.params),
        metrics=dict(run.data.metrics),
        datasets=tuple(
            dataset_ref(
                name=d.dataset.name,
                digest=d.dataset.digest,
                source_type=d.dataset.source_type or "",
                source=d.dataset.source or "",
                tags={t.key: t.value for t in d.tags},
            )
            for d in (run.inputs.dataset_inputs if run.inputs else [])
        ),
        server=server,
        today=today,
    )


def run_target_from_json(
    run: Mapping[str, Any], server: ServerFacts, today: date | None = None
) -> Target:
    """A run from the JSON of MLflow's REST API (``runs/search``), the same target as
    :func:`run_target` makes from the entity, without the detour through protobuf
    messages and entities that costs a scan of 10,000 runs about two seconds.

    Proto3 JSON leaves out empty fields, and writes non-finite metrics as the strings
    ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``, which ``float`` reads."""
    info, data, inputs = run["info"], run.get("data", {}), run.get("inputs", {})
    return _run(
        run_id=info["run_id"],
        name=info.get("run_name", ""),
        experiment_id=info.get("experiment_id", ""),
        started=int(info.get("start_time", 0) or 0),  # proto3 JSON: int64 as a string
        creator=info.get("user_id", ""),
        tags={t["key"]: t.get("value", "") for t in data.get("tags", ())},
        params={p["key"]: p.get("value", "") for p in data.get("params", ())},
        metrics={m["key"]: float(m.get("value", 0.0)) for m in data.get("metrics", ())},
        datasets=tuple(
            dataset_ref(
                name=d["dataset"].get("name", ""),
                digest=d["dataset"].get("digest", ""),
                source_type=d["dataset"].get("source_type", ""),
                source=d["dataset"].get("source", ""),
                tags={t["key"]: t.get("value", "") for t in d.get("tags", ())},
            )
            for d in inputs.get("dataset_inputs", ())
        ),
        server=server,
        today=today,
    )


def _run(
    *, run_id: str, name: str, experiment_id: str, started: int, creator: str,
    tags: dict[str, str], params: dict[str, str], metrics: dict[str, float],
    datasets: tuple[DatasetRef, ...], server: ServerFacts, today: date | None,
) -> Target:
    record, problems = _record(tags)
    return Target(
        kind=Kind.RUN,
        id=run_id,
        name=name or run_id,
        tags=tags,
        record=record,
        record_problems=problems,
        params=params,
        metrics=metrics,
        datasets=datasets,
        experiment_id=experiment_id,
        server=server,
        today=today or date.today(),
        started=started,
        creator=creator,
        policy=server.policy,
    )


def dataset_targets(run: Target) -> list[Target]:
    """One target per dataset input of a run."""
    return [
        Target(
            kind=Kind.DATASET,
            id=f"{run.id}/{d.digest}",
            name=f"{d.name} ({run.name})",
            tags=d.tags,
            datasets=(d,),
            run=run,
            experiment_id=run.experiment_id,
            server=run.server,
            today=run.today,
            started=run.started,
            creator=run.creator,
            policy=run.policy,
            evidence_files=run.evidence_files,
        )
        for d in run.datasets
    ]


def experiment_target(experiment: Experiment, server: ServerFacts) -> Target:
    tags = dict(experiment.tags)
    record, problems = _record(tags)
    return Target(
        kind=Kind.EXPERIMENT,
        id=experiment.experiment_id,
        name=experiment.name,
        tags=tags,
        record=record,
        record_problems=problems,
        experiment_id=experiment.experiment_id,
        server=server,
        policy=server.policy,
    )


def version_target(version: ModelVersion, run: Target | None, server: ServerFacts) -> Target:
    """A model version as its source run sees it, with the version's own tags on top
    (``log_model_with_compliance`` puts the record on both)."""
    tags = {**(run.tags if run else {}), **dict(version.tags or {})}
    record, problems = _record(tags)
    return Target(
        kind=Kind.MODEL_VERSION,
        id=f"{version.name}/{version.version}",
        name=f"{version.name} v{version.version}",
        tags=tags,
        record=record,
        record_problems=problems,
        params=run.params if run else {},
        metrics=run.metrics if run else {},
        datasets=run.datasets if run else (),
        run=run,
        experiment_id=run.experiment_id if run else "",
        created=int(version.creation_timestamp or 0),
        server=server,
        today=run.today if run else date.today(),
        started=run.started if run else 0,
        creator=run.creator if run else "",
        policy=server.policy,
        evidence_files=run.evidence_files if run else {},
    )


def record_digest(target: Target) -> str:
    """SHA-256 of what a sign-off vouches for: the compliance tags, the data description
    and the datasets, and for a version its creation time. A later change to any of them
    (or deleting the version and registering another under its number) makes the
    sign-off stale."""
    evidence = {
        "tags": {k: v for k, v in sorted(target.tags.items()) if is_compliance_tag(k)},
        "data_description": target.params.get(DATA_DESCRIPTION_PARAM, ""),
        "datasets": sorted(f"{d.name}@{d.digest}" for d in target.datasets),
        "run": target.run.id if target.run else "",
        "created": target.created,
    }
    return hashlib.sha256(json.dumps(evidence, sort_keys=True).encode()).hexdigest()
