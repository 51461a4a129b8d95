"""The rules, the packs and custom rules, on targets built by hand with the real record
parser (no server needed)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest

from mlflow_compliance.checks import packs
from mlflow_compliance.checks.declarative import RuleFileError
from mlflow_compliance.checks.model import (
    DatasetRef,
    Kind,
    Outcome,
    Rule,
    ServerFacts,
    Severity,
    Status,
    Target,
)
from mlflow_compliance.checks.packs import (
    BUILTIN_PACKS,
    ENTRY_POINT_GROUP,
    PackError,
    RuleFailed,
    UnknownPack,
    evaluate,
    load_rules,
)
from mlflow_compliance.checks.policy import Policy
from mlflow_compliance.checks.reference import rules_reference
from mlflow_compliance.checks.targets import dataset_ref, dataset_targets
from mlflow_compliance.project import load_project
from mlflow_compliance.record import (
    DATASET_FIELDS,
    FIELDS,
    ComplianceRecord,
    InvalidComplianceRecord,
    record_from_tags,
    record_to_tags,
)
from tests.conftest import ROOT

TODAY = date(2025, 6, 1)


def ms(day: str) -> int:
    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp() * 1000)


STARTED = ms("2025-05-01")  # the training run's start
SERVER = ServerFacts(
    url="http://127.0.0.1:5000",
    artifact_encryption=True,
    access_logging=True,
    audit_retention_days=183,
    need_to_know=True,
    encrypted_since=ms("2025-01-01"),
)
RULES = {rule.id: rule for pack in BUILTIN_PACKS.values() for rule in pack}
GDPR_IDS = [rule.id for rule in BUILTIN_PACKS["gdpr"] if Kind.RUN in rule.applies_to]
HIGH_RISK_ONLY = [
    "AIACT-13-INTENDED-PURPOSE",
    "AIACT-6-ANNEX-III-AREA",
    "AIACT-9-RISK-MANAGEMENT",
    "AIACT-13-INSTRUCTIONS",
    "AIACT-14-OVERSIGHT",
    "AIACT-26-OVERSEER",
    "AIACT-12-EVENT-LOGS",
    "AIACT-10-1-DATASETS",
    "AIACT-10-2-B-ORIGIN",
    "AIACT-10-3-REPRESENTATIVENESS",
]

SEED = {"compliance": "GDPR", "data_privacy": "enabled"}
MINIMAL = {**SEED, "compliance.gdpr.personal_data": "false",
           "compliance.ai_act.risk_class": "minimal"}
PERSONAL = {**SEED, "compliance.gdpr.personal_data": "true",
            "compliance.ai_act.risk_class": "minimal"}
GDPR_COMPLETE = {
    **PERSONAL,
    "compliance.gdpr.lawful_basis": "contract",
    "compliance.gdpr.purpose": "Predict churn of our own customers",
    "compliance.gdpr.retention_period": "P2Y",
    "compliance.gdpr.controller_contact": "Acme GmbH, privacy@acme.example",
    "compliance.gdpr.dpo_contact": "dpo@acme.example",
    "compliance.gdpr.transfers_outside_eu": "false",
}
HEALTH = {**GDPR_COMPLETE, "compliance.gdpr.special_categories": "health_data"}
DPIA_DONE = {
    "compliance.gdpr.dpia_reference": "artifact:docs/dpia.pdf",
    "compliance.gdpr.dpia_status": "completed",
    "compliance.gdpr.dpia_completed_on": "2025-04-30",
}
HIGH_RISK = {
    "compliance": "GDPR,AI Act",
    "data_privacy": "enabled",
    "compliance.gdpr.personal_data": "false",
    "compliance.ai_act.risk_class": "high",
    "compliance.ai_act.transparency_obligations": "false",
    "compliance.ai_act.annex_iii_area": "employment",
    "compliance.ai_act.intended_purpose": "Rank job applications for a recruiter",
    "compliance.ai_act.oversight_measures": "A recruiter reviews every ranking before use",
    "compliance.ai_act.human_overseer": "Jane Doe",
    "compliance.ai_act.risk_management_reference": "https://docs.acme.example/risk/42",
    "compliance.ai_act.instructions_for_use": "artifact:docs/instructions.pdf",
    "compliance.ai_act.metric_thresholds": "test_accuracy>=0.9",
    "compliance.ai_act.evaluation_groups": "women,men",
    "compliance.ai_act.event_log_retention": "P1Y",
}
HIGH_RISK_METRICS = {"test_accuracy": 0.93, "test_accuracy/women": 0.92,
                     "test_accuracy/men": 0.94}
EVIDENCE = {"docs/dpia.pdf": True, "docs/instructions.pdf": True, "docs/bias.html": True}
DESCRIBED = {"data_description": "Applications 2020-2024, pseudonymised"}
DATASET_RECORD = {
    "compliance.gdpr.personal_data": "false",
    "compliance.dataset.design_choices": "One row per application, all fields as submitted",
    "compliance.dataset.origin": "Applications received through our careers site",
    "compliance.dataset.preparation": "Deduplicated, free text removed, labels from hires",
    "compliance.dataset.assumptions": "Past hiring decisions measure suitability for the role",
    "compliance.dataset.suitability": "Forty thousand applications across all job families",
    "compliance.dataset.bias_examination": "artifact:docs/bias.html",
    "compliance.dataset.bias_measures": "Reweighted by gender; gendered words removed",
    "compliance.dataset.gaps": "Few applications for senior roles; flagged to the deployer",
    "compliance.dataset.representativeness": "Matches the applicant pool by age and gender",
}
TRAIN = dataset_ref("train", "d1", "s3", "s3://data/train.csv", DATASET_RECORD)
NO_SOURCE = dataset_ref("scraped", "d2", "code", "")


def target(
    tags: dict[str, str] | None = None,
    kind: Kind = Kind.RUN,
    params: dict[str, str] | None = None,
    metrics: dict[str, float] | None = None,
    datasets: tuple[DatasetRef, ...] = (),
    server: ServerFacts = SERVER,
    started: int = STARTED,
    evidence: dict[str, bool] | None = None,
    policy: Policy | None = None,
) -> Target:
    """A target as the collector builds it: the record parsed from the tags."""
    tags = dict(tags or {})
    problems: tuple[str, ...] = ()
    record: ComplianceRecord | None
    try:
        record = record_from_tags(tags)
    except InvalidComplianceRecord as e:
        record, problems = None, tuple(str(p) for p in e.problems)
    return Target(
        kind=kind,
        id="churn/3" if kind is Kind.MODEL_VERSION else "run-1",
        name="churn v3" if kind is Kind.MODEL_VERSION else "run 1",
        tags=tags,
        record=record,
        record_problems=problems,
        params=params or {},
        metrics=metrics or {},
        datasets=datasets,
        server=server,
        today=TODAY,
        started=started,
        creator="alice",
        policy=policy or server.policy,
        evidence_files=EVIDENCE if evidence is None else evidence,
    )


def version(tags: dict[str, str], **kwargs: Any) -> Target:
    return target(tags, Kind.MODEL_VERSION, **kwargs)


def dataset(run_tags: dict[str, str], d: DatasetRef, **kwargs: Any) -> Target:
    """The dataset target of a run with this one dataset."""
    (made,) = dataset_targets(target(run_tags, datasets=(d,), **kwargs))
    return made


def outcome(rule_id: str, t: Target) -> Outcome:
    result = RULES[rule_id].check(t)
    assert "\n" not in result.message and result.message
    return result


P, F, U, NA = Status.PASS, Status.FAIL, Status.UNDECLARED, Status.NOT_APPLICABLE
HIGH = {"compliance.ai_act.risk_class": "high"}

CASES = [
    # baseline
    ("BASE-MINIMUM-RECORD", target(MINIMAL), P, "declares compliance.gdpr.personal_data"),
    ("BASE-MINIMUM-RECORD", target(SEED), U,
     "missing required tag compliance.gdpr.personal_data, compliance.ai_act.risk_class"),
    ("BASE-MINIMUM-RECORD", version({**SEED, "compliance.gdpr.personal_data": "true"}), U,
     "missing required tag compliance.ai_act.risk_class"),
    ("BASE-MINIMUM-RECORD", target(SEED, policy=Policy(required=())), P, "requires no tag"),
    ("BASE-COMPLIANCE-TAGS", target(SEED), P, "compliance=GDPR, data_privacy=enabled"),
    ("BASE-COMPLIANCE-TAGS", version(SEED), P, "compliance=GDPR"),
    ("BASE-COMPLIANCE-TAGS", target({}), U, "missing tag compliance, data_privacy"),
    ("BASE-COMPLIANCE-TAGS", target({"compliance": "GDPR"}), U, "missing tag data_privacy"),
    (
        "BASE-COMPLIANCE-TAGS",
        target({**SEED, "compliance.gdpr.lawful_basis": "maybe"}),
        F,
        "invalid compliance.gdpr.lawful_basis: 'maybe' is not allowed",
    ),
    ("BASE-ENCRYPTION-AT-REST", target(SEED), P, "artifact encryption on since 2025-01-01"),
    ("BASE-ENCRYPTION-AT-REST", version(SEED), P, "before the run started"),
    (
        "BASE-ENCRYPTION-AT-REST",
        target(SEED, server=ServerFacts(artifact_encryption=False)),
        F,
        "artifact encryption is off",
    ),
    (
        "BASE-ENCRYPTION-AT-REST",
        target(SEED, server=ServerFacts()),
        F,
        "the server does not report artifact encryption",
    ),
    ("BASE-ACCESS-LOGGING", target(SEED), P, "access logging on, audit log kept 183 days"),
    (
        "BASE-ACCESS-LOGGING",
        target(SEED, server=ServerFacts(access_logging=False, audit_retention_days=400)),
        F,
        "access logging is off",
    ),
    (
        "BASE-ACCESS-LOGGING",
        target(SEED, server=ServerFacts()),
        F,
        "the server does not report access logging",
    ),
    (
        "BASE-ACCESS-LOGGING",
        version(SEED, server=ServerFacts(access_logging=True, audit_retention_days=30)),
        F,
        "audit log kept 30 days, fewer than 183",
    ),
    (
        "BASE-ACCESS-LOGGING",
        target(SEED, server=ServerFacts(access_logging=True)),
        F,
        "does not report how long it keeps the audit log",
    ),
    ("BASE-DATA-DESCRIPTION", target(SEED, params=DESCRIBED), P, "data_description set"),
    ("BASE-DATA-DESCRIPTION", version(SEED, params=DESCRIBED), P, "data_description set"),
    ("BASE-DATA-DESCRIPTION", target(SEED), U, "param data_description missing or empty"),
    (
        "BASE-DATA-DESCRIPTION",
        target(SEED, params={"data_description": "  "}),
        U,
        "missing or empty",
    ),
    ("BASE-DATA-DESCRIPTION", target(SEED, params={"data_description": "TBD"}), F,
     "describes nothing"),
    ("BASE-DATASET-SOURCE", dataset(MINIMAL, TRAIN), P, "train: s3"),
    ("BASE-DATASET-SOURCE", dataset(MINIMAL, NO_SOURCE), F, "dataset scraped: no source"),
    (
        "BASE-DATASET-SOURCE",
        dataset(MINIMAL, dataset_ref("x", "d")),
        F,
        "dataset x: no source_type and no source",
    ),
    ("BASE-DATASET-SOURCE", target(kind=Kind.DATASET), NA, "no dataset"),
    ("BASE-DATASET-RECORD", dataset(MINIMAL, TRAIN), P, "train: valid dataset record"),
    (
        "BASE-DATASET-RECORD",
        dataset(MINIMAL, dataset_ref("x", "d", tags={"compliance.dataset.origin": "TBD"})),
        F,
        "dataset x: invalid compliance.dataset.origin: 'TBD' is not allowed",
    ),
    (
        "BASE-EXPERIMENT-REGULATIONS",
        target({"compliance": "GDPR,AI Act"}, Kind.EXPERIMENT),
        P,
        "regulations: GDPR,AI Act",
    ),
    ("BASE-EXPERIMENT-REGULATIONS", target({}, Kind.EXPERIMENT), U, "tag compliance missing"),
    (
        "BASE-EXPERIMENT-REGULATIONS",
        target({"compliance": "HIPAA"}, Kind.EXPERIMENT),
        F,
        "invalid compliance: 'HIPAA' is not allowed",
    ),
    # gdpr
    ("GDPR-4-PERSONAL-DATA-CONSISTENT", target(PERSONAL), P, "the record declares personal data"),
    ("GDPR-4-PERSONAL-DATA-CONSISTENT", target(MINIMAL, datasets=(TRAIN,)), P,
     "no personal data, none declared by its 1 dataset(s)"),
    ("GDPR-4-PERSONAL-DATA-CONSISTENT", target(SEED), U,
     "compliance.gdpr.personal_data not declared"),
    ("GDPR-6-LAWFUL-BASIS", target(GDPR_COMPLETE), P, "lawful basis: contract"),
    ("GDPR-6-LAWFUL-BASIS", target(PERSONAL), U, "without a lawful basis"),
    ("GDPR-9-SPECIAL-CATEGORIES", target(GDPR_COMPLETE), NA, "list no special categories"),
    (
        "GDPR-9-SPECIAL-CATEGORIES",
        target(HEALTH),
        U,
        "special categories (health_data) without an Art. 9(2) ground",
    ),
    (
        "GDPR-9-SPECIAL-CATEGORIES",
        target({**HEALTH, "compliance.gdpr.special_category_ground": "explicit_consent"}),
        P,
        "health_data under explicit_consent",
    ),
    ("GDPR-5-PURPOSE", target(GDPR_COMPLETE), P, "purpose: Predict churn"),
    ("GDPR-5-PURPOSE", target(PERSONAL), U, "without a stated purpose"),
    ("GDPR-5-RETENTION", target(GDPR_COMPLETE), P, "kept for P2Y"),
    (
        "GDPR-5-RETENTION",
        target({**PERSONAL, "compliance.gdpr.retention_until": "2030-12-31"}),
        P,
        "kept until 2030-12-31",
    ),
    (
        "GDPR-5-RETENTION",
        target({**GDPR_COMPLETE, "compliance.gdpr.retention_until": "2025-01-31"}),
        F,
        "compliance.gdpr.retention_until 2025-01-31 has passed: erase or anonymise the data",
    ),
    (
        "GDPR-5-RETENTION",
        target({**GDPR_COMPLETE, "compliance.gdpr.retention_period": "P999Y"}),
        F,
        "compliance.gdpr.retention_period P999Y is 364,885 days, longer than the policy's "
        "maximum of 3653 days",
    ),
    ("GDPR-5-RETENTION", target(PERSONAL), U, "no retention limit"),
    (
        "GDPR-5-MINIMISATION",
        dataset(PERSONAL, dataset_ref("crm", "d3", tags={
            "compliance.gdpr.personal_data": "true",
            "compliance.dataset.minimisation": "Only tenure and plan; names and addresses dropped",
        })),
        P,
        "dataset crm: minimisation stated",
    ),
    (
        "GDPR-5-MINIMISATION",
        dataset(PERSONAL, dataset_ref("crm", "d3", tags={"compliance.gdpr.personal_data": "true"})),
        U,
        "dataset crm: personal data without compliance.dataset.minimisation",
    ),
    ("GDPR-5-MINIMISATION", dataset(PERSONAL, dataset_ref("crm", "d3")), U,
     "dataset crm: compliance.gdpr.personal_data not declared on the dataset input"),
    ("GDPR-5-MINIMISATION", dataset(MINIMAL, dataset_ref("iris", "d4")), NA,
     "the run's record declares no personal data"),
    ("GDPR-5-MINIMISATION", dataset(PERSONAL, TRAIN), NA,
     "the dataset record declares no personal data"),
    ("GDPR-35-DPIA", target(GDPR_COMPLETE), NA, "no DPIA called for"),
    (
        "GDPR-35-DPIA",
        target(HEALTH),
        U,
        "DPIA called for (special categories): no compliance.gdpr.dpia_reference",
    ),
    (
        "GDPR-35-DPIA",
        target({**GDPR_COMPLETE, **HIGH}),
        U,
        "DPIA called for (high-risk AI system)",
    ),
    (
        "GDPR-35-DPIA",
        target({**GDPR_COMPLETE, "compliance.gdpr.dpia_status": "planned"}),
        U,
        "DPIA called for (DPIA planned): no compliance.gdpr.dpia_reference",
    ),
    (
        "GDPR-35-DPIA",
        target({**HEALTH, "compliance.gdpr.dpia_reference": "artifact:docs/dpia.pdf",
                "compliance.gdpr.dpia_status": "not_required"}),
        F,
        "compliance.gdpr.dpia_status is not_required",
    ),
    (
        "GDPR-35-DPIA",
        target({**HEALTH, "compliance.gdpr.dpia_reference": "artifact:docs/dpia.pdf",
                "compliance.gdpr.dpia_status": "in_progress"}),
        F,
        "compliance.gdpr.dpia_status is in_progress, but the model is already trained",
    ),
    ("GDPR-35-DPIA", version({**HEALTH, **DPIA_DONE}), P,
     "DPIA artifact:docs/dpia.pdf completed on 2025-04-30, before training"),
    ("GDPR-35-DPIA", target({**HEALTH, **DPIA_DONE}), P, "completed on 2025-04-30"),
    (
        "GDPR-35-DPIA",
        target({**HEALTH, **DPIA_DONE, "compliance.gdpr.dpia_completed_on": "2025-05-02"}),
        F,
        "compliance.gdpr.dpia_completed_on 2025-05-02 is after the training run started on "
        "2025-05-01",
    ),
    ("GDPR-30-CONTACTS", target(GDPR_COMPLETE), P, "DPO dpo@acme.example"),
    (
        "GDPR-30-CONTACTS",
        target({**PERSONAL, "compliance.gdpr.controller_contact": "Acme GmbH, a@acme.example"}),
        U,
        "missing compliance.gdpr.dpo_contact",
    ),
    ("GDPR-44-TRANSFERS", target(GDPR_COMPLETE), P, "no transfers to a third country"),
    ("GDPR-44-TRANSFERS", target(PERSONAL), U, "transfers to a third country not stated"),
    (
        "GDPR-44-TRANSFERS",
        target({**PERSONAL, "compliance.gdpr.transfers_outside_eu": "true"}),
        U,
        "without a safeguard",
    ),
    (
        "GDPR-44-TRANSFERS",
        target(
            {
                **PERSONAL,
                "compliance.gdpr.transfers_outside_eu": "true",
                "compliance.gdpr.transfer_safeguard": "standard_contractual_clauses",
            }
        ),
        P,
        "under standard_contractual_clauses",
    ),
    ("GDPR-32-NEED-TO-KNOW", target(PERSONAL), P, "only principals cleared"),
    (
        "GDPR-32-NEED-TO-KNOW",
        target(PERSONAL, server=ServerFacts(need_to_know=False)),
        F,
        "every reader of the server can read this personal data",
    ),
    (
        "GDPR-32-NEED-TO-KNOW",
        target(PERSONAL, server=ServerFacts()),
        F,
        "the server does not report need-to-know access",
    ),
    # ai-act
    ("AIACT-6-RISK-CLASS", target(HIGH_RISK), P, "risk class high"),
    ("AIACT-6-RISK-CLASS", version(SEED), U, "compliance.ai_act.risk_class not declared"),
    ("AIACT-6-RISK-CLASS", target({**SEED, "compliance": "AI Act"}), U, "not declared"),
    ("AIACT-6-RISK-CLASS", target(SEED), NA, "leave out the AI Act"),
    (
        "AIACT-6-RISK-CLASS",
        version({**SEED, "compliance.gdpr.personal_data": "maybe"}),
        F,
        "no valid record",
    ),
    (
        "AIACT-5-PROHIBITED",
        version({**SEED, "compliance.ai_act.risk_class": "prohibited"}),
        F,
        "prohibited AI practice",
    ),
    ("AIACT-5-PROHIBITED", target(HIGH_RISK), P, "risk class high, not prohibited"),
    ("AIACT-5-PROHIBITED", target(MINIMAL), P, "not prohibited"),
    ("AIACT-5-PROHIBITED", version(SEED), U, "compliance.ai_act.risk_class not declared"),
    ("AIACT-5-PROHIBITED", target({"compliance": "HIPAA"}), F, "no valid record"),
    ("AIACT-50-TRANSPARENCY", version(HIGH_RISK), P, "declares no Art. 50 transparency duty"),
    ("AIACT-50-TRANSPARENCY", version({**MINIMAL,
                                       "compliance.ai_act.transparency_obligations": "true"}),
     P, "declares the Art. 50 transparency duties apply"),
    ("AIACT-50-TRANSPARENCY", version(MINIMAL), U,
     "compliance.ai_act.transparency_obligations not declared"),
    ("AIACT-13-INTENDED-PURPOSE", target(HIGH_RISK), P, "Rank job applications"),
    ("AIACT-13-INTENDED-PURPOSE", target({**SEED, **HIGH}), U, "no intended purpose"),
    ("AIACT-6-ANNEX-III-AREA", target(HIGH_RISK), P, "Annex III area: employment"),
    ("AIACT-6-ANNEX-III-AREA", target({**SEED, **HIGH}), U, "no Annex III area"),
    ("AIACT-9-RISK-MANAGEMENT", target(HIGH_RISK), P,
     "risk management documentation: https://docs.acme.example/risk/42"),
    ("AIACT-9-RISK-MANAGEMENT", target({**SEED, **HIGH}), U,
     "no risk management documentation (compliance.ai_act.risk_management_reference)"),
    ("AIACT-9-RISK-MANAGEMENT",
     target({**HIGH_RISK, "compliance.ai_act.risk_management_reference": "artifact:risk.pdf"}),
     F, "compliance.ai_act.risk_management_reference: artifact risk.pdf could not be looked up"),
    ("AIACT-13-INSTRUCTIONS", version(HIGH_RISK), P,
     "instructions for use: artifact:docs/instructions.pdf"),
    ("AIACT-13-INSTRUCTIONS", version(HIGH_RISK, evidence={"docs/instructions.pdf": False}), F,
     "artifact docs/instructions.pdf is not among the run's artifacts"),
    ("AIACT-13-INSTRUCTIONS", version({**SEED, **HIGH}), U, "no instructions for use"),
    ("AIACT-14-OVERSIGHT", target(HIGH_RISK), P, "oversight measures: A recruiter reviews"),
    ("AIACT-14-OVERSIGHT", target({**SEED, **HIGH}), U,
     "no human oversight measures (compliance.ai_act.oversight_measures)"),
    ("AIACT-26-OVERSEER", version(HIGH_RISK), P, "overseen by Jane Doe"),
    ("AIACT-26-OVERSEER", version({**SEED, **HIGH}), U, "no human overseer"),
    ("AIACT-15-ACCURACY", version(HIGH_RISK, metrics=HIGH_RISK_METRICS), P,
     "met: test_accuracy>=0.9 (0.93)"),
    ("AIACT-15-ACCURACY", target(HIGH_RISK, metrics={"test_accuracy": 0.8}), F,
     "test_accuracy = 0.8 misses test_accuracy>=0.9"),
    ("AIACT-15-ACCURACY", target({**SEED, **HIGH}), U,
     "high-risk system without compliance.ai_act.metric_thresholds"),
    ("AIACT-15-ACCURACY", target(MINIMAL), NA,
     "risk class minimal: not high-risk, and declares no metric thresholds"),
    ("AIACT-12-EVENT-LOGS", version(HIGH_RISK), P, "event logs kept P1Y"),
    ("AIACT-12-EVENT-LOGS",
     version({**HIGH_RISK, "compliance.ai_act.event_log_retention": "P3M"}), F,
     "compliance.ai_act.event_log_retention P3M is 91 days, fewer than 183"),
    ("AIACT-12-EVENT-LOGS", version({**SEED, **HIGH}), U, "no event log retention"),
    ("AIACT-10-1-DATASETS", version(HIGH_RISK, datasets=(TRAIN,)), P, "1 dataset(s): train"),
    ("AIACT-10-1-DATASETS", target(HIGH_RISK), U, "no dataset logged"),
    ("AIACT-10-2-A-DESIGN-CHOICES", dataset(HIGH_RISK, TRAIN), P, "design choices stated"),
    ("AIACT-10-2-A-DESIGN-CHOICES", dataset(HIGH_RISK, NO_SOURCE), U,
     "dataset scraped: no compliance.dataset.design_choices"),
    ("AIACT-10-2-B-ORIGIN", version(HIGH_RISK, datasets=(TRAIN,)), P, "origin stated for train"),
    ("AIACT-10-2-B-ORIGIN", version(HIGH_RISK, datasets=(TRAIN, NO_SOURCE)), U,
     "dataset scraped: no compliance.dataset.origin"),
    ("AIACT-10-2-C-PREPARATION", dataset(HIGH_RISK, TRAIN), P, "preparation stated"),
    ("AIACT-10-2-C-PREPARATION", dataset(HIGH_RISK, NO_SOURCE), U,
     "no compliance.dataset.preparation"),
    ("AIACT-10-2-D-ASSUMPTIONS", dataset(HIGH_RISK, TRAIN), P, "assumptions stated"),
    ("AIACT-10-2-D-ASSUMPTIONS", dataset(HIGH_RISK, NO_SOURCE), U,
     "no compliance.dataset.assumptions"),
    ("AIACT-10-2-E-SUITABILITY", dataset(HIGH_RISK, TRAIN), P, "suitability stated"),
    ("AIACT-10-2-E-SUITABILITY", dataset(HIGH_RISK, NO_SOURCE), U,
     "no compliance.dataset.suitability"),
    ("AIACT-10-2-F-BIAS-EXAMINATION", dataset(HIGH_RISK, TRAIN), P, "bias examination stated"),
    ("AIACT-10-2-F-BIAS-EXAMINATION", dataset(HIGH_RISK, TRAIN, evidence={}), F,
     "dataset train: compliance.dataset.bias_examination: artifact docs/bias.html could not "
     "be looked up"),
    ("AIACT-10-2-G-BIAS-MEASURES", dataset(HIGH_RISK, TRAIN), P, "bias measures stated"),
    ("AIACT-10-2-G-BIAS-MEASURES", dataset(HIGH_RISK, NO_SOURCE), U,
     "no compliance.dataset.bias_measures"),
    ("AIACT-10-2-H-GAPS", dataset(HIGH_RISK, TRAIN), P, "data gaps stated"),
    ("AIACT-10-2-H-GAPS", dataset(HIGH_RISK, NO_SOURCE), U, "no compliance.dataset.gaps"),
    ("AIACT-10-3-REPRESENTATIVENESS", dataset(HIGH_RISK, TRAIN), P, "representativeness stated"),
    ("AIACT-10-3-REPRESENTATIVENESS", dataset(HIGH_RISK, NO_SOURCE), U,
     "no compliance.dataset.representativeness"),
    ("AIACT-10-5-SPECIAL-CATEGORIES", dataset(HIGH_RISK, TRAIN), NA,
     "the dataset records list no special categories"),
]


@pytest.mark.parametrize(
    ("rule_id", "t", "status", "says"),
    CASES,
    ids=[f"{rule_id}-{status.value}-{i}" for i, (rule_id, _, status, _) in enumerate(CASES)],
)
def test_rule_outcome(rule_id: str, t: Target, status: Status, says: str) -> None:
    result = outcome(rule_id, t)
    assert result.status is status and says in result.message, result


def test_every_rule_has_a_case_that_passes_and_one_that_fails() -> None:
    from tests.test_rules_evidence import CASES as EVIDENCE_CASES

    both = [*CASES, *EVIDENCE_CASES]
    passing = {rule_id for rule_id, _, status, _ in both if status is P}
    failing = {rule_id for rule_id, _, status, _ in both if status.failing}
    for rule_id in RULES:
        assert rule_id in passing and rule_id in failing, rule_id


@pytest.mark.parametrize("rule_id", GDPR_IDS)
@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        (MINIMAL, Outcome(NA, "the record declares no personal data")),
        (SEED, Outcome(U, "compliance.gdpr.personal_data not declared")),
        ({**PERSONAL, "compliance.gdpr.lawful_basis": "maybe"},
         Outcome(F, "no valid record (see BASE-COMPLIANCE-TAGS)")),
    ],
)
def test_gdpr_rules_fail_closed_without_a_valid_declaration(
    rule_id: str, tags: dict[str, str], expected: Outcome
) -> None:
    if rule_id == "GDPR-4-PERSONAL-DATA-CONSISTENT" and expected.status is NA:
        expected = Outcome(P, "no personal data, none declared by its 0 dataset(s)")
    assert outcome(rule_id, target(tags)) == expected


@pytest.mark.parametrize("rule_id", HIGH_RISK_ONLY)
@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        (MINIMAL, Outcome(NA, "risk class minimal: not high-risk")),
        (SEED, Outcome(U, "compliance.ai_act.risk_class not declared")),
        ({"compliance": "HIPAA"}, Outcome(F, "no valid record (see BASE-COMPLIANCE-TAGS)")),
    ],
)
def test_high_risk_rules_fail_closed_and_skip_only_what_the_record_rules_out(
    rule_id: str, tags: dict[str, str], expected: Outcome
) -> None:
    assert outcome(rule_id, version(tags, datasets=(TRAIN,))) == expected


def test_rules_document_article_doc_and_remediation() -> None:
    sentence_break = re.compile(r"(?<!e\.g\.)(?<=\.)\s+(?=[A-Z])")
    paragraph_exact = re.compile(r"Art\. \d+(?:\(\d+\)|,|;|$|-)")
    for pack, rules in BUILTIN_PACKS.items():
        for rule in rules:
            assert rule.article.startswith(("GDPR Art.", "AI Act Art.")), rule.id
            assert rule.applies_to and rule.title, rule.id
            assert 2 <= len(sentence_break.split(rule.doc)) <= 4, rule.id
            assert rule.remediation.endswith(".") and not sentence_break.search(
                rule.remediation
            ), rule.id
            named = re.findall(r"compliance\.[a-z_]+\.[a-z_]+", rule.remediation + rule.doc)
            assert set(named) <= set(FIELDS) | set(DATASET_FIELDS), (rule.id, named)
            assert paragraph_exact.search(rule.article), rule.id
            prefix = {"baseline": "BASE-", "gdpr": "GDPR-", "ai-act": "AIACT-"}[pack]
            assert rule.id.startswith(prefix)


@pytest.mark.parametrize(
    ("rule_id", "article"),
    [
        ("AIACT-14-OVERSIGHT", "AI Act Art. 14(1), 14(3)"),
        ("AIACT-26-OVERSEER", "AI Act Art. 26(2)"),
        ("BASE-ACCESS-LOGGING", "GDPR Art. 5(1)(f), 32(1)(b), 32(1)(d); AI Act Art. 17(1)(k)"),
        ("AIACT-12-EVENT-LOGS", "AI Act Art. 12(1), 19(1)"),
        ("BASE-EXPERIMENT-REGULATIONS", "GDPR Art. 2, 3; AI Act Art. 2"),
        ("AIACT-6-RISK-CLASS", "AI Act Art. 5, 6"),
        ("AIACT-50-TRANSPARENCY", "AI Act Art. 50(1)-(4)"),
        ("AIACT-15-ACCURACY", "AI Act Art. 15(1), 15(3), 13(3)(b)(ii)"),
        ("BASE-MINIMUM-RECORD", "GDPR Art. 5(2); AI Act Art. 11(1)"),
        ("GDPR-5-MINIMISATION", "GDPR Art. 5(1)(c)"),
        ("GDPR-4-PERSONAL-DATA-CONSISTENT", "GDPR Art. 4(1), 5(2)"),
        ("AIACT-10-2-A-DESIGN-CHOICES", "AI Act Art. 10(2)(a)"),
        ("AIACT-10-2-B-ORIGIN", "AI Act Art. 10(2)(b)"),
        ("AIACT-10-2-C-PREPARATION", "AI Act Art. 10(2)(c)"),
        ("AIACT-10-2-D-ASSUMPTIONS", "AI Act Art. 10(2)(d)"),
        ("AIACT-10-2-E-SUITABILITY", "AI Act Art. 10(2)(e)"),
        ("AIACT-10-2-F-BIAS-EXAMINATION", "AI Act Art. 10(2)(f)"),
        ("AIACT-10-2-G-BIAS-MEASURES", "AI Act Art. 10(2)(g)"),
        ("AIACT-10-2-H-GAPS", "AI Act Art. 10(2)(h)"),
        ("AIACT-10-3-REPRESENTATIVENESS", "AI Act Art. 10(3)"),
        ("AIACT-10-5-SPECIAL-CATEGORIES", "AI Act Art. 10(5); GDPR Art. 9(2)"),
    ],
)
def test_citations_are_the_issues_list(rule_id: str, article: str) -> None:
    assert RULES[rule_id].article == article
    assert "AIACT-19-LOG-RETENTION" not in RULES and "AIACT-10-DATA-GOVERNANCE" not in RULES


def test_transfers_speak_of_third_countries_not_leaving_the_eu() -> None:
    rule = RULES["GDPR-44-TRANSFERS"]
    assert "third country" in rule.doc and "outside the EEA" in rule.doc
    assert "leave the EU" not in rule.doc + rule.title


def seed_run_tags() -> dict[str, str]:
    """The run seed_example.py makes beside its compliance.toml: the project's tags, then
    the two set_tag calls, then MLflow's own."""
    defaults = record_to_tags(load_project(ROOT / "examples" / "seed" / "compliance.toml").record)
    return {
        **defaults,
        "compliance": "GDPR",
        "data_privacy": "enabled",
        "mlflow.runName": "bold-owl-42",
        "mlflow.user": "alice",
        "mlflow.source.name": "seed_example.py",
    }


