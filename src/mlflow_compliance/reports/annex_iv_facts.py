"""What the Annex IV documentation needs beyond a version's own facts, read as the caller.

AI Act Annex IV point 6 asks for the changes over the system's lifecycle: every version
of the registered model with its dates and aliases, and (Annex IV 2(g), Art.
17(1)(b)-(d)) the sign-offs dated and signed by the persons responsible, read from the
server's ``model-versions/approvals`` route. Annex IV 2(g) asks for the test logs: the
history of each metric of the source run, plotted in the PDF. What the caller may not
read is left as ``None`` (shown as not readable), never guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlflow.exceptions import MlflowException

from mlflow_compliance.lineage.walk import ABSENT
from mlflow_compliance.paging import model_versions, name_is
from mlflow_compliance.reports.facts import VersionFacts

if TYPE_CHECKING:
    from mlflow.utils.rest_utils import MlflowHostCreds

APPROVALS = "/api/2.0/compliance/model-versions/approvals"


@dataclass(frozen=True)
class VersionChange:
    """One version of the registered model, as the registry holds it."""

    version: str
    created: int  # ms
    updated: int  # ms
    status: str
    aliases: tuple[str, ...]
    run_id: str
    description: str


@dataclass(frozen=True)
class SignOff:
    """One sign-off of the version (checks/approvals.py), as the server answers it."""

    approver: str
    approved_at: str
    record_digest: str
    signature_valid: bool
    note: str


@dataclass(frozen=True)
class Lifecycle:
    """The versions, sign-offs and metric histories of one model version's documentation."""

    versions: tuple[VersionChange, ...] | None  # None: not readable
    signoffs: tuple[SignOff, ...] | None  # None: not readable
    histories: Mapping[str, tuple[tuple[int, float], ...]]  # metric -> (step, value)


def collect_lifecycle(client: Any, facts: VersionFacts,
                      signoffs: tuple[SignOff, ...] | None) -> Lifecycle:
    """The lifecycle of ``facts``' version, with its ``signoffs`` as read by the caller
    (``read_signoffs``) or the server (None: not readable)."""
    return Lifecycle(_versions(client, facts), signoffs, _histories(client, facts))


def _versions(client: Any, facts: VersionFacts) -> tuple[VersionChange, ...] | None:
    try:
        model = client.get_registered_model(facts.name)
        found = list(model_versions(client, name_is(facts.name)))
    except MlflowException as e:
        if e.error_code in ABSENT:
            return None
        raise
    aliases: dict[str, list[str]] = {}
    for alias, version in (model.aliases or {}).items():
        aliases.setdefault(str(version), []).append(alias)
    return tuple(sorted((VersionChange(
        version=str(v.version), created=int(v.creation_timestamp or 0),
        updated=int(v.last_updated_timestamp or v.creation_timestamp or 0),
        status=str(v.status or ""), aliases=tuple(sorted(aliases.get(str(v.version), []))),
        run_id=v.run_id or "", description=v.description or "",
    ) for v in found), key=lambda c: int(c.version)))


def read_signoffs(creds: MlflowHostCreds, facts: VersionFacts) -> tuple[SignOff, ...] | None:
    """The version's sign-offs from the server's approvals route, asked as ``creds``."""
    from mlflow.utils.rest_utils import http_request

    try:
        answer = http_request(creds, APPROVALS, "GET", max_retries=0, raise_on_status=False,
                              params={"name": facts.name, "version": facts.version})
        body: Any = answer.json() if answer.status_code == 200 else None
    except (MlflowException, ValueError):
        return None
    if not isinstance(body, dict) or not isinstance(body.get("approvals"), list):
        return None
    return signoffs_of(body["approvals"])


def signoffs_of(approvals: list[Any]) -> tuple[SignOff, ...]:
    """Sign-offs as the approvals route answers them (``approvals``)."""
    return tuple(SignOff(
        approver=str(a.get("approver", "")), approved_at=str(a.get("approved_at", "")),
        record_digest=str(a.get("record_digest", "")),
        signature_valid=bool(a.get("signature_valid")), note=str(a.get("note", "")),
    ) for a in approvals if isinstance(a, dict))


def _histories(client: Any, facts: VersionFacts
               ) -> dict[str, tuple[tuple[int, float], ...]]:
    """Each metric of the source run logged at more than one step, by step."""
    if not facts.run_id or not facts.run_readable:
        return {}
    # The server's store reader reads every history in one query; a client, key by key.
    bulk = getattr(client, "metric_histories", None)
    every = bulk(facts.run_id) if bulk is not None else {}
    found: dict[str, tuple[tuple[int, float], ...]] = {}
    for key in sorted(facts.metrics):
        if key in every:
            logged = every[key]
        else:
            try:
                logged = [(m.step, m.value) for m in client.get_metric_history(facts.run_id,
                                                                               key)]
            except MlflowException as e:
                if e.error_code in ABSENT:
                    continue
                raise
        points = sorted({(int(step), float(value)) for step, value in logged})
        if len({step for step, _ in points}) > 1:
            found[key] = tuple(points)
    return found
