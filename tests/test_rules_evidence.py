"""Issue 14's findings, each shown to fail where it used to pass: silence, placeholders,
contradictions, evidence that is only a tag. Targets are built with the real record
parser and the real target builders; nothing is mocked."""

from __future__ import annotations

import math
import sys
from typing import Any

import pytest

from mlflow_compliance.checks.model import Kind, ServerFacts, Status, Target
from mlflow_compliance.checks.packs import evaluate, load_rules
from mlflow_compliance.checks.policy import Policy
from mlflow_compliance.checks.references import (
    listing_lookup,
    referenced_paths,
    with_evidence,
)
from mlflow_compliance.checks.report import summary
from mlflow_compliance.checks.targets import dataset_ref, run_target_from_json
from mlflow_compliance.settings import MAX_RETENTION_ENV, REQUIRED_RECORD_ENV, SettingProblem
from tests.test_checks_rules import (
    DPIA_DONE,
    GDPR_COMPLETE,
    HEALTH,
    HIGH_RISK,
    HIGH_RISK_METRICS,
    MINIMAL,
    PERSONAL,
    SEED,
    SERVER,
    STARTED,
    TRAIN,
    ms,
    outcome,
    target,
    version,
)

P, F, U, NA = Status.PASS, Status.FAIL, Status.UNDECLARED, Status.NOT_APPLICABLE
ALL = ["baseline", "gdpr", "ai-act"]
PERSONAL_DATASET = dataset_ref("crm", "d9", "s3", "s3://crm/export.csv", {
    "compliance.gdpr.personal_data": "true",
    "compliance.dataset.minimisation": "Only tenure and plan; names and addresses dropped",
})
THRESHOLD = {**MINIMAL, "compliance.ai_act.metric_thresholds": "train_accuracy>=0.8"}