def test_seed_example_run_passes_every_rule_on_a_compliant_server() -> None:
    run = target(seed_run_tags(), params={"data_description": "Iris dataset with no personal data"})
    findings = evaluate(load_rules(["baseline", "gdpr", "ai-act"]), [run])
    assert [(f.rule_id, f.message) for f in findings if f.status.failing] == []
    baseline = {f.rule_id: f.status for f in findings if f.rule_id.startswith("BASE-")}
    assert baseline == {
        "BASE-MINIMUM-RECORD": P,
        "BASE-COMPLIANCE-TAGS": P,
        "BASE-ENCRYPTION-AT-REST": P,
        "BASE-ACCESS-LOGGING": P,
        "BASE-DATA-DESCRIPTION": P,
    }


def test_a_run_that_declares_nothing_is_undeclared_not_passed() -> None:
    """Silence used to pass: 14 of 21 rules "not applicable" on a bare run."""
    findings = evaluate(load_rules(["baseline", "gdpr", "ai-act"]),
                        [target(), version({})])
    statuses = {(f.target_kind, f.rule_id): f.status for f in findings}
    assert statuses[(Kind.RUN, "BASE-MINIMUM-RECORD")] is U
    assert statuses[(Kind.RUN, "GDPR-6-LAWFUL-BASIS")] is U
    assert statuses[(Kind.MODEL_VERSION, "AIACT-13-INTENDED-PURPOSE")] is U
    assert statuses[(Kind.MODEL_VERSION, "AIACT-50-TRANSPARENCY")] is U
    assert not any(status is NA for status in statuses.values())
    assert not any(status is P for (kind, rule_id), status in statuses.items()
                   if not rule_id.startswith(("BASE-ENCRYPTION", "BASE-ACCESS")))


