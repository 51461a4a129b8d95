"""What an erasure will do: every dataset folder the person is in, and what a legal
hold withholds.

The places come from the data-subject index (one per run and dataset name, with the
id columns the person was found in and those the dataset's record declares). A place
whose run, experiment or downstream registered model is under an active legal hold is
withheld, not erased: GDPR Art. 17(3)(e) (or the hold's own ground) says the right to
erasure does not apply there. It is reported with the hold, never skipped silently.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from mlflow_compliance.subjects.index import Occurrence

ON_THE_SERVER = ("runs:/", "mlflow-artifacts:", "models:/")


@dataclass(frozen=True)
class Place:
    """One dataset of one run the person is in."""

    run_id: str
    experiment_id: str
    dataset_name: str
    digests: tuple[str, ...]
    columns: tuple[str, ...]
    folder: str | None = None
    files: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        shown = asdict(self)
        shown["digests"], shown["columns"] = list(self.digests), list(self.columns)
        shown["files"] = list(self.files)
        return shown


@dataclass(frozen=True)
class Withheld:
    """A place kept under a legal hold (GDPR Art. 17(3))."""

    run_id: str
    experiment_id: str
    dataset_name: str
    digests: tuple[str, ...]
    hold_id: str
    reason: str
    ground: str

    def as_dict(self) -> dict[str, Any]:
        shown = asdict(self)
        shown["digests"] = list(self.digests)
        return shown


@dataclass
class Plan:
    places: list[Place] = field(default_factory=list)
    withheld: list[Withheld] = field(default_factory=list)
    versions: list[tuple[str, str]] = field(default_factory=list)
    limits: list[str] = field(default_factory=list)
    encrypted: bool = True

    @property
    def run_ids(self) -> list[str]:
        return sorted({p.run_id for p in self.places})

    def as_dict(self) -> dict[str, Any]:
        return {
            "places": [p.as_dict() for p in self.places],
            "withheld": [w.as_dict() for w in self.withheld],
            "versions_to_flag": [f"{n}/{v}" for n, v in self.versions],
            "limits": list(self.limits),
            "artifacts_encrypted": self.encrypted,
        }


def places_of(found: Sequence[Occurrence],
              declared: Callable[[str, str], Sequence[str]]) -> list[Place]:
    """One place per (run, dataset name), its digests and id columns: where the index
    found the person, and every subject-id column the dataset's record declares."""
    grouped: dict[tuple[str, str], list[Occurrence]] = {}
    for o in found:
        grouped.setdefault((o.run_id, o.dataset_name), []).append(o)
    places = []
    for (run_id, name), seen in sorted(grouped.items()):
        columns = {o.column for o in seen} | set(declared(run_id, name))
        places.append(Place(run_id, seen[0].experiment_id, name,
                            tuple(sorted({o.dataset_digest for o in seen})),
                            tuple(sorted(columns))))
    return places


def source_outside(source: str | None, root: str) -> str | None:
    """The dataset's source URI when it is outside the server's artifact storage (its
    data there is not erased here); None when it is on the server or unknown."""
    if not source:
        return None
    try:
        data = json.loads(source)
    except ValueError:
        data = {"uri": source}
    uri = ""
    if isinstance(data, dict):
        uri = str(data.get("uri") or data.get("path") or data.get("url") or "")
    if not uri or uri.startswith(ON_THE_SERVER):
        return None
    inner = root.removeprefix("encrypted+").rstrip("/")
    if inner and (uri == inner or uri.startswith(inner + "/")):
        return None
    return uri
