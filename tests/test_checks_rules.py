"""The rules, the packs and custom rules, on targets built by hand (no server needed)."""

from __future__ import annotations

import re
from datetime import date
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
from mlflow_compliance.checks.reference import rules_reference
from mlflow_compliance.project import load_project
from mlflow_compliance.record import (
    FIELDS,
    ComplianceRecord,
    InvalidComplianceRecord,
    record_from_tags,
    record_to_tags,
)
from tests.conftest import ROOT

TODAY = date(2025, 6, 1)
SERVER = ServerFacts(
    url="http://127.0.0.1:5000",
    artifact_encryption=True,
    access_logging=True,
    audit_retention_days=183,
    need_to_know=True,
)
RULES = {rule.id: rule for pack in BUILTIN_PACKS.values() for rule in pack}
GDPR_IDS = [rule.id for rule in BUILTIN_PACKS["gdpr"]]
HIGH_RISK_ONLY = [
    "AIACT-13-INTENDED-PURPOSE",
    "AIACT-6-ANNEX-III-AREA",
    "AIACT-10-DATA-GOVERNANCE",
    "AIACT-14-OVERSIGHT",
    "AIACT-15-ACCURACY",
    "AIACT-19-LOG-RETENTION",
]

SEED = {"compliance": "GDPR", "data_privacy": "enabled"}
PERSONAL = {**SEED, "compliance.gdpr.personal_data": "true"}
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
HIGH_RISK = {
    "compliance": "GDPR,AI Act",
    "data_privacy": "enabled",
    "compliance.gdpr.personal_data": "false",
    "compliance.ai_act.risk_class": "high",
    "compliance.ai_act.annex_iii_area": "employment",
    "compliance.ai_act.intended_purpose": "Rank job applications for a recruiter",
    "compliance.ai_act.human_overseer": "Jane Doe, head of recruiting",
}
DESCRIBED = {"data_description": "Applications 2020-2024, pseudonymised"}
TRAIN = DatasetRef(name="train", digest="d1", source_type="s3", source="s3://data/train.csv")
NO_SOURCE = DatasetRef(name="scraped", digest="d2", source_type="code", source="")


def target(
    tags: dict[str, str] | None = None,
    kind: Kind = Kind.RUN,
    params: dict[str, str] | None = None,
    metrics: dict[str, float] | None = None,
    datasets: tuple[DatasetRef, ...] = (),
    server: ServerFacts = SERVER,
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
    )


def version(tags: dict[str, str], **kwargs: Any) -> Target:
    return target(tags, Kind.MODEL_VERSION, **kwargs)


def outcome(rule_id: str, t: Target) -> Outcome:
    result = RULES[rule_id].check(t)
    assert "\n" not in result.message and result.message
    return result


P, F, NA = Status.PASS, Status.FAIL, Status.NOT_APPLICABLE

