"""The record of processing activities a controller keeps under GDPR Art. 30(1), built
from the compliance records of every run the caller may read.

Art. 30(1) asks for one entry per processing activity, and an activity is defined by its
purpose (Art. 5(1)(b): specified, explicit purposes). So the register holds ONE activity
per purpose, the normalised text of ``compliance.gdpr.purpose`` (case and spacing
ignored), over the runs that declare personal data (the run's record, or one of its
dataset inputs' records). Each activity merges its runs' declarations into the items
Art. 30(1) lists: (a) controller and DPO contacts, (b) purposes (with the Art. 6(1)
lawful basis), (c) categories of data subjects and of personal data (and Art. 9(1)
special categories), (d) recipients, (e) transfers to third countries and their
safeguards (Art. 46), (f) retention, (g) security measures, the last from what the
server itself reports in its server-info.

Nothing is filled in: an item no run declares is a *gap* naming the tag to set and the
article that needs it; runs of one purpose declaring different controllers, lawful
bases, transfers or retention are a *conflict*, with each value and how many runs say
it. The register holds no subject id (the record has none) and no time of its making,
so the same state gives the same register.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from mlflow.tracking import MlflowClient

from mlflow_compliance.checks.collect import Progress, active_runs_json, readable_experiments
from mlflow_compliance.checks.model import ServerFacts, Target
from mlflow_compliance.checks.targets import run_target_from_json
from mlflow_compliance.record import PERSONAL_DATA_TAG, declares_personal_data, period_days
from mlflow_compliance.record.schema import LawfulBasis

TITLE = "GDPR Art. 30(1) record of processing activities"
SCOPE = ("the active runs the caller may read that declare personal data; runs outside "
         "the caller's grants or need-to-know clearance are not in it")

PURPOSE = "compliance.gdpr.purpose"
LAWFUL_BASIS = "compliance.gdpr.lawful_basis"
CONTROLLER = "compliance.gdpr.controller_contact"
DPO = "compliance.gdpr.dpo_contact"
SUBJECTS = "compliance.gdpr.data_subject_categories"
DATA = "compliance.gdpr.data_categories"
SPECIAL = "compliance.gdpr.special_categories"
SPECIAL_GROUND = "compliance.gdpr.special_category_ground"
RECIPIENTS = "compliance.gdpr.recipients"
TRANSFERS = "compliance.gdpr.transfers_outside_eu"
SAFEGUARD = "compliance.gdpr.transfer_safeguard"
RETENTION_PERIOD = "compliance.gdpr.retention_period"
RETENTION_UNTIL = "compliance.gdpr.retention_until"
RETENTION = f"{RETENTION_PERIOD} or {RETENTION_UNTIL}"

LAWFUL_BASIS_LETTER = {
    LawfulBasis.CONSENT: "a",
    LawfulBasis.CONTRACT: "b",
    LawfulBasis.LEGAL_OBLIGATION: "c",
    LawfulBasis.VITAL_INTERESTS: "d",
    LawfulBasis.PUBLIC_TASK: "e",
    LawfulBasis.LEGITIMATE_INTERESTS: "f",
}
"""GDPR Art. 6(1): the letter of each lawful basis."""

NOT_HELD = (
    "the representative of a controller not established in the Union (Art. 27), "
    "Art. 30(1)(a)",
    "joint controllers (Art. 26), Art. 30(1)(a)",
    "the third countries or international organisations named and the documents of the "
    "Art. 49(1) second subparagraph safeguards, Art. 30(1)(e)",
)
"""Art. 30(1) items the compliance record has no field for: never filled, said once."""


@dataclass(frozen=True)
class Gap:
    """An Art. 30(1) item no run of the activity declares (or the server does not say)."""

    tag: str
    article: str
    by: str = "any run"

    def __str__(self) -> str:
        return f"not declared by {self.by}: {self.tag}, {self.article}"

    def as_dict(self) -> dict[str, str]:
        return {"tag": self.tag, "article": self.article, "message": str(self)}


@dataclass(frozen=True)
class Conflict:
    """Runs of one purpose declaring different values for one item."""

    tag: str
    article: str
    values: tuple[tuple[str, int], ...]  # (value, how many runs declare it), by value
    shown: str  # what the register shows for the item

    def __str__(self) -> str:
        said = ", ".join(f"{v} ({n} run{'s' if n != 1 else ''})" for v, n in self.values)
        return f"runs disagree on {self.tag}, {self.article}: {said}; {self.shown}"

    def as_dict(self) -> dict[str, Any]:
        return {"tag": self.tag, "article": self.article, "values": dict(self.values),
                "message": str(self)}


@dataclass(frozen=True)
class ExperimentRuns:
    id: str
    name: str
    runs: int

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "runs": self.runs}


@dataclass(frozen=True)
class Retention:
    """Art. 30(1)(f): the longest period and the latest date the runs declare."""

    period: str | None
    until: date | None
    periods: tuple[str, ...]
    until_dates: tuple[str, ...]

    @property
    def runs_disagree(self) -> bool:
        return len(self.periods) > 1 or len(self.until_dates) > 1

    def as_dict(self) -> dict[str, Any]:
        return {"longest_period": self.period,
                "latest_until": self.until.isoformat() if self.until else None,
                "periods_declared": list(self.periods),
                "until_dates_declared": list(self.until_dates),
                "runs_disagree": self.runs_disagree}


@dataclass(frozen=True)
class SecurityMeasures:
    """Art. 30(1)(g), Art. 32(1): what the server itself reports enforcing (None: it does
    not say). One set for the whole server: every activity's runs are kept there."""

    artifact_encryption: bool | None = None
    access_logging: bool | None = None
    audit_retention_days: int | None = None
    need_to_know: bool | None = None

    @classmethod
    def of(cls, facts: ServerFacts) -> SecurityMeasures:
        return cls(facts.artifact_encryption, facts.access_logging,
                   facts.audit_retention_days, facts.need_to_know)

    def _items(self) -> list[tuple[str, object, str]]:
        days = self.audit_retention_days
        return [
            ("artifact_encryption", self.artifact_encryption,
             "artifacts encrypted at rest (Art. 32(1)(a))"),
            ("access_logging", self.access_logging,
             "every request logged in a hash-chained, signed audit log (Art. 5(2), 32(1)(b))"),
            ("audit_retention_days", days,
             f"audit log kept {days} days" if days is not None else ""),
            ("need_to_know", self.need_to_know,
             "personal data readable only by cleared principals (Art. 32(1)(b), 5(1)(f))"),
        ]

    def statements(self) -> list[str]:
        """One line per measure the server reports, on or off."""
        lines = []
        for _, value, text in self._items():
            if value is True or (isinstance(value, int) and not isinstance(value, bool)):
                lines.append(text)
            elif value is False:
                lines.append("not enforced: " + text.split(" (")[0])
        return lines

    def gaps(self) -> list[Gap]:
        return [Gap(f"server-info {name}", "Art. 30(1)(g)", by="the server")
                for name, value, _ in self._items() if value is None]

    def as_dict(self) -> dict[str, Any]:
        return {"artifact_encryption": self.artifact_encryption,
                "access_logging": self.access_logging,
                "audit_retention_days": self.audit_retention_days,
                "need_to_know": self.need_to_know,
                "statements": self.statements(),
                "gaps": [g.as_dict() for g in self.gaps()]}


