"""What a rule looks at and what it says: targets, rules, outcomes and findings.

A *target* is one thing a rule is checked against: a run, an experiment, a dataset
(an input of a run) or a model version (checked together with its source run and that
run's datasets). A target carries everything a rule may read, already fetched, so
rules are pure functions and a scan of 10,000 runs costs no request per rule.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from mlflow_compliance.checks.policy import Policy
from mlflow_compliance.record.dataset import DatasetRecord
from mlflow_compliance.record.schema import ComplianceRecord


class Kind(StrEnum):
    RUN = "run"
    EXPERIMENT = "experiment"
    DATASET = "dataset"
    MODEL_VERSION = "model_version"


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    # A declaration the rule needs is missing: failing like FAIL everywhere (exit code 1,
    # the gate refuses, a SARIF error), told apart so a team sees what to declare.
    UNDECLARED = "undeclared"
    NOT_APPLICABLE = "not_applicable"

    @property
    def failing(self) -> bool:
        return self in FAILING


FAILING = frozenset({Status.FAIL, Status.UNDECLARED})


@dataclass(frozen=True)
class ServerFacts:
    """What the server holding the targets says about itself (None: it does not say,
    e.g. a plain MLflow server)."""

    url: str = ""
    artifact_encryption: bool | None = None
    access_logging: bool | None = None
    audit_retention_days: int | None = None
    need_to_know: bool | None = None  # personal data only for cleared principals
    # Since when (ms) every artifact written through this server was encrypted; None: the
    # server does not say.
    encrypted_since: int | None = None
    policy: Policy = field(default_factory=Policy)


@dataclass(frozen=True)
class DatasetRef:
    """A dataset input of a run (MLflow's dataset record)."""

    name: str
    digest: str
    source_type: str = ""
    source: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)  # the input's tags (context)
    # The dataset's own compliance record, read from the input's tags; None when they do
    # not form a valid one (reasons in record_problems). targets.dataset_ref reads it.
    record: DatasetRecord | None = None
    record_problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class Target:
    kind: Kind
    id: str  # run id, experiment id, "<run id>/<dataset digest>", "<model>/<version>"
    name: str  # what a person calls it: run name, experiment name, "model v3"
    tags: Mapping[str, str] = field(default_factory=dict)
    # The record read from the tags; None when they do not form a valid record, with
    # the reasons in record_problems.
    record: ComplianceRecord | None = None
    record_problems: tuple[str, ...] = ()
    params: Mapping[str, str] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)  # latest value per key
    datasets: tuple[DatasetRef, ...] = ()
    run: Target | None = None  # a model version's source run, a dataset's run
    experiment_id: str = ""
    # A model version's creation time (ms): binds a sign-off to this version, not to a
    # later one re-created under the same name and number.
    created: int = 0
    server: ServerFacts = field(default_factory=ServerFacts)
    today: date = field(default_factory=date.today)
    started: int = 0  # the run's start (ms); a version's: its source run's; 0 unknown
    creator: str = ""  # the run's user_id; a version's: its source run's
    policy: Policy = field(default_factory=Policy)  # the server's (server.policy)
    # Each artifact path the record or its datasets' records reference (artifact:<path>)
    # -> whether the run has it; a referenced path missing here could not be looked up.
    evidence_files: Mapping[str, bool] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    status: Status
    message: str  # one line: what was found (and for a failure, what is missing)


Check = Callable[[Target], Outcome]


@dataclass(frozen=True)
class Rule:
    """One check. ``doc`` is written for a data-protection officer: what the law asks
    and what the rule looks at; ``remediation`` is one sentence on how to pass."""

    id: str  # e.g. GDPR-6-LAWFUL-BASIS
    article: str  # e.g. "GDPR Art. 6(1)"
    severity: Severity
    applies_to: frozenset[Kind]
    title: str
    doc: str
    remediation: str
    check: Check


@dataclass(frozen=True)
class Finding:
    """The one result shape: a rule's outcome on a target."""

    rule_id: str
    article: str
    severity: Severity
    target_kind: Kind
    target_id: str
    target_name: str
    status: Status
    message: str
    remediation: str

    def as_dict(self) -> dict[str, str]:
        return {
            "rule_id": self.rule_id,
            "article": self.article,
            "severity": self.severity.value,
            "target_kind": self.target_kind.value,
            "target_id": self.target_id,
            "target_name": self.target_name,
            "status": self.status.value,
            "message": self.message,
            "remediation": self.remediation,
        }