CASES = [
    # baseline
    ("BASE-COMPLIANCE-TAGS", target(SEED), P, "compliance=GDPR, data_privacy=enabled"),
    ("BASE-COMPLIANCE-TAGS", version(SEED), P, "compliance=GDPR"),
    ("BASE-COMPLIANCE-TAGS", target({}), F, "missing tag compliance, data_privacy"),
    ("BASE-COMPLIANCE-TAGS", target({"compliance": "GDPR"}), F, "missing tag data_privacy"),
    (
        "BASE-COMPLIANCE-TAGS",
        target({**SEED, "compliance.gdpr.lawful_basis": "maybe"}),
        F,
        "invalid compliance.gdpr.lawful_basis: 'maybe' is not allowed",
    ),
    ("BASE-ENCRYPTION-AT-REST", target(SEED), P, "artifact encryption on"),
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
    ("BASE-ACCESS-LOGGING", target(SEED), P, "access logging on"),
    (
        "BASE-ACCESS-LOGGING",
        target(SEED, server=ServerFacts(access_logging=False)),
        F,
        "access logging is off",
    ),
    (
        "BASE-ACCESS-LOGGING",
        target(SEED, server=ServerFacts()),
        F,
        "the server does not report access logging",
    ),
    ("BASE-DATA-DESCRIPTION", target(SEED, params=DESCRIBED), P, "data_description set"),
    ("BASE-DATA-DESCRIPTION", version(SEED, params=DESCRIBED), P, "data_description set"),
    ("BASE-DATA-DESCRIPTION", target(SEED), F, "param data_description missing or empty"),
    (
        "BASE-DATA-DESCRIPTION",
        target(SEED, params={"data_description": "  "}),
        F,
        "missing or empty",
    ),
    ("BASE-DATASET-SOURCE", target(kind=Kind.DATASET, datasets=(TRAIN,)), P, "train: s3"),
    (
        "BASE-DATASET-SOURCE",
        target(kind=Kind.DATASET, datasets=(NO_SOURCE,)),
        F,
        "dataset scraped: no source",
    ),
    (
        "BASE-DATASET-SOURCE",
        target(kind=Kind.DATASET, datasets=(DatasetRef(name="x", digest="d"),)),
        F,
        "dataset x: no source_type and no source",
    ),
    ("BASE-DATASET-SOURCE", target(kind=Kind.DATASET), NA, "no dataset"),
    (
        "BASE-EXPERIMENT-REGULATIONS",
        target({"compliance": "GDPR,AI Act"}, Kind.EXPERIMENT),
        P,
        "regulations: GDPR,AI Act",
    ),
    ("BASE-EXPERIMENT-REGULATIONS", target({}, Kind.EXPERIMENT), F, "tag compliance missing"),
    (
        "BASE-EXPERIMENT-REGULATIONS",
        target({"compliance": "HIPAA"}, Kind.EXPERIMENT),
        F,
        "invalid compliance: 'HIPAA' is not allowed",
    ),
    # gdpr
    ("GDPR-6-LAWFUL-BASIS", target(GDPR_COMPLETE), P, "lawful basis: contract"),
    ("GDPR-6-LAWFUL-BASIS", target(PERSONAL), F, "without a lawful basis"),
    ("GDPR-9-SPECIAL-CATEGORIES", target(GDPR_COMPLETE), NA, "no special categories"),
    (
        "GDPR-9-SPECIAL-CATEGORIES",
        target(HEALTH),
        F,
        "special categories (health_data) without an Art. 9(2) ground",
    ),
    (
        "GDPR-9-SPECIAL-CATEGORIES",
        target({**HEALTH, "compliance.gdpr.special_category_ground": "explicit_consent"}),
        P,
        "health_data under explicit_consent",
    ),
    ("GDPR-5-PURPOSE", target(GDPR_COMPLETE), P, "purpose: Predict churn"),
    ("GDPR-5-PURPOSE", target(PERSONAL), F, "without a stated purpose"),
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
        "retention ended on 2025-01-31: erase or anonymise the data",
    ),
    ("GDPR-5-RETENTION", target(PERSONAL), F, "no retention limit"),
    ("GDPR-35-DPIA", target(GDPR_COMPLETE), NA, "no DPIA called for"),
    (
        "GDPR-35-DPIA",
        target(HEALTH),
        F,
        "DPIA called for (special categories): no compliance.gdpr.dpia_reference",
    ),
    (
        "GDPR-35-DPIA",
        target({**GDPR_COMPLETE, "compliance.ai_act.risk_class": "high"}),
        F,
        "DPIA called for (high-risk AI system)",
    ),
    (
        "GDPR-35-DPIA",
        target({**GDPR_COMPLETE, "compliance.gdpr.dpia_status": "planned"}),
        F,
        "DPIA called for (DPIA planned): no compliance.gdpr.dpia_reference",
    ),
    (
        "GDPR-35-DPIA",
        target(
            {
                **HEALTH,
                "compliance.gdpr.dpia_reference": "DPIA-42",
                "compliance.gdpr.dpia_status": "not_required",
            }
        ),
        F,
        "compliance.gdpr.dpia_status is not_required",
    ),
    (
        "GDPR-35-DPIA",
        target(
            {
                **HEALTH,
                "compliance.gdpr.dpia_reference": "DPIA-42",
                "compliance.gdpr.dpia_status": "in_progress",
            }
        ),
        P,
        "DPIA DPIA-42 (in_progress)",
    ),
    (
        "GDPR-35-DPIA",
        version(
            {
                **HEALTH,
                "compliance.gdpr.dpia_reference": "DPIA-42",
                "compliance.gdpr.dpia_status": "in_progress",
            }
        ),
        F,
        "compliance.gdpr.dpia_status is in_progress, a model version needs completed",
    ),
    (
        "GDPR-35-DPIA",
        version(
            {
                **HEALTH,
                "compliance.gdpr.dpia_reference": "DPIA-42",
                "compliance.gdpr.dpia_status": "completed",
            }
        ),
        P,
        "DPIA DPIA-42 (completed)",
    ),
    ("GDPR-30-CONTACTS", target(GDPR_COMPLETE), P, "DPO dpo@acme.example"),
    (
        "GDPR-30-CONTACTS",
        target({**PERSONAL, "compliance.gdpr.controller_contact": "Acme GmbH"}),
        F,
        "missing compliance.gdpr.dpo_contact",
    ),
    ("GDPR-44-TRANSFERS", target(GDPR_COMPLETE), P, "no transfers outside the EU"),
    ("GDPR-44-TRANSFERS", target(PERSONAL), F, "transfers outside the EU not stated"),
    (
        "GDPR-44-TRANSFERS",
        target({**PERSONAL, "compliance.gdpr.transfers_outside_eu": "true"}),
        F,
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
    ("AIACT-6-RISK-CLASS", version(SEED), F, "risk class not declared"),
    ("AIACT-6-RISK-CLASS", target({**SEED, "compliance": "AI Act"}), F, "not declared"),
    ("AIACT-6-RISK-CLASS", target(SEED), NA, "the AI Act is not among the run's regulations"),
    (
        "AIACT-6-RISK-CLASS",
        version({**SEED, "compliance.gdpr.personal_data": "maybe"}),
        NA,
        "no valid record",
    ),
    (
        "AIACT-5-PROHIBITED",
        version({**SEED, "compliance.ai_act.risk_class": "prohibited"}),
        F,
        "prohibited AI practice",
    ),
    ("AIACT-5-PROHIBITED", target(HIGH_RISK), P, "not declared prohibited"),
    ("AIACT-5-PROHIBITED", target(SEED), P, "not declared prohibited"),
    ("AIACT-5-PROHIBITED", target({"compliance": "HIPAA"}), NA, "no valid record"),
    ("AIACT-13-INTENDED-PURPOSE", target(HIGH_RISK), P, "Rank job applications"),
    (
        "AIACT-13-INTENDED-PURPOSE",
        target({**SEED, "compliance.ai_act.risk_class": "high"}),
        F,
        "no intended purpose",
    ),
    ("AIACT-6-ANNEX-III-AREA", target(HIGH_RISK), P, "Annex III area: employment"),
    (
        "AIACT-6-ANNEX-III-AREA",
        target({**SEED, "compliance.ai_act.risk_class": "high"}),
        F,
        "no Annex III area",
    ),
    (
        "AIACT-10-DATA-GOVERNANCE",
        version(HIGH_RISK, params=DESCRIBED, datasets=(TRAIN,)),
        P,
        "1 dataset(s) with sources",
    ),
    (
        "AIACT-10-DATA-GOVERNANCE",
        target({**SEED, "compliance.ai_act.risk_class": "high"}),
        F,
        "no dataset logged; no param data_description; "
        "compliance.gdpr.personal_data not declared",
    ),
    (
        "AIACT-10-DATA-GOVERNANCE",
        target(HIGH_RISK, params=DESCRIBED, datasets=(TRAIN, NO_SOURCE)),
        F,
        "dataset scraped has no source",
    ),
    ("AIACT-14-OVERSIGHT", target(HIGH_RISK), P, "overseen by Jane Doe"),
    (
        "AIACT-14-OVERSIGHT",
        target({**SEED, "compliance.ai_act.risk_class": "high"}),
        F,
        "no human overseer",
    ),
    ("AIACT-15-ACCURACY", target(HIGH_RISK, metrics={"val_accuracy": 0.9}), P, "val_accuracy"),
    ("AIACT-15-ACCURACY", target(HIGH_RISK, metrics={"loss": 0.1}), F, "no accuracy metric"),
    ("AIACT-15-ACCURACY", target(HIGH_RISK), F, "no accuracy metric logged"),
    ("AIACT-19-LOG-RETENTION", target(HIGH_RISK), P, "audit log kept 183 days"),
    (
        "AIACT-19-LOG-RETENTION",
        target(HIGH_RISK, server=ServerFacts(access_logging=True, audit_retention_days=30)),
        F,
        "audit log kept 30 days, fewer than 183",
    ),
    (
        "AIACT-19-LOG-RETENTION",
        target(HIGH_RISK, server=ServerFacts(access_logging=False, audit_retention_days=400)),
        F,
        "access logging is off",
    ),
    (
        "AIACT-19-LOG-RETENTION",
        target(HIGH_RISK, server=ServerFacts(access_logging=True)),
        F,
        "does not report how long it keeps the audit log",
    ),
    (
        "AIACT-19-LOG-RETENTION",
        target(HIGH_RISK, server=ServerFacts()),
        F,
        "does not report access logging",
    ),
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
    covered = {(rule_id, status) for rule_id, _, status, _ in CASES}
    for rule_id in RULES:
        assert {(rule_id, P), (rule_id, F)} <= covered, rule_id


@pytest.mark.parametrize("rule_id", GDPR_IDS)
@pytest.mark.parametrize(
    ("tags", "says"),
    [
        ({**SEED, "compliance.gdpr.personal_data": "false"}, "no personal data"),
        (SEED, "personal data not declared"),
        ({**PERSONAL, "compliance.gdpr.lawful_basis": "maybe"}, "no valid record"),
    ],
)
def test_gdpr_rules_apply_only_to_valid_records_with_personal_data(
    rule_id: str, tags: dict[str, str], says: str
) -> None:
    assert outcome(rule_id, target(tags)) == Outcome(NA, says)


@pytest.mark.parametrize("rule_id", HIGH_RISK_ONLY)
@pytest.mark.parametrize(
    ("tags", "says"),
    [
        ({**SEED, "compliance.ai_act.risk_class": "minimal"}, "not high-risk (risk class minimal)"),
        (SEED, "not high-risk (risk class not declared)"),
        ({"compliance": "HIPAA"}, "no valid record"),
    ],
)
def test_high_risk_rules_apply_only_to_high_risk_systems(
    rule_id: str, tags: dict[str, str], says: str
) -> None:
    assert outcome(rule_id, version(tags)) == Outcome(NA, says)


@pytest.mark.parametrize(
    "key",
    ["accuracy", "val_accuracy", "eval/f1_score", "test_roc_auc", "training_accuracy_score",
     "RMSE", "val.mae", "training_mean_squared_error", "r2_score", "valid_log_loss"],
)
def test_accuracy_metrics_are_recognised_with_prefixes(key: str) -> None:
    assert outcome("AIACT-15-ACCURACY", target(HIGH_RISK, metrics={key: 0.5})).status is P


@pytest.mark.parametrize("key", ["loss", "accuracy_drift", "train_time", "precision_at_k"])
def test_other_metrics_are_not_accuracy(key: str) -> None:
    assert outcome("AIACT-15-ACCURACY", target(HIGH_RISK, metrics={key: 0.5})).status is F


def test_rules_document_article_doc_and_remediation() -> None:
    sentence_break = re.compile(r"(?<!e\.g\.)(?<=\.)\s+(?=[A-Z])")
    for pack, rules in BUILTIN_PACKS.items():
        for rule in rules:
            assert rule.article.startswith(("GDPR Art.", "AI Act Art.")), rule.id
            assert rule.applies_to and rule.title, rule.id
            assert 2 <= len(sentence_break.split(rule.doc)) <= 4, rule.id
            assert rule.remediation.endswith(".") and not sentence_break.search(
                rule.remediation
            ), rule.id
            named = re.findall(r"compliance\.[a-z_]+\.[a-z_]+", rule.remediation + rule.doc)
            assert set(named) <= set(FIELDS), (rule.id, named)
            prefix = {"baseline": "BASE-", "gdpr": "GDPR-", "ai-act": "AIACT-"}[pack]
            assert rule.id.startswith(prefix)


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


def test_seed_example_run_passes_every_baseline_rule_on_a_compliant_server() -> None:
    run = target(seed_run_tags(), params={"data_description": "Iris dataset with no personal data"})
    findings = evaluate(load_rules(["baseline", "gdpr", "ai-act"]), [run])
    baseline = {f.rule_id: f.status for f in findings if f.rule_id.startswith("BASE-")}
    assert baseline == {
        "BASE-COMPLIANCE-TAGS": P,
        "BASE-ENCRYPTION-AT-REST": P,
        "BASE-ACCESS-LOGGING": P,
        "BASE-DATA-DESCRIPTION": P,
    }
    assert [f.rule_id for f in findings if f.status is F] == []


def test_bare_run_fails_compliance_tags_and_data_description() -> None:
    findings = evaluate(BUILTIN_PACKS["baseline"], [target()])
    failing = {f.rule_id: f.message for f in findings if f.status is F}
    assert failing == {
        "BASE-COMPLIANCE-TAGS": "missing tag compliance, data_privacy",
        "BASE-DATA-DESCRIPTION": "param data_description missing or empty",
    }


def test_evaluate_runs_each_applicable_rule_in_target_then_rule_order() -> None:
    experiment = target({"compliance": "GDPR"}, Kind.EXPERIMENT)
    dataset = target(kind=Kind.DATASET, datasets=(TRAIN,))
    run, model = target(SEED), version(SEED)
    findings = evaluate(BUILTIN_PACKS["baseline"], [run, experiment, dataset, model])
    assert [(f.target_kind, f.rule_id) for f in findings] == [
        (Kind.RUN, "BASE-COMPLIANCE-TAGS"),
        (Kind.RUN, "BASE-ENCRYPTION-AT-REST"),
        (Kind.RUN, "BASE-ACCESS-LOGGING"),
        (Kind.RUN, "BASE-DATA-DESCRIPTION"),
        (Kind.EXPERIMENT, "BASE-EXPERIMENT-REGULATIONS"),
        (Kind.DATASET, "BASE-DATASET-SOURCE"),
        (Kind.MODEL_VERSION, "BASE-COMPLIANCE-TAGS"),
        (Kind.MODEL_VERSION, "BASE-DATA-DESCRIPTION"),
    ]
    first = findings[0].as_dict()
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
    assert len(rules) == 22


def test_unknown_pack_is_named_with_the_allowed_ones() -> None:
    with pytest.raises(UnknownPack) as e:
        load_rules(["baseline", "hipaa"])
    assert isinstance(e.value, ValueError)
    assert str(e.value) == (
        "unknown rule pack 'hipaa'; allowed: baseline, gdpr, ai-act, "
        "or the path of a .toml rule file"
    )


def test_duplicate_rule_ids_are_an_error(tmp_path: Path) -> None:
    with pytest.raises(PackError, match="rule BASE-COMPLIANCE-TAGS is defined twice"):
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
"compliance.ai_act.risk_class" = ["minimal", "limited"]

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
        "minimal, limited; missing param data_description",
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
            RULE_FILE.replace('"minimal", "limited"', '"minimal", "low"'),
            "rule[1].require.\"compliance.ai_act.risk_class\": 'low' is not allowed; allowed: "
            "one of prohibited, high, limited, minimal",
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