CASES = [
    # NEED-TO-KNOW passes only when the server's rule can recognise the personal data
    ("GDPR-32-NEED-TO-KNOW", target(MINIMAL, datasets=(PERSONAL_DATASET,)), F,
     "dataset crm declares personal data but compliance.gdpr.personal_data is false"),
    # a dataset's record cannot be talked away by the run's
    ("GDPR-4-PERSONAL-DATA-CONSISTENT", target(MINIMAL, datasets=(PERSONAL_DATASET,)), F,
     "compliance.gdpr.personal_data is false, but dataset crm declares personal data"),
    # ENCRYPTION: the current setting is not enough
    ("BASE-ENCRYPTION-AT-REST", target(SEED, started=ms("2024-12-31")), F,
     "may hold artifacts written before encryption was on (since 2025-01-01)"),
    ("BASE-ENCRYPTION-AT-REST",
     target(SEED, server=ServerFacts(artifact_encryption=True, encrypted_since=None)), F,
     "the server does not say since when"),
    ("BASE-ENCRYPTION-AT-REST", version(SEED, started=0), F,
     "the start of the training run is unknown"),
    # a declared threshold holds whatever the risk class, against the logged value
    ("AIACT-15-ACCURACY", target(THRESHOLD, metrics={"train_accuracy": math.nan}), F,
     "train_accuracy is nan (not finite)"),
    ("AIACT-15-ACCURACY", target(THRESHOLD, metrics={"train_accuracy": sys.float_info.max}), F,
     "(not finite)"),
    ("AIACT-15-ACCURACY", target(THRESHOLD), F,
     "train_accuracy not logged (declared train_accuracy>=0.8)"),
    ("AIACT-15-ACCURACY", target(THRESHOLD, metrics={"train_accuracy": 0.85}), P,
     "met: train_accuracy>=0.8 (0.85)"),
    ("AIACT-15-ACCURACY",
     version(HIGH_RISK, metrics={**HIGH_RISK_METRICS, "test_accuracy/men": math.nan}), F,
     "test_accuracy/men is nan (not finite)"),
    ("AIACT-15-ACCURACY", version(HIGH_RISK, metrics={"test_accuracy": 0.95}), F,
     "test_accuracy/women not logged; test_accuracy/men not logged"),
    ("AIACT-15-ACCURACY",
     version({k: v for k, v in HIGH_RISK.items() if k != "compliance.ai_act.evaluation_groups"},
             metrics=HIGH_RISK_METRICS), U,
     "high-risk model version without compliance.ai_act.evaluation_groups"),
    # references must resolve
    ("GDPR-35-DPIA", version({**HEALTH, **DPIA_DONE}, evidence={"docs/dpia.pdf": False}), F,
     "compliance.gdpr.dpia_reference: artifact docs/dpia.pdf is not among the run's artifacts"),
    ("GDPR-35-DPIA", version({**HEALTH, **DPIA_DONE,
                              "compliance.gdpr.dpia_reference": "https://dpo.acme.example/7"}),
     P, "DPIA https://dpo.acme.example/7 completed"),
    ("GDPR-35-DPIA", target({**HEALTH, **DPIA_DONE}, started=0), F,
     "the training run's start is unknown"),
    ("GDPR-35-DPIA", target({**HEALTH, "compliance.gdpr.dpia_status": "completed",
                             "compliance.gdpr.dpia_reference": "artifact:docs/dpia.pdf"}), U,
     "no compliance.gdpr.dpia_completed_on"),
    ("GDPR-35-DPIA", target({**PERSONAL, "compliance.ai_act.risk_class": "high",
                             **DPIA_DONE}), P, "completed on 2025-04-30"),
    # retention: periods and dates within the policy
    ("GDPR-5-RETENTION", target({**GDPR_COMPLETE, "compliance.gdpr.retention_period": "P11Y"}),
     F, "longer than the policy's maximum of 3653 days"),
    ("GDPR-5-RETENTION", target({**GDPR_COMPLETE, "compliance.gdpr.retention_period": "P10Y"}),
     P, "kept for P10Y"),
    ("GDPR-5-RETENTION", target({**PERSONAL, "compliance.gdpr.retention_until": "2099-01-01"}),
     F, "compliance.gdpr.retention_until 2099-01-01 is more than the policy's maximum"),
    # special categories in a dataset
    ("GDPR-9-SPECIAL-CATEGORIES", target(GDPR_COMPLETE, datasets=(dataset_ref(
        "scans", "d5", tags={"compliance.gdpr.personal_data": "true",
                             "compliance.gdpr.special_categories": "health_data"}),)), U,
     "special categories (health_data) without an Art. 9(2) ground"),
    ("GDPR-9-SPECIAL-CATEGORIES", target(GDPR_COMPLETE, datasets=(dataset_ref(
        "bad", "d6", tags={"compliance.dataset.origin": "x"}),)), F,
     "dataset bad: no valid dataset record"),
    ("AIACT-10-5-SPECIAL-CATEGORIES", version(HIGH_RISK, datasets=(dataset_ref(
        "scans", "d5", tags={"compliance.gdpr.personal_data": "true",
                             "compliance.gdpr.special_categories": "health_data"}),)), U,
     "dataset scans: special categories without "
     "compliance.dataset.special_category_justification and the run's "
     "compliance.gdpr.special_category_ground"),
    ("AIACT-10-5-SPECIAL-CATEGORIES", version(
        {**HIGH_RISK, "compliance.gdpr.personal_data": "true",
         "compliance.gdpr.special_categories": "health_data",
         "compliance.gdpr.special_category_ground": "explicit_consent"},
        datasets=(dataset_ref("scans", "d5", tags={
            "compliance.gdpr.personal_data": "true",
            "compliance.gdpr.special_categories": "health_data",
            "compliance.dataset.special_category_justification":
                "Needed to detect bias against patients with disabilities",
        }),)), P, "special categories justified stated for scans"),
    ("AIACT-10-2-B-ORIGIN", version(HIGH_RISK, datasets=(dataset_ref(
        "bad", "d6", tags={"compliance.dataset.origin": "TBD"}),)), F,
     "dataset bad: no valid dataset record"),
]


@pytest.mark.parametrize(
    ("rule_id", "t", "status", "says"),
    CASES,
    ids=[f"{rule_id}-{status.value}-{i}" for i, (rule_id, _, status, _) in enumerate(CASES)],
)
def test_evidence_outcome(rule_id: str, t: Target, status: Status, says: str) -> None:
    result = outcome(rule_id, t)
    assert result.status is status and says in result.message, result


def _failing(t: Target) -> dict[str, str]:
    return {f.rule_id: f.message for f in evaluate(load_rules(ALL), [t]) if f.status.failing}


def test_silence_fails_and_check_would_exit_1() -> None:
    """A run that declares nothing: undeclared findings, so the summary does not pass."""
    findings = evaluate(load_rules(ALL), [target({}, params={})])
    counts = summary(findings)
    assert counts["undeclared"] >= 3 and counts["passed"] is False
    assert {"BASE-MINIMUM-RECORD", "GDPR-4-PERSONAL-DATA-CONSISTENT",
            "AIACT-6-RISK-CLASS"} <= {f.rule_id for f in findings if f.status is U}


