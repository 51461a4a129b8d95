"""What a sign-off vouches for: the evidence of a model version at the moment of release
(AI Act Art. 17(1)(b)-(d), Annex IV 2(g)).

The compliance record (the version's and its run's compliance tags), the data
description, the datasets (``name@digest`` with their compliance tags), the latest value
of every metric of the source run (NaN written ``"NaN"``), the SHA-256 of every file of
the version's model (of the decrypted bytes, as a client downloads them), the run id and
the version's creation time. A later change to any of these makes the sign-off stale,
and :func:`changes` says what changed.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mlflow_compliance.checks.model import Target
from mlflow_compliance.client.runs import DATA_DESCRIPTION_PARAM
from mlflow_compliance.record.tags import is_compliance_tag


def metric_text(value: float) -> str:
    """A metric value as the evidence keeps it: exact, and NaN/inf spelled out."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(float(value))


@dataclass(frozen=True)
class Evidence:
    record: Mapping[str, str] = field(default_factory=dict)
    data_description: str = ""
    datasets: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    metrics: Mapping[str, str] = field(default_factory=dict)
    files: Mapping[str, str] = field(default_factory=dict)  # path -> SHA-256 (hex)
    run: str = ""
    created: int = 0  # the version's creation time (ms)

    def as_dict(self) -> dict[str, Any]:
        return {
            "record": dict(sorted(self.record.items())),
            "data_description": self.data_description,
            "datasets": {k: dict(sorted(v.items())) for k, v in sorted(self.datasets.items())},
            "metrics": dict(sorted(self.metrics.items())),
            "files": dict(sorted(self.files.items())),
            "run": self.run,
            "created": self.created,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Evidence:
        return cls(
            record=dict(data.get("record") or {}),
            data_description=str(data.get("data_description") or ""),
            datasets={k: dict(v) for k, v in (data.get("datasets") or {}).items()},
            metrics=dict(data.get("metrics") or {}),
            files=dict(data.get("files") or {}),
            run=str(data.get("run") or ""),
            created=int(data.get("created") or 0),
        )

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.as_dict(), sort_keys=True).encode()).hexdigest()


def evidence_of(target: Target, files: Mapping[str, str]) -> Evidence:
    """The evidence of a model version target (checks/targets.version_target) and the
    SHA-256 of its model files."""
    return Evidence(
        record={k: v for k, v in target.tags.items() if is_compliance_tag(k)},
        data_description=target.params.get(DATA_DESCRIPTION_PARAM, ""),
        datasets={f"{d.name}@{d.digest}": {k: v for k, v in d.tags.items()
                                           if is_compliance_tag(k)}
                  for d in target.datasets},
        metrics={k: metric_text(v) for k, v in target.metrics.items()},
        files=dict(files),
        run=target.run.id if target.run else "",
        created=target.created,
    )


def _compare(what: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    found = []
    for key in sorted(set(old) | set(new)):
        if key not in new:
            found.append(f"{what} {key} removed")
        elif key not in old:
            found.append(f"{what} {key} added")
        elif old[key] != new[key]:
            found.append(f"{what} {key} changed")
    return found


def changes(old: Mapping[str, Any], new: Evidence) -> list[str]:
    """What differs between the evidence a sign-off saw (``as_dict``) and now, one phrase
    each: "metric test_accuracy changed", "file model.pkl changed", "record tag X
    added"."""
    before = Evidence.from_dict(old)
    found = _compare("record tag", before.record, new.record)
    if before.data_description != new.data_description:
        found.append("data description changed")
    found += _compare("dataset", before.datasets, new.datasets)
    found += _compare("metric", before.metrics, new.metrics)
    found += _compare("file", before.files, new.files)
    if before.run != new.run:
        found.append(f"source run changed ({before.run or 'none'} -> {new.run or 'none'})")
    if before.created != new.created:
        found.append("version creation time changed (the version was deleted and "
                     "registered again)")
    return found