def test_evaluate_runs_each_applicable_rule_in_target_then_rule_order() -> None:
    experiment = target({"compliance": "GDPR"}, Kind.EXPERIMENT)
    data = dataset(MINIMAL, TRAIN)
    run, model = target(SEED), version(SEED)
    findings = evaluate(BUILTIN_PACKS["baseline"], [run, experiment, data, model])
    run_rules = ["BASE-MINIMUM-RECORD", "BASE-COMPLIANCE-TAGS", "BASE-ENCRYPTION-AT-REST",
                 "BASE-ACCESS-LOGGING", "BASE-DATA-DESCRIPTION"]
    assert [(f.target_kind, f.rule_id) for f in findings] == [
        *((Kind.RUN, r) for r in run_rules),
        (Kind.EXPERIMENT, "BASE-EXPERIMENT-REGULATIONS"),
        (Kind.DATASET, "BASE-DATASET-SOURCE"),
        (Kind.DATASET, "BASE-DATASET-RECORD"),
        *((Kind.MODEL_VERSION, r) for r in run_rules),
    ]
    first = findings[1].as_dict()
    rule = RULES["BASE-COMPLIANCE-TAGS"]
    assert first == {
        "rule_id": rule.id,
        "article": rule.article,
        "severity": "high",
        "target_kind": "run",
        "target_id": "run-1",
        "target_name": "run 1",
        "status": "pass",
        "message": "compliance=GDPR, data_privacy=enabled",
        "remediation": rule.remediation,
    }
    assert findings[0].as_dict()["status"] == "undeclared"