@pytest.mark.parametrize(
    ("tags", "problem"),
    [
        ({**PERSONAL, "compliance.gdpr.purpose": "x"}, "compliance.gdpr.purpose: 'x'"),
        ({**PERSONAL, "compliance.gdpr.purpose": "TBD"}, "compliance.gdpr.purpose: 'TBD'"),
        ({**PERSONAL, "compliance.gdpr.controller_contact": "TBD"},
         "compliance.gdpr.controller_contact: 'TBD'"),
        ({**PERSONAL, "compliance.gdpr.dpia_reference": "DPIA-42"},
         "compliance.gdpr.dpia_reference: 'DPIA-42'"),
        ({**PERSONAL, "data_privacy": "disabled"}, "data_privacy: disabled while"),
    ],
)
def test_placeholders_and_contradictions_give_no_valid_record_and_fail(
    tags: dict[str, str], problem: str
) -> None:
    failing = _failing(target(tags, params={"data_description": "Customer churn data, 2024"}))
    assert problem in failing["BASE-COMPLIANCE-TAGS"]
    assert failing["GDPR-6-LAWFUL-BASIS"] == "no valid record (see BASE-COMPLIANCE-TAGS)"
    assert failing["AIACT-5-PROHIBITED"] == "no valid record (see BASE-COMPLIANCE-TAGS)"


def test_p999y_retention_fails_with_the_default_policy() -> None:
    t = target({**GDPR_COMPLETE, "compliance.gdpr.retention_period": "P999Y"})
    assert "P999Y" in _failing(t)["GDPR-5-RETENTION"]
    looser = target({**GDPR_COMPLETE, "compliance.gdpr.retention_period": "P999Y"},
                    policy=Policy(max_retention_days=400_000))
    assert outcome("GDPR-5-RETENTION", looser).status is P


@pytest.mark.parametrize("status", ["planned", "in_progress"])
@pytest.mark.parametrize("kind", [Kind.RUN, Kind.MODEL_VERSION])
def test_dpia_planned_for_a_trained_model_fails(status: str, kind: Kind) -> None:
    tags = {**HEALTH, "compliance.gdpr.dpia_reference": "artifact:docs/dpia.pdf",
            "compliance.gdpr.dpia_status": status}
    result = outcome("GDPR-35-DPIA", target(tags, kind))
    assert result.status is F and "already trained" in result.message


def test_nan_train_accuracy_with_a_threshold_fails_the_whole_check() -> None:
    t = target(THRESHOLD, metrics={"train_accuracy": math.nan},
               params={"data_description": "Iris flower measurements, no personal data"})
    assert _failing(t) == {"AIACT-15-ACCURACY": "train_accuracy is nan (not finite)"}


@pytest.mark.parametrize("key", ["val_accuracy", "eval/f1_score", "test_roc_auc", "RMSE"])
def test_accuracy_is_not_a_regex_on_metric_names(key: str) -> None:
    """An accuracy-sounding metric proves nothing: a high-risk system declares levels."""
    result = outcome("AIACT-15-ACCURACY", target({**SEED, "compliance.ai_act.risk_class": "high"},
                                                 metrics={key: 0.99}))
    assert result.status is U


def test_a_threshold_on_any_metric_name_is_compared() -> None:
    tags = {**MINIMAL, "compliance.ai_act.metric_thresholds": "loss<=0.2,auc>0.7"}
    assert outcome("AIACT-15-ACCURACY", target(tags, metrics={"loss": 0.1, "auc": 0.8})).status \
        is P
    failing = outcome("AIACT-15-ACCURACY", target(tags, metrics={"loss": 0.3, "auc": 0.8}))
    assert failing.message == "loss = 0.3 misses loss<=0.2"


@pytest.mark.parametrize("facts", [ServerFacts(), ServerFacts(need_to_know=False)])
def test_need_to_know_fails_without_the_servers_evidence(facts: ServerFacts) -> None:
    assert outcome("GDPR-32-NEED-TO-KNOW", target(PERSONAL, server=facts)).status is F


def test_high_risk_complete_record_passes_every_rule() -> None:
    tags = {**HIGH_RISK, **GDPR_COMPLETE, **DPIA_DONE, "compliance": "GDPR,AI Act",
            "compliance.ai_act.risk_class": "high"}
    datasets = (TRAIN,)
    params = {"data_description": "Applications 2020-2024, pseudonymised"}
    run = target(tags, datasets=datasets, params=params, metrics=HIGH_RISK_METRICS)
    model = version(tags, datasets=datasets, params=params, metrics=HIGH_RISK_METRICS)
    from mlflow_compliance.checks.targets import dataset_targets

    findings = evaluate(load_rules(ALL), [run, *dataset_targets(run), model])
    assert [(f.target_kind.value, f.rule_id, f.message) for f in findings
            if f.status.failing] == []
    assert summary(findings)["passed"] is True


