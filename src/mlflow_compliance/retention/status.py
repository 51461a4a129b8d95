"""Retention status of one run or model version: pure functions, no request.

GDPR Art. 5(1)(e) (storage limitation) lets personal data be kept in identifiable form
no longer than its purpose needs; the record declares how long, as
``compliance.gdpr.retention_until`` (the date after which the data must be erased or
anonymised) or ``compliance.gdpr.retention_period`` (an ISO 8601 period counted from
the run's start). When both are declared, the earlier end binds.

Erasure yields only on the grounds GDPR Art. 17(3) lists; the one recognised here is
(b), a legal obligation under Union law: AI Act Art. 18(1) has the provider of a
high-risk AI system keep its technical documentation for 10 years after the system is
placed on the market or put into service. This module counts those 10 years from the
model version's creation (the earliest the version can have been placed on the market,
so a lower bound), for the version and its source run. The other is (e), legal claims:
an active legal hold (retention/holds.py) on the run, its experiment or a registered
model made from it keeps the run until the hold is released.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from mlflow_compliance.checks.model import Kind, Target
from mlflow_compliance.record.schema import RiskClass
from mlflow_compliance.record.values import period_days

if TYPE_CHECKING:
    from mlflow_compliance.retention.holds import Hold

AI_ACT_KEEP_YEARS = 10
ART_18_GROUND = "GDPR Art. 17(3)(b)"
DUE = "due for erasure or anonymisation (GDPR Art. 5(1)(e))"
ART_17_3 = (
    "GDPR Art. 17(3): erasure yields only on the grounds it lists: (a) freedom of "
    "expression and information, (b) a legal obligation or a task in the public interest, "
    "(c) public health, (d) archiving, research or statistics, (e) legal claims; here AI "
    "Act Art. 18 (a legal obligation, (b)) and the legal holds of the register (on their "
    "recorded ground, (e) unless said otherwise) keep a target"
)
KEPT_ACTION = (
    "kept by AI Act Art. 18 (GDPR Art. 17(3)(b)): keep what the technical documentation "
    "needs; erase or anonymise the rest of the personal data"
)
HELD_ACTION = (
    "kept by a legal hold (GDPR Art. 17(3)(e)): keep it all until the hold is released, "
    "then erase or anonymise"
)


@dataclass(frozen=True)
class Keeping:
    """What keeps a target past its retention, and until when."""

    ground: str  # e.g. "AI Act Art. 18", "legal hold <id>"
    until: date | None  # None: until released (a legal hold)
    reason: str  # one line
    article: str = ART_18_GROUND  # the GDPR Art. 17(3) ground erasure yields to

    @property
    def held(self) -> bool:
        return self.ground.startswith("legal hold")

    def as_dict(self) -> dict[str, Any]:
        return {"ground": self.ground, "article": self.article,
                "until": self.until.isoformat() if self.until else None,
                "reason": self.reason}


@dataclass(frozen=True)
class RetentionStatus:
    """A target's retention on a given day."""

    kind: Kind
    id: str
    name: str
    experiment_id: str
    kept_until: date  # the last day the record allows the data to be kept
    basis: str  # which tag said so
    on: date
    personal_data: bool | None
    kept_by: tuple[Keeping, ...] = ()

    @property
    def expired(self) -> bool:
        """Past the retention: the day after ``kept_until`` or later."""
        return self.on > self.kept_until

    @property
    def days_over(self) -> int:
        """Days past ``kept_until``; 0 when not expired."""
        return max(0, (self.on - self.kept_until).days)

    @property
    def due(self) -> bool:
        """Expired, with (possibly) personal data, and nothing keeps it: a finding."""
        return self.expired and self.personal_data is not False and not self.kept_by

    @property
    def action(self) -> str:
        if not self.expired:
            return f"within retention ({(self.kept_until - self.on).days} days left)"
        if self.personal_data is False:
            return "past its declared retention; no personal data declared (GDPR Art. 5(1)(e) "\
                "does not apply)"
        if not self.kept_by:
            return DUE
        return KEPT_ACTION if any(not k.held for k in self.kept_by) else HELD_ACTION

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value, "id": self.id, "name": self.name,
            "experiment_id": self.experiment_id, "kept_until": self.kept_until.isoformat(),
            "basis": self.basis, "expired": self.expired, "days_over": self.days_over,
            "personal_data": self.personal_data, "due": self.due,
            "kept_by": [k.as_dict() for k in self.kept_by], "action": self.action,
        }


