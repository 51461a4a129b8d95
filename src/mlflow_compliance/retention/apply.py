"""Applying retention to one run, on the server: judged from the run's own record, never
from what a client says about it.

GDPR Art. 5(1)(e): personal data past the retention its record declares is erased. The
run is judged as ``retention status`` judges it (retention/status.py) on the server's
day: not past its retention, or without personal data, it is not due and nothing
happens. Erasure yields to GDPR Art. 17(3): a run kept by AI Act Art. 18 (the source run
of a high-risk model version less than 10 years old; Art. 17(3)(b), a legal
obligation) or by an active legal hold (Art. 17(3)(e), legal claims) is left as it is,
and the answer names the ground. Otherwise the run is soft-deleted (if active) and
purged (retention/purge.py): rows, inputs, dataset records, index rows, artifacts and
data keys.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from mlflow.entities import LifecycleStage
from mlflow.exceptions import MlflowException

from mlflow_compliance.checks.model import ServerFacts, Target
from mlflow_compliance.checks.targets import run_target, version_target
from mlflow_compliance.paging import model_versions
from mlflow_compliance.retention.holds import Invalid, LegalHolds
from mlflow_compliance.retention.purge import NoSuchRun, Purge, RunPurge
from mlflow_compliance.retention.status import (
    Keeping,
    RetentionStatus,
    hold_keeping,
    keepings_by_run,
    status,
)

RUN_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")


class NotDue(ValueError):
    """Nothing is due for this run; the message says why."""


def run_id_of(value: Any) -> str:
    """The ``run_id`` field, checked (it goes into a registry filter)."""
    if not isinstance(value, str) or not RUN_ID.fullmatch(value):
        raise Invalid("run_id: required, a run id (letters, digits, - and _)")
    return value


@dataclass
class Applied:
    """What retention apply did to a run (or, in a dry run, would do)."""

    run_id: str
    dry_run: bool
    status: RetentionStatus
    applied: bool = False
    done: list[str] = field(default_factory=list)
    purge: Purge | None = None

    @property
    def kept_by(self) -> tuple[Keeping, ...]:
        return self.status.kept_by

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id, "dry_run": self.dry_run, "applied": self.applied,
            "kept": bool(self.kept_by),
            "grounds": sorted({k.article for k in self.kept_by}),
            "kept_by": [k.as_dict() for k in self.kept_by],
            "status": self.status.as_dict(), "done": self.done,
            "purge": self.purge.as_dict() if self.purge else None,
        }


class RetentionApply:
    """Judging a run on the server and, when due and nothing keeps it, erasing it."""

    def __init__(self, holds: LegalHolds, purge: RunPurge, tracking: Callable[[], Any],
                 registry: Callable[[], Any]) -> None:
        self.holds = holds
        self.purge = purge
        self.tracking = tracking
        self.registry = registry

    def judge(self, run_id: str, on: date) -> tuple[Any, RetentionStatus]:
        """The run (MLflow's entity) and its retention status on ``on``, with what keeps
        it; NotDue when nothing is due."""
        try:
            run = self.tracking().get_run(run_id)
        except MlflowException:
            raise NoSuchRun(f"run_id: no run {run_id!r}") from None
        facts = ServerFacts()
        target = run_target(run, facts, on)
        versions = [version_target(v, target, facts) for v in self._versions(run_id)]
        models = sorted({v.id.rsplit("/", 1)[0] for v in versions})
        held = [hold_keeping(h) for h in
                self.holds.covering(run.info.experiment_id, run_id, models)]
        found = status(target, on, keepings_by_run(versions, on), {run_id: held})
        why = _not_due(target, found)
        if why:
            raise NotDue(f"run_id: run {run_id} {why}; nothing is due")
        assert found is not None
        return run, found

    def apply(self, run_id: str, by: str, dry_run: bool, on: date | None = None) -> Applied:
        run, found = self.judge(run_id, on or date.today())
        applied = Applied(run_id, dry_run, found)
        if found.kept_by:
            grounds = "; ".join(f"{k.ground} ({k.article})" for k in found.kept_by)
            applied.done.append(f"kept, not erased: {grounds}")
            return applied
        active = run.info.lifecycle_stage == LifecycleStage.ACTIVE
        if dry_run:
            if active:
                applied.done.append("would delete the run (soft), then purge it")
            applied.purge = self.purge.plan(run_id, require_deleted=False)
            applied.done.append("would purge: " + _summary(applied.purge))
            return applied
        if active:
            self.tracking().delete_run(run_id)
            applied.done.append("deleted the run (soft)")
        applied.purge = self.purge.purge(run_id, by)
        applied.done.append("purged: " + _summary(applied.purge))
        applied.applied = True
        return applied

    def _versions(self, run_id: str) -> list[Any]:
        # run_id_of checked the id: it can go into the filter as it is
        return list(model_versions(self.registry(), f"run_id = '{run_id}'"))


def _not_due(target: Target, found: RetentionStatus | None) -> str | None:
    if found is None:
        return ("declares no retention (compliance.gdpr.retention_until or "
                "compliance.gdpr.retention_period)")
    if not found.expired:
        return (f"is within its retention until {found.kept_until.isoformat()} "
                f"({found.basis})")
    if found.personal_data is False:
        return ("is past its retention but declares no personal data (GDPR Art. 5(1)(e) "
                "does not apply)")
    return None


def _summary(purge: Purge) -> str:
    rows = sum(purge.rows.values())
    folder = purge.artifact_folder or "no artifact folder below the server's root"
    return (f"{rows} rows ({', '.join(f'{k} {v}' for k, v in purge.rows.items() if v)}), "
            f"artifacts {folder}, {len(purge.keys_shredded)} data keys")