@dataclass(frozen=True)
class Activity:
    """One processing activity: the runs of one purpose, merged."""

    reference: str
    purpose: str | None  # None: the runs declare no purpose (a gap of (b))
    controller_contacts: tuple[str, ...]
    dpo_contacts: tuple[str, ...]
    lawful_bases: tuple[LawfulBasis, ...]
    data_subject_categories: tuple[str, ...]
    data_categories: tuple[str, ...]
    special_categories: tuple[str, ...]
    special_category_grounds: tuple[str, ...]
    recipients: tuple[str, ...]
    transfers_outside_eu: bool | None  # True: some run transfers; None: no run says
    transfer_safeguards: tuple[str, ...]
    retention: Retention
    experiments: tuple[ExperimentRuns, ...]
    runs: int
    gaps: tuple[Gap, ...]
    conflicts: tuple[Conflict, ...]

    def lawful_basis_articles(self) -> list[str]:
        return [f"Art. 6(1)({LAWFUL_BASIS_LETTER[b]}) {b.value}" for b in self.lawful_bases]

    def as_dict(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "purpose": self.purpose,
            "controller_contacts": list(self.controller_contacts),
            "dpo_contacts": list(self.dpo_contacts),
            "lawful_bases": [{"basis": b.value,
                              "article": f"GDPR Art. 6(1)({LAWFUL_BASIS_LETTER[b]})"}
                             for b in self.lawful_bases],
            "data_subject_categories": list(self.data_subject_categories),
            "data_categories": list(self.data_categories),
            "special_categories": list(self.special_categories),
            "special_category_grounds": list(self.special_category_grounds),
            "recipients": list(self.recipients),
            "transfers_outside_eu": self.transfers_outside_eu,
            "transfer_safeguards": list(self.transfer_safeguards),
            "retention": self.retention.as_dict(),
            "experiments": [e.as_dict() for e in self.experiments],
            "runs": self.runs,
            "gaps": [g.as_dict() for g in self.gaps],
            "conflicts": [c.as_dict() for c in self.conflicts],
        }