# --- policy ---------------------------------------------------------------------------


def test_policy_defaults_and_round_trip() -> None:
    policy = Policy()
    assert policy.required == ("compliance.gdpr.personal_data", "compliance.ai_act.risk_class")
    assert (policy.max_retention_days, policy.min_event_log_days) == (3653, 183)
    assert Policy.from_dict(policy.as_dict()) == policy
    assert Policy.from_dict(None) == policy and Policy.from_dict({"required": "x"}) == policy
    assert Policy.from_dict({"required": [], "max_retention_days": 30}) == Policy(
        required=(), max_retention_days=30)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, Policy()),
        ({REQUIRED_RECORD_ENV: "none"}, Policy(required=())),
        ({REQUIRED_RECORD_ENV: ""}, Policy(required=())),
        ({REQUIRED_RECORD_ENV: "compliance.gdpr.purpose, data_privacy"},
         Policy(required=("compliance.gdpr.purpose", "data_privacy"))),
        ({MAX_RETENTION_ENV: "P18M"}, Policy(max_retention_days=548)),
        ({MAX_RETENTION_ENV: "P10Y"}, Policy(max_retention_days=3653)),
    ],
)
def test_policy_from_env(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: Policy
) -> None:
    for name in (REQUIRED_RECORD_ENV, MAX_RETENTION_ENV):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert Policy.from_env() == expected


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        (REQUIRED_RECORD_ENV, "compliance.gdpr.purpse", "compliance.gdpr.purpse is not a field"),
        (MAX_RETENTION_ENV, "ten years", "'ten years' is not allowed; allowed: an ISO 8601"),
        (MAX_RETENTION_ENV, "P0D", "is zero"),
    ],
)
def test_bad_policy_settings_are_named(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, says: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingProblem, match=name) as e:
        Policy.from_env()
    assert says in str(e.value) and "\n" not in str(e.value)


# --- references and targets -------------------------------------------------------------


def test_referenced_paths_come_from_the_record_and_the_datasets() -> None:
    t = target({**HEALTH, **DPIA_DONE, "compliance.ai_act.risk_management_reference":
                "https://docs.acme.example/r"}, datasets=(TRAIN,), evidence={})
    assert referenced_paths(t) == {"docs/dpia.pdf", "docs/bias.html"}
    assert referenced_paths(target(MINIMAL)) == set()


def test_with_evidence_lists_each_folder_once_and_keeps_what_it_cannot_resolve_out() -> None:
    listed: list[str] = []

    def list_dir(parent: str) -> list[str]:
        listed.append(parent)
        if parent == "docs":
            return ["docs/dpia.pdf", "docs/model_card.md"]
        raise OSError("connection reset")

    t = target({**HEALTH, **DPIA_DONE}, datasets=(dataset_ref("d", "1", tags={
        "compliance.dataset.bias_examination": "artifact:docs/missing.html"}), dataset_ref(
        "e", "2", tags={"compliance.dataset.bias_examination": "artifact:bias/e.html"})),
        evidence={})
    found = with_evidence(t, listing_lookup(list_dir))
    assert found.evidence_files == {"docs/dpia.pdf": True, "docs/missing.html": False}
    assert sorted(listed) == ["bias", "docs"]
    assert with_evidence(found, listing_lookup(list_dir)) is found or listed.count("docs") == 1


def test_run_from_json_reads_start_creator_and_dataset_records() -> None:
    run: dict[str, Any] = {
        "info": {"run_id": "r1", "run_name": "train", "experiment_id": "1",
                 "start_time": str(STARTED), "user_id": "alice"},
        "data": {"tags": [{"key": k, "value": v} for k, v in MINIMAL.items()]},
        "inputs": {"dataset_inputs": [{
            "dataset": {"name": "crm", "digest": "d9", "source_type": "s3", "source": "s3://x"},
            "tags": [{"key": "mlflow.data.context", "value": "training"},
                     {"key": "compliance.gdpr.personal_data", "value": "true"}],
        }, {
            "dataset": {"name": "bad", "digest": "d8"},
            "tags": [{"key": "compliance.dataset.origin", "value": "TBD"}],
        }]},
    }
    t = run_target_from_json(run, SERVER)
    assert (t.started, t.creator, t.policy) == (STARTED, "alice", SERVER.policy)
    good, bad = t.datasets
    assert good.record is not None and good.record.personal_data is True
    assert bad.record is None and bad.record_problems[0].startswith("compliance.dataset.origin")
    assert outcome("GDPR-4-PERSONAL-DATA-CONSISTENT", t).status is F