def _rule(rule_id: str, check: object) -> Rule:
    return Rule(
        id=rule_id,
        article="AI Act Art. 11",
        severity=Severity.LOW,
        applies_to=frozenset({Kind.RUN}),
        title="t",
        doc="d",
        remediation="r",
        check=check,  # type: ignore[arg-type]
    )


def test_a_rule_that_raises_stops_the_check_naming_rule_and_target() -> None:
    broken = _rule("TEAM-BROKEN", lambda t: t.tags["absent"])
    with pytest.raises(RuleFailed, match=r"rule TEAM-BROKEN failed on run run-1: KeyError") as e:
        evaluate([broken], [target()])
    assert isinstance(e.value.__cause__, KeyError)
    assert (e.value.rule_id, e.value.target_id) == ("TEAM-BROKEN", "run-1")


def test_a_rule_that_returns_no_outcome_stops_the_check() -> None:
    with pytest.raises(RuleFailed, match="returned str, not an Outcome"):
        evaluate([_rule("TEAM-LAZY", lambda t: "pass")], [target()])


def test_load_rules_joins_the_builtin_packs_in_order() -> None:
    rules = load_rules(["baseline", "gdpr", "ai-act"])
    assert [r.id for r in rules] == list(RULES)
    assert len(rules) == 40


