"""Evidence behind a reference: does ``artifact:<path>`` name a file the run has?

A record points to its evidence (the DPIA, the risk-management file, the instructions
for use, a dataset's bias examination) with a reference: ``artifact:<path>`` inside the
run's artifacts, or an ``https://`` URL. Rules are pure, so the artifact paths a target
references are looked up before the rules run, once per path: ``check`` lists the run's
artifacts over REST, the server's gate reads the run's artifact repository. Only targets
that reference an artifact cost a look-up.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from urllib.parse import urlsplit

from mlflow_compliance.checks.model import Target

ARTIFACT = "artifact:"
RECORD_REFERENCES = (
    "compliance.gdpr.dpia_reference",
    "compliance.ai_act.risk_management_reference",
    "compliance.ai_act.instructions_for_use",
)
DATASET_REFERENCES = ("compliance.dataset.bias_examination",)


def artifact_path(value: str) -> str | None:
    """The path of an ``artifact:`` reference (without a trailing ``/``), else None."""
    value = value.strip()
    if not value.startswith(ARTIFACT):
        return None
    return value[len(ARTIFACT):].strip().rstrip("/") or None


def _paths(tags: Mapping[str, str], keys: Iterable[str]) -> set[str]:
    return {p for key in keys if (p := artifact_path(tags.get(key, ""))) is not None}


def referenced_paths(target: Target) -> set[str]:
    """Every artifact path the target's record and its datasets' records reference."""
    paths = _paths(target.tags, RECORD_REFERENCES)
    for dataset in target.datasets:
        paths |= _paths(dataset.tags, DATASET_REFERENCES)
    return paths


def with_evidence(target: Target, exists: Callable[[str], bool]) -> Target:
    """The target with ``evidence_files`` holding, for every path it references, whether
    ``exists(path)`` (paths already looked up are not asked again). ``exists`` may raise
    to say it could not look: that path stays out of the map, and the rule fails saying
    it could not be resolved."""
    found = dict(target.evidence_files)
    for path in sorted(referenced_paths(target) - found.keys()):
        try:
            found[path] = bool(exists(path))
        except Exception:
            continue
    if found == target.evidence_files:
        return target
    return dataclasses.replace(target, evidence_files=found)


def listing_lookup(list_dir: Callable[[str], Iterable[str]]) -> Callable[[str], bool]:
    """``exists`` from a directory listing: ``list_dir(parent)`` gives the paths (relative
    to the run's artifact root) in the folder ``parent`` ("" the root). Each folder is
    listed once."""
    listed: dict[str, frozenset[str]] = {}

    def exists(path: str) -> bool:
        parent = path.rpartition("/")[0]
        if parent not in listed:
            listed[parent] = frozenset(p.rstrip("/") for p in list_dir(parent))
        return path in listed[parent]

    return exists


def problem(target: Target, tag: str, value: str) -> str | None:
    """Why a reference does not resolve (one line naming the tag), or None when it
    does: an https URL with a host, or an artifact the run has."""
    value = value.strip()
    path = artifact_path(value)
    if path is not None:
        known = target.evidence_files.get(path)
        if known is None:
            return f"{tag}: artifact {path} could not be looked up in the run's artifacts"
        if not known:
            return f"{tag}: artifact {path} is not among the run's artifacts"
        return None
    url = urlsplit(value)
    if url.scheme == "https" and url.hostname:
        return None
    return f"{tag}: {value!r} is neither artifact:<path> nor an https:// URL"