@dataclass(frozen=True)
class Register:
    server: str
    security: SecurityMeasures
    activities: tuple[Activity, ...]
    runs_read: int
    runs_with_personal_data: int
    # Runs declaring personal data whose record cannot be read (stored before validation
    # or behind its back): counted, never guessed into an activity.
    unreadable_records: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        return {
            "title": TITLE,
            "server": self.server,
            "scope": SCOPE,
            "security_measures": self.security.as_dict(),
            "activities": [a.as_dict() for a in self.activities],
            "runs_read": self.runs_read,
            "runs_with_personal_data": self.runs_with_personal_data,
            "runs_with_unreadable_record": list(self.unreadable_records),
            "not_held_in_the_record": list(NOT_HELD),
        }


# --- building -----------------------------------------------------------------------


def normalised_purpose(text: str) -> str:
    """The key one activity is found by: case and spacing do not make another purpose."""
    return " ".join(text.split()).casefold()


def declares_personal_data_anywhere(run: Target) -> bool:
    """The run's own record, or one of its dataset inputs' records, declares personal
    data (GDPR Art. 4(1))."""
    if declares_personal_data(run.tags.get(PERSONAL_DATA_TAG)):
        return True
    return any(declares_personal_data(d.tags.get(PERSONAL_DATA_TAG)) for d in run.datasets)


def build(runs: Iterable[Target], experiment_names: Mapping[str, str],
          facts: ServerFacts) -> Register:
    """The register over ``runs`` (as ``check`` reads them); pure, no request."""
    groups: dict[str | None, list[Target]] = {}
    unreadable: list[str] = []
    read = personal = 0
    for run in runs:
        read += 1
        if not declares_personal_data_anywhere(run):
            continue
        personal += 1
        if run.record is None:
            unreadable.append(run.id)
            continue
        purpose = run.record.gdpr.purpose
        groups.setdefault(normalised_purpose(purpose) if purpose else None, []).append(run)
    keys = sorted(groups, key=lambda k: (k is None, k or ""))
    return Register(
        server=facts.url,
        security=SecurityMeasures.of(facts),
        activities=tuple(_activity(k, groups[k], experiment_names) for k in keys),
        runs_read=read,
        runs_with_personal_data=personal,
        unreadable_records=tuple(sorted(unreadable)),
    )


def collect(client: MlflowClient, experiments: tuple[str, ...], facts: ServerFacts,
            progress: Progress = lambda what, n: None) -> Register:
    """Read every active run of the experiments given (each must exist), else of every
    readable one, in ``check``'s few large requests, and build the register."""
    found = readable_experiments(client, experiments)
    names = {e.experiment_id: e.name for e in found}
    progress("experiments", len(found))
    ids = list(names)
    runs: list[Target] = []
    for start in range(0, len(ids), 100):  # MLflow caps the experiment ids per search
        runs.extend(run_target_from_json(r, facts)
                    for r in active_runs_json(client, ids[start:start + 100], progress))
    return build(runs, names, facts)


def _reference(key: str | None) -> str:
    """A stable reference for an activity (CNIL's "N° / REF"): from its purpose, so
    adding another purpose does not renumber it."""
    if key is None:
        return "PA-no-purpose"
    return "PA-" + hashlib.sha256(key.encode()).hexdigest()[:8]


def _spelling(values: Iterable[str]) -> list[str]:
    """Distinct values, case and spacing ignored, each in its most used spelling (ties:
    the first in sort order), sorted."""
    spellings: dict[str, Counter[str]] = {}
    for value in values:
        text = " ".join(value.split())
        spellings.setdefault(text.casefold(), Counter())[text] += 1
    return sorted(min(c, key=lambda s: (-c[s], s)) for c in spellings.values())


def _count(values: Iterable[str]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(Counter(values).items()))