def test_unknown_pack_is_named_with_the_allowed_ones() -> None:
    with pytest.raises(UnknownPack) as e:
        load_rules(["baseline", "hipaa"])
    assert isinstance(e.value, ValueError)
    assert str(e.value) == (
        "unknown rule pack 'hipaa'; allowed: baseline, gdpr, ai-act, "
        "or the path of a .toml rule file"
    )


def test_duplicate_rule_ids_are_an_error(tmp_path: Path) -> None:
    with pytest.raises(PackError, match="rule BASE-MINIMUM-RECORD is defined twice"):
        load_rules(["baseline", "baseline"])
    path = tmp_path / "team.toml"
    path.write_text(RULE_FILE.replace("TEAM-OWNER", "BASE-DATA-DESCRIPTION"))
    with pytest.raises(
        PackError, match=f"rule BASE-DATA-DESCRIPTION is defined twice: in baseline and in {path}"
    ):
        load_rules(["baseline", str(path)])


def acme_rules() -> list[Rule]:
    """An installed pack's entry point value: a function returning rules."""
    return [_rule("ACME-MODEL-CARD", lambda t: Outcome(Status.PASS, "model card linked"))]


ACME_LIST = acme_rules()


@pytest.mark.parametrize("value", ["tests.test_checks_rules:acme_rules",
                                   "tests.test_checks_rules:ACME_LIST"])
