"""A high-risk model with all its evidence goes the whole way (issue 14): its run, its
dataset with its own record, the referenced documents as artifacts, declared thresholds
met overall and per group; `check` passes every built-in pack on the version, another
person signs it off, and the gate admits it to production. Then each piece of evidence
taken away again fails where it passed. Real server, real MLflow client."""

from __future__ import annotations

import json
import sqlite3
import uuid
from datetime import date, timedelta

import mlflow
import numpy as np
import pandas as pd
import pytest
import requests
from sklearn.linear_model import LogisticRegression

from mlflow_compliance import compliance_run, log_dataset_with_compliance, log_model_with_compliance
from mlflow_compliance.testing import Server
from tests.test_promotion_gate import approver, cli, set_alias, user

RECORD = {
    "regulations": ["GDPR", "AI Act"],
    "data_privacy": "enabled",
    "gdpr": {
        "personal_data": True,
        "data_categories": ["employment history", "education"],
        "data_subject_categories": ["job applicants"],
        "lawful_basis": "legitimate_interests",
        "purpose": "Rank job applications for a recruiter to review first",
        "retention_period": "P2Y",
        "dpia_reference": "artifact:evidence/dpia.md",
        "dpia_status": "completed",
        "dpia_completed_on": (date.today() - timedelta(days=7)).isoformat(),
        "controller_contact": "Acme Hiring GmbH, privacy@acme.example",
        "dpo_contact": "Data protection officer, dpo@acme.example",
        "transfers_outside_eu": False,
    },
    "ai_act": {
        "risk_class": "high",
        "annex_iii_area": "employment",
        "transparency_obligations": False,
        "intended_purpose": "Suggest an order in which a recruiter reads job applications",
        "human_overseer": "Maria Lopez",
        "oversight_measures": "A recruiter reads every application; the ranking is advice "
                              "that the recruiter can ignore or override",
        "risk_management_reference": "artifact:evidence/risk-management.md",
        "instructions_for_use": "https://docs.acme.example/ranker/instructions",
        "metric_thresholds": ["test_accuracy>=0.8"],
        "evaluation_groups": ["women", "men"],
        "event_log_retention": "P1Y",
    },
}

DATASET = {
    "personal_data": True,
    "data_categories": ["employment history", "education"],
    "design_choices": "Applications of the last three years, one row per application",
    "origin": "Collected by the applicant tracking system when people applied for jobs",
    "preparation": "Duplicates removed, free text dropped, labels from hiring decisions",
    "assumptions": "A past hiring decision stands for a suitable application to read first",
    "suitability": "About 40 thousand applications, enough for every job family",
    "bias_examination": "artifact:evidence/bias-examination.md",
    "bias_measures": "Reweighting by gender, and per-group accuracy monitored at release",
    "gaps": "Few applications for part-time roles; flagged in the instructions for use",
    "representativeness": "Applicants of every region and job family in the last years",
    "minimisation": "Names, addresses and photos removed before training the model",
    "subject_id_columns": ["applicant_id"],
}


def release(name: str, metrics: dict[str, float], record: dict[str, object] = RECORD) -> str:
    """Train and register a high-risk version with all its evidence; returns it."""
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(rng.random((60, 3)), columns=["years", "degree", "skills"])
    frame["applicant_id"] = range(60)
    labels = (frame["years"] > 0.5).astype(int)
    fitted = LogisticRegression().fit(frame[["years", "degree", "skills"]], labels)
    with compliance_run(record, data_description="Job applications of three years, "
                        "pseudonymised, with the hiring decision as label"):
        dataset = mlflow.data.from_pandas(frame, source="s3://acme-hiring/applications.csv",
                                          name="applications")
        log_dataset_with_compliance(dataset, DATASET)
        for path in ("dpia.md", "risk-management.md", "bias-examination.md"):
            mlflow.log_text(f"# {path}\nThe assessment, signed and dated.", f"evidence/{path}")
        mlflow.log_metrics(metrics)
        info = log_model_with_compliance(
            fitted, "Job applications of three years, pseudonymised, with the hiring "
            "decision as label", registered_model_name=name)
    return str(info.registered_model_version)


GOOD = {"test_accuracy": 0.9, "test_accuracy/women": 0.88, "test_accuracy/men": 0.91}


@pytest.fixture
def tracking(server: Server) -> Server:
    mlflow.set_tracking_uri(server.url)
    return server