def _activity(key: str | None, runs: Sequence[Target],
              names: Mapping[str, str]) -> Activity:
    records = [r.record.gdpr for r in runs if r.record is not None]
    datasets = [d.record for r in runs for d in r.datasets if d.record is not None]

    def each(read: Callable[[Any], Any]) -> list[Any]:
        return [v for v in (read(g) for g in records) if v is not None]

    def listed(read: Callable[[Any], Any], also: Iterable[Any] = ()) -> list[str]:
        items = [str(getattr(i, "value", i)) for g in records for i in (read(g) or ())]
        return _spelling([*items, *(str(getattr(i, "value", i)) for i in also)])

    gaps: list[Gap] = []
    conflicts: list[Conflict] = []

    def single(tag: str, article: str, values: list[str], gap: bool = True) -> list[str]:
        distinct = _spelling(values)
        if not distinct and gap:
            gaps.append(Gap(tag, article))
        if len(distinct) > 1:
            conflicts.append(Conflict(tag, article, _count(values), "all are listed"))
        return distinct

    controllers = single(CONTROLLER, "Art. 30(1)(a)", each(lambda g: g.controller_contact))
    dpos = single(DPO, "Art. 30(1)(a), 37(7)", each(lambda g: g.dpo_contact))
    purpose = _spelling(each(lambda g: g.purpose))
    if key is None:
        gaps.append(Gap(PURPOSE, "Art. 30(1)(b)"))
    bases = [b.value for b in each(lambda g: g.lawful_basis)]
    single(LAWFUL_BASIS, "Art. 6(1)", bases)
    lawful = tuple(sorted({LawfulBasis(b) for b in bases}, key=LAWFUL_BASIS_LETTER.__getitem__))

    subjects = listed(lambda g: g.data_subject_categories)
    if not subjects:
        gaps.append(Gap(SUBJECTS, "Art. 30(1)(c)"))
    data = listed(lambda g: g.data_categories,
                  (c for d in datasets for c in d.data_categories or ()))
    if not data:
        gaps.append(Gap(DATA, "Art. 30(1)(c)", by="any run or dataset"))
    special = listed(lambda g: g.special_categories,
                     (c for d in datasets for c in d.special_categories or ()))
    grounds = _spelling(g.value for g in each(lambda g: g.special_category_ground))
    if special and not grounds:
        gaps.append(Gap(SPECIAL_GROUND, "Art. 9(2)"))
    recipients = listed(lambda g: g.recipients)
    if not recipients:
        gaps.append(Gap(RECIPIENTS, "Art. 30(1)(d)"))

    said = each(lambda g: g.transfers_outside_eu)
    transfers = True if True in said else (False if said else None)
    if transfers is None:
        gaps.append(Gap(TRANSFERS, "Art. 30(1)(e)"))
    if len(set(said)) > 1:
        conflicts.append(Conflict(TRANSFERS, "Art. 30(1)(e)",
                                  _count("true" if s else "false" for s in said),
                                  "the register shows the transfer"))
    safeguards = _spelling(g.transfer_safeguard.value for g in records
                           if g.transfers_outside_eu and g.transfer_safeguard)
    if transfers and any(g.transfers_outside_eu and not g.transfer_safeguard for g in records):
        gaps.append(Gap(SAFEGUARD, "Art. 30(1)(e), 46",
                        by="every run that transfers outside the EU"))

    retention = _retention(records)
    if retention.period is None and retention.until is None:
        gaps.append(Gap(RETENTION, "Art. 30(1)(f)"))
    if len(retention.periods) > 1:
        conflicts.append(Conflict(
            RETENTION_PERIOD, "Art. 30(1)(f)", _count(each(lambda g: g.retention_period)),
            f"the register shows the longest, {retention.period}"))
    if len(retention.until_dates) > 1 and retention.until is not None:
        conflicts.append(Conflict(
            RETENTION_UNTIL, "Art. 30(1)(f)",
            _count(d.isoformat() for d in each(lambda g: g.retention_until)),
            f"the register shows the latest, {retention.until.isoformat()}"))

    per_experiment = Counter(r.experiment_id for r in runs)
    return Activity(
        reference=_reference(key),
        purpose=purpose[0] if purpose else None,
        controller_contacts=tuple(controllers),
        dpo_contacts=tuple(dpos),
        lawful_bases=lawful,
        data_subject_categories=tuple(subjects),
        data_categories=tuple(data),
        special_categories=tuple(special),
        special_category_grounds=tuple(grounds),
        recipients=tuple(recipients),
        transfers_outside_eu=transfers,
        transfer_safeguards=tuple(safeguards),
        retention=retention,
        experiments=tuple(
            ExperimentRuns(e, names.get(e, ""), n)
            for e, n in sorted(per_experiment.items(), key=lambda i: (len(i[0]), i[0]))),
        runs=len(runs),
        gaps=tuple(gaps),
        conflicts=tuple(conflicts),
    )


def _retention(records: Sequence[Any]) -> Retention:
    periods = sorted({g.retention_period for g in records if g.retention_period},
                     key=lambda p: (period_days(p), p))
    dates = sorted({g.retention_until for g in records if g.retention_until})
    return Retention(
        period=periods[-1] if periods else None,
        until=dates[-1] if dates else None,
        periods=tuple(periods),
        until_dates=tuple(d.isoformat() for d in dates),
    )