def _day(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def retention_end(target: Target) -> tuple[date, str] | None:
    """The last day the target's record allows its data to be kept (GDPR Art. 5(1)(e)),
    and which tag says so; None when the record declares no retention (or none that can
    be counted: a period without a known start)."""
    if target.record is None:
        return None
    gdpr = target.record.gdpr
    ends: list[tuple[date, str]] = []
    if gdpr.retention_until is not None:
        ends.append((gdpr.retention_until, "compliance.gdpr.retention_until"))
    if gdpr.retention_period is not None and target.started > 0:
        start = _day(target.started)
        end = (start + timedelta(days=period_days(gdpr.retention_period))).date()
        ends.append((end, f"compliance.gdpr.retention_period {gdpr.retention_period} from "
                          f"the run's start {start.date().isoformat()}"))
    return min(ends) if ends else None


def plus_years(day: date, years: int) -> date:
    """The same calendar day ``years`` later; 29 February becomes 1 March (kept longer)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return date(day.year + years, 3, 1)


def art18_keeping(version: Target, on: date) -> Keeping | None:
    """AI Act Art. 18(1): a high-risk version's technical documentation is kept 10 years
    (counted here from the version's creation); the keeping, if still running on ``on``."""
    record = version.record
    if version.kind is not Kind.MODEL_VERSION or record is None:
        return None
    if record.ai_act.risk_class != RiskClass.HIGH or version.created <= 0:
        return None
    until = plus_years(_day(version.created).date(), AI_ACT_KEEP_YEARS)
    if until < on:
        return None
    return Keeping("AI Act Art. 18", until,
                   f"high-risk model version {version.id}: technical documentation kept "
                   f"{AI_ACT_KEEP_YEARS} years after its creation, until {until.isoformat()}")


def keepings_by_run(versions: Iterable[Target], on: date) -> dict[str, list[Keeping]]:
    """Run id -> the Art. 18 keepings of the high-risk versions made from it."""
    found: dict[str, list[Keeping]] = {}
    for version in versions:
        keeping = art18_keeping(version, on)
        if keeping is not None and version.run is not None:
            found.setdefault(version.run.id, []).append(keeping)
    return found


def hold_keeping(hold: Hold) -> Keeping:
    """GDPR Art. 17(3)(e) (or the hold's recorded ground): kept until released."""
    return Keeping(f"legal hold {hold.id}", None,
                   f"{hold.kind.replace('_', ' ')} {hold.target} held by {hold.created_by}: "
                   f"{hold.reason}", hold.ground)


def keepings_by_hold(holds: Iterable[Hold], runs: Iterable[Target],
                     versions: Iterable[Target]) -> dict[str, list[Keeping]]:
    """Target id (run id, ``name/version``) -> the keepings of the active holds covering
    it: a run by a hold on itself, its experiment or a registered model with a version
    made from it; a version by a hold on its model, its source run or that run's
    experiment."""
    active = [h for h in holds if h.active]
    if not active:
        return {}
    versions = list(versions)
    models_of: dict[str, list[str]] = {}
    for version in versions:
        if version.run is not None:
            models_of.setdefault(version.run.id, []).append(version.id.rsplit("/", 1)[0])
    found: dict[str, list[Keeping]] = {}
    for run in runs:
        for hold in active:
            if hold.covers(run.experiment_id, run.id, models_of.get(run.id, ())):
                found.setdefault(run.id, []).append(hold_keeping(hold))
    for version in versions:
        model = version.id.rsplit("/", 1)[0]
        source = version.run
        for hold in active:
            if (hold.kind == "registered_model" and hold.target == model) or (
                    source is not None and hold.kind != "registered_model"
                    and hold.covers(source.experiment_id, source.id)):
                found.setdefault(version.id, []).append(hold_keeping(hold))
    return found


def status(target: Target, on: date,
           run_keepings: Mapping[str, list[Keeping]] | None = None,
           held: Mapping[str, list[Keeping]] | None = None) -> RetentionStatus | None:
    """The retention status of a run or model version on ``on``; None when it declares
    no retention. A version is kept by its own Art. 18 keeping, a run by those of the
    high-risk versions made from it (``run_keepings``, from :func:`keepings_by_run`);
    either by the legal holds covering it (``held``, from :func:`keepings_by_hold`)."""
    if target.kind not in (Kind.RUN, Kind.MODEL_VERSION):
        return None
    end = retention_end(target)
    if end is None:
        return None
    kept: tuple[Keeping, ...]
    if target.kind is Kind.MODEL_VERSION:
        own = art18_keeping(target, on)
        kept = (own,) if own else ()
    else:
        kept = tuple((run_keepings or {}).get(target.id, ()))
    kept += tuple((held or {}).get(target.id, ()))
    assert target.record is not None  # retention_end found one
    return RetentionStatus(
        kind=target.kind, id=target.id, name=target.name, experiment_id=target.experiment_id,
        kept_until=end[0], basis=end[1], on=on,
        personal_data=target.record.gdpr.personal_data, kept_by=kept,
    )