def test_installed_pack_is_found_through_its_entry_point(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    entry = EntryPoint(name="acme", value=value, group=ENTRY_POINT_GROUP)
    monkeypatch.setattr(packs, "installed_packs", lambda: {"acme": entry})
    rules = load_rules(["baseline", "acme"])
    assert rules[-1].id == "ACME-MODEL-CARD"
    with pytest.raises(UnknownPack, match="allowed: baseline, gdpr, ai-act, acme, or the path"):
        load_rules(["acme2"])


def test_installed_pack_that_gives_no_rules_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    entry = EntryPoint(name="acme", value="tests.test_checks_rules:SEED", group=ENTRY_POINT_GROUP)
    monkeypatch.setattr(packs, "installed_packs", lambda: {"acme": entry})
    with pytest.raises(PackError, match=r"rule pack acme \(.*\) gives dict, not a list of Rule"):
        load_rules(["acme"])


RULE_FILE = """\
[[rule]]
id = "TEAM-OWNER"
article = "GDPR Art. 5(2)"
severity = "medium"
applies_to = ["run", "model_version"]
title = "Owner and risk class set"
doc = "Accountability needs a person to ask. This rule looks for the team.owner tag."
remediation = "Set tag team.owner to the e-mail address of the run's owner."

[rule.require]
"team.owner" = "*"
"compliance.ai_act.risk_class" = ["minimal"]

[rule.require_params]
data_description = "*"

[[rule]]
id = "TEAM-DATASET-LICENSE"
article = "AI Act Art. 10(2)(b)"
severity = "low"
applies_to = ["dataset"]
title = "Dataset licence named"
doc = "Training data must be lawfully obtained. This rule looks for the licence tag."
remediation = "Set tag license on the dataset input."

[rule.require]
license = "*"
"""


def test_rule_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "team-rules.toml"
    path.write_text(RULE_FILE)
    owner, license_ = load_rules([str(path)])
    assert (owner.id, owner.severity, owner.applies_to) == (
        "TEAM-OWNER",
        Severity.MEDIUM,
        frozenset({Kind.RUN, Kind.MODEL_VERSION}),
    )
    assert owner.doc.startswith("Accountability") and owner.remediation.startswith("Set tag")
    assert license_.applies_to == frozenset({Kind.DATASET})

    good = target(
        {**SEED, "team.owner": "alice@acme.example", "compliance.ai_act.risk_class": "minimal"},
        params=DESCRIBED,
    )
    assert owner.check(good) == Outcome(
        P, "has team.owner, compliance.ai_act.risk_class, data_description"
    )
    bad = target({**SEED, "compliance.ai_act.risk_class": "high"})
    assert owner.check(bad) == Outcome(
        F,
        "missing tag team.owner; tag compliance.ai_act.risk_class is 'high'; allowed: "
        "minimal; missing param data_description",
    )
    findings = evaluate(load_rules([str(path)]), [good, version(SEED)])
    assert [(f.rule_id, f.target_kind, f.status) for f in findings] == [
        ("TEAM-OWNER", Kind.RUN, P),
        ("TEAM-OWNER", Kind.MODEL_VERSION, F),
    ]


def _second_rule(**fields: str) -> str:
    """RULE_FILE with lines of its second rule replaced ("" removes the line)."""
    text = RULE_FILE
    head, second = text.split('id = "TEAM-DATASET-LICENSE"')
    for key, line in fields.items():
        second = re.sub(rf"(?m)^{key} = .*$", line, second, count=1)
    return head + 'id = "TEAM-DATASET-LICENSE"' + second


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            _second_rule(severity='severity = "urgent"'),
            "rule[2].severity: 'urgent' is not allowed; allowed: low, medium, high, critical",
        ),
        (
            _second_rule(applies_to='applies_to = ["runs"]'),
            "rule[2].applies_to[1]: 'runs' is not allowed; allowed: a list of run, experiment, "
            "dataset, model_version",
        ),
        (
            _second_rule(applies_to='applies_to = "run"'),
            "rule[2].applies_to: 'run' is not allowed; allowed: a list of run",
        ),
        (_second_rule(title=""), "rule[2].title: missing"),
        (
            _second_rule(title='title = "t"\ncolour = "red"'),
            "rule[2].colour: unknown field; allowed: id, article, severity, applies_to",
        ),
        (
            _second_rule(license="license = 3"),
            'rule[2].require.license: 3 is not allowed; allowed: "*" (any non-empty value) '
            "or a list of allowed values",
        ),
        (
            _second_rule(license='license = []'),
            "rule[2].require.license: [] is not allowed",
        ),
        (
            RULE_FILE.replace('"compliance.ai_act.risk_class"', '"compliance.ai_act.risk"'),
            'rule[1].require."compliance.ai_act.risk": not a field of the compliance record',
        ),
        (
            RULE_FILE.replace('["minimal"]', '["minimal", "low"]'),
            "rule[1].require.\"compliance.ai_act.risk_class\": 'low' is not allowed; allowed: "
            "one of prohibited, high, minimal",
        ),
        (
            RULE_FILE.split("[rule.require]")[0],
            "rule[1]: a rule needs [rule.require] or [rule.require_params]",
        ),
        ("", "rule: missing"),
        ("[rule]\nid = 1\n", "rule: {'id': 1} is not allowed; allowed: one or more [[rule]]"),
        ("[[rule]\n", "not valid TOML"),
    ],
)
def test_rule_file_errors_are_one_line_naming_file_and_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("team-rules.toml").write_text(text)
    with pytest.raises(RuleFileError) as e:
        load_rules(["baseline", "team-rules.toml"])
    assert isinstance(e.value, ValueError)
    assert "\n" not in str(e.value)
    assert str(e.value).startswith("team-rules.toml: " + message), str(e.value)


def test_missing_rule_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(RuleFileError, match=r"absent\.toml: cannot read \(No such file"):
        load_rules([str(tmp_path / "absent.toml")])


def test_rules_reference_page_is_generated_from_the_packs() -> None:
    page = (ROOT / "docs" / "rules.md").read_text()
    assert page == rules_reference(), (
        "docs/rules.md is stale: regenerate it with the command at the top of the page"
    )
    for rule in RULES.values():
        assert f"### {rule.id}\n" in page
        assert rule.doc in page and rule.remediation in page