def failing(server: Server, name: str, version: str) -> tuple[int, dict[str, str]]:
    done = cli(server, "check", "--model", f"{name}/{version}", "--format", "json")
    report = json.loads(done.stdout)
    return done.returncode, {f["rule_id"]: f["message"] for f in report["findings"]
                             if f["status"] in ("fail", "undeclared")}


def sign_off(server: Server, name: str, version: str,
             auth: tuple[str, str]) -> requests.Response:
    return requests.post(f"{server.url}/api/2.0/compliance/model-versions/approve",
                         json={"name": name, "version": version,
                               "note": "Reviewed the DPIA, the bias examination and the "
                                       "per-group accuracy"},
                         auth=auth, timeout=120)


def test_a_high_risk_version_with_all_its_evidence_is_released(tracking: Server) -> None:
    name = f"ranker-{uuid.uuid4().hex[:6]}"
    version = release(name, GOOD)
    code, found = failing(tracking, name, version)
    assert (code, found) == (0, {})
    # Personal data: an approver without the personal-data clearance does not see it.
    assert sign_off(tracking, name, version, approver(tracking, name)).status_code == 404
    cleared = user(tracking, "approver", "personal-data")
    assert cli(tracking, "grant", cleared[0], "--model", name, "--permission",
               "read").returncode == 0
    signed = sign_off(tracking, name, version, cleared)
    assert signed.status_code == 200, signed.text
    admitted = set_alias(tracking, name, "production", version)
    assert admitted.status_code == 200, admitted.text


@pytest.mark.parametrize(("metrics", "rule"), [
    ({"test_accuracy": 0.7, "test_accuracy/women": 0.7, "test_accuracy/men": 0.7},
     "AIACT-15-ACCURACY"),  # below the declared threshold
    ({"test_accuracy": float("nan"), "test_accuracy/women": 0.9, "test_accuracy/men": 0.9},
     "AIACT-15-ACCURACY"),  # NaN is no measurement
    ({"test_accuracy": 0.9, "test_accuracy/men": 0.9}, "AIACT-15-ACCURACY"),  # a group missing
])
def test_missing_or_failing_accuracy_evidence_keeps_it_out(
    tracking: Server, metrics: dict[str, float], rule: str
) -> None:
    name = f"ranker-{uuid.uuid4().hex[:6]}"
    version = release(name, metrics)
    code, found = failing(tracking, name, version)
    assert code == 1 and rule in found, found
    refused = set_alias(tracking, name, "any-alias-of-a-high-risk-model", version)
    assert refused.status_code == 403 and rule in refused.json()["message"]


def test_a_reference_that_does_not_resolve_fails(tracking: Server) -> None:
    name = f"ranker-{uuid.uuid4().hex[:6]}"
    record = {**RECORD, "gdpr": {**RECORD["gdpr"],  # type: ignore[dict-item]
                                 "dpia_reference": "artifact:evidence/missing-dpia.md"}}
    version = release(name, GOOD, record)
    code, found = failing(tracking, name, version)
    assert code == 1 and "GDPR-35-DPIA" in found
    assert "missing-dpia.md" in found["GDPR-35-DPIA"]


@pytest.mark.parametrize(("key", "value"), [
    ("compliance.gdpr.purpose", "TBD"),
    ("compliance.ai_act.human_overseer", "x"),
    ("compliance.gdpr.retention_period", "P999Y"),
    ("data_privacy", "disabled"),  # beside personal data: a contradiction
])
def test_placeholders_stored_behind_the_servers_back_are_refused_at_the_gate(
    tracking: Server, key: str, value: str
) -> None:
    """The server refuses these values on write; one written straight into the database
    (an old server, a migration, a tamperer) still admits nothing."""
    name = f"ranker-{uuid.uuid4().hex[:6]}"
    version = release(name, GOOD)
    run_id = mlflow.MlflowClient().get_model_version(name, version).run_id
    with sqlite3.connect(tracking.home / "mlflow.db") as db:  # the run's and the version's
        changed = db.execute("UPDATE tags SET value = ? WHERE run_uuid = ? AND key = ?",
                             (value, run_id, key)).rowcount
        changed += db.execute("UPDATE model_version_tags SET value = ? WHERE name = ? AND "
                              "version = ? AND key = ?", (value, name, int(version), key)).rowcount
    assert changed == 2
    code, found = failing(tracking, name, version)
    assert code == 1 and found, found
    refused = set_alias(tracking, name, "production", version)
    assert refused.status_code == 403
    assert any(rule in refused.json()["message"] for rule in found)
