"""The client API and project defaults, against a real compliance server."""

from __future__ import annotations

import uuid
from pathlib import Path

import mlflow
import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from mlflow_compliance import (
    ComplianceRecord,
    InvalidComplianceRecord,
    compliance_run,
    log_dataset_with_compliance,
    log_model_with_compliance,
)
from mlflow_compliance.project import ProjectConfigError, ProjectConfigStopsRun
from mlflow_compliance.record import DatasetRecord, parse_dataset_record

TOML = """
[record]
regulations = ["GDPR"]
data_privacy = "enabled"

[record.gdpr]
personal_data = true
lawful_basis = "contract"
transfers_outside_eu = false
"""


@pytest.fixture(scope="module")
def iris_model() -> tuple[LogisticRegression, np.ndarray]:
    features, labels = load_iris(return_X_y=True)
    return LogisticRegression(max_iter=200).fit(features, labels), features


@pytest.fixture
def experiment(tracking: mlflow.MlflowClient) -> str:
    return mlflow.set_experiment(f"client-{uuid.uuid4().hex[:8]}").experiment_id


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder with a compliance.toml, entered from a subfolder."""
    (tmp_path / "compliance.toml").write_text(TOML)
    sub = tmp_path / "src" / "training"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    monkeypatch.delenv("MLFLOW_COMPLIANCE_CONFIG", raising=False)
    return tmp_path


def runs_in(client: mlflow.MlflowClient, experiment: str) -> list[mlflow.entities.Run]:
    return client.search_runs([experiment])


def test_log_model_with_compliance_logs_a_model_that_loads_and_predicts(
    tracking: mlflow.MlflowClient, experiment: str, iris_model, monkeypatch, tmp_path
) -> None:
    monkeypatch.chdir(tmp_path)  # no compliance.toml here
    model, features = iris_model
    record = {"regulations": ["GDPR"], "gdpr": {"personal_data": False}}
    info = log_model_with_compliance(model, "Iris measurements, no personal data", record)
    assert info.flavors.keys() >= {"sklearn", "python_function"}
    (run,) = runs_in(tracking, experiment)
    assert run.info.status == "FINISHED"
    assert run.data.params["data_description"] == "Iris measurements, no personal data"
    assert run.data.tags["compliance"] == "GDPR"
    assert run.data.tags["compliance.gdpr.personal_data"] == "false"
    loaded = mlflow.sklearn.load_model(info.model_uri)
    assert (loaded.predict(features) == model.predict(features)).all()
    logged = tracking.get_logged_model(info.model_id)
    assert logged.tags["compliance.gdpr.personal_data"] == "false"


def test_registered_model_version_carries_the_record(
    tracking: mlflow.MlflowClient, experiment: str, iris_model, project: Path
) -> None:
    model, _ = iris_model
    name = f"iris-{uuid.uuid4().hex[:6]}"
    info = log_model_with_compliance(
        model, "Customer contract data",
        {"ai_act": {"risk_class": "minimal", "transparency_obligations": True}},
        registered_model_name=name,
    )
    version = tracking.get_model_version(name, str(info.registered_model_version))
    assert version.tags["compliance.ai_act.risk_class"] == "minimal"
    assert version.tags["compliance.ai_act.transparency_obligations"] == "true"
    assert version.tags["compliance.gdpr.lawful_basis"] == "contract"  # from compliance.toml
    assert version.tags["compliance"] == "GDPR"


def test_invalid_record_is_refused_before_anything_is_stored(
    tracking: mlflow.MlflowClient, experiment: str, iris_model, monkeypatch, tmp_path
) -> None:
    monkeypatch.chdir(tmp_path)
    model, _ = iris_model
    with pytest.raises(InvalidComplianceRecord) as caught:
        log_model_with_compliance(
            model, "Iris", {"gdpr": {"lawful_basis": "vibes", "dpia_status": "soon"}}
        )
    fields = [p.field for p in caught.value.problems]
    assert fields == ["compliance.gdpr.lawful_basis", "compliance.gdpr.dpia_status"]
    assert runs_in(tracking, experiment) == []


def test_empty_data_description_is_refused(
    tracking: mlflow.MlflowClient, experiment: str, iris_model
) -> None:
    with pytest.raises(InvalidComplianceRecord, match="data_description: empty"):
        log_model_with_compliance(iris_model[0], "  ")
    assert runs_in(tracking, experiment) == []


def test_unknown_model_type_names_the_flavor_option(tracking: mlflow.MlflowClient) -> None:
    with pytest.raises(ValueError, match="pass flavor="):
        log_model_with_compliance(object(), "Iris")


def test_plain_start_run_gets_the_project_defaults(
    tracking: mlflow.MlflowClient, experiment: str, project: Path
) -> None:
    with mlflow.start_run() as run:
        pass
    tags = tracking.get_run(run.info.run_id).data.tags
    assert tags["compliance"] == "GDPR"
    assert tags["data_privacy"] == "enabled"
    assert tags["compliance.gdpr.lawful_basis"] == "contract"


def test_tags_the_caller_sets_win_over_project_defaults(
    tracking: mlflow.MlflowClient, experiment: str, project: Path, iris_model
) -> None:
    with mlflow.start_run(tags={"compliance.gdpr.lawful_basis": "consent"}) as run:
        log_model_with_compliance(iris_model[0], "Customer data")
    tags = tracking.get_run(run.info.run_id).data.tags
    assert tags["compliance.gdpr.lawful_basis"] == "consent"
    (logged,) = tracking.search_logged_models([experiment])
    assert logged.tags["compliance.gdpr.lawful_basis"] == "consent"


def test_config_named_by_environment_variable(
    tracking: mlflow.MlflowClient, experiment: str, tmp_path: Path, monkeypatch
) -> None:
    config = tmp_path / "elsewhere.toml"
    config.write_text('[record]\ndata_privacy = "disabled"\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_COMPLIANCE_CONFIG", str(config))
    with mlflow.start_run() as run:
        pass
    assert tracking.get_run(run.info.run_id).data.tags["data_privacy"] == "disabled"


def test_compliance_run_refuses_a_record_that_contradicts_the_project(
    tracking: mlflow.MlflowClient, experiment: str, project: Path
) -> None:
    # compliance.toml says no transfers outside the EU; naming a safeguard contradicts it.
    with (
        pytest.raises(InvalidComplianceRecord, match=r"compliance\.gdpr\.transfer_safeguard"),
        compliance_run({"gdpr": {"transfer_safeguard": "derogation"}}),
    ):
        pass
    assert runs_in(tracking, experiment) == []


def test_compliance_run_tags_the_run_and_logs_the_description(
    tracking: mlflow.MlflowClient, experiment: str, project: Path
) -> None:
    record = ComplianceRecord.model_validate({"ai_act": {"risk_class": "high",
                                                         "annex_iii_area": "employment"}})
    with compliance_run(record, data_description="CVs of applicants") as run:
        pass
    data = tracking.get_run(run.info.run_id).data
    assert data.tags["compliance.ai_act.annex_iii_area"] == "employment"
    assert data.tags["compliance.gdpr.lawful_basis"] == "contract"
    assert data.params["data_description"] == "CVs of applicants"


def test_broken_compliance_toml_names_the_file_and_field(
    tracking: mlflow.MlflowClient, project: Path
) -> None:
    (project / "compliance.toml").write_text('[record.gdpr]\nlawful_basis = "maybe"\n')
    with pytest.raises(ProjectConfigError) as caught, compliance_run():
        pass
    assert str(caught.value).startswith(f"{project / 'compliance.toml'}:2: ")
    assert "compliance.gdpr.lawful_basis: 'maybe' is not allowed" in str(caught.value)


def test_broken_compliance_toml_stops_a_plain_start_run(
    tracking: mlflow.MlflowClient, experiment: str, project: Path
) -> None:
    (project / "compliance.toml").write_text(TOML.replace('"contract"', '"vibes"'))
    with pytest.raises(ProjectConfigStopsRun, match=r"compliance\.toml:8: compliance\.gdpr\."
                       r"lawful_basis: 'vibes' is not allowed"):
        mlflow.start_run()
    assert mlflow.active_run() is None
    assert runs_in(tracking, experiment) == []


PERSONAL = {"gdpr": {"personal_data": True}}
APPLICANTS = {
    "personal_data": True,
    "data_categories": ["age", "income"],
    "origin": "Applications submitted through our careers site in 2025",
    "bias_examination": "artifact:bias/applicants.html",
    "subject_id_columns": ["applicant_id"],
}


@pytest.fixture
def applicants() -> mlflow.data.dataset.Dataset:
    import pandas as pd

    frame = pd.DataFrame({"applicant_id": [1, 2], "age": [31, 45], "income": [40_000, 52_000]})
    return mlflow.data.from_pandas(frame, name="applicants")


def dataset_tags(tracking: mlflow.MlflowClient, run_id: str) -> dict[str, str]:
    (dataset_input,) = tracking.get_run(run_id).inputs.dataset_inputs
    return {t.key: t.value for t in dataset_input.tags}


def test_dataset_input_carries_its_own_record(
    tracking: mlflow.MlflowClient, experiment: str, tmp_path, monkeypatch, applicants
) -> None:
    monkeypatch.chdir(tmp_path)
    with compliance_run(PERSONAL) as run:
        logged = log_dataset_with_compliance(applicants, APPLICANTS)
    assert isinstance(logged, DatasetRecord) and logged == parse_dataset_record(APPLICANTS)
    tags = dataset_tags(tracking, run.info.run_id)
    assert tags["mlflow.data.context"] == "training"
    assert tags["compliance.gdpr.personal_data"] == "true"
    assert tags["compliance.dataset.bias_examination"] == "artifact:bias/applicants.html"
    assert tags["compliance.dataset.subject_id_columns"] == "applicant_id"


def test_dataset_record_can_be_a_record_and_the_context_chosen(
    tracking: mlflow.MlflowClient, experiment: str, tmp_path, monkeypatch, applicants
) -> None:
    monkeypatch.chdir(tmp_path)
    record = parse_dataset_record(APPLICANTS)
    with compliance_run(PERSONAL) as run:
        log_dataset_with_compliance(applicants, record, context="evaluation")
    tags = dataset_tags(tracking, run.info.run_id)
    assert tags["mlflow.data.context"] == "evaluation"
    assert tags["compliance.dataset.origin"] == APPLICANTS["origin"]


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({**APPLICANTS, "origin": "TBD"}, "compliance.dataset.origin"),
        ({**APPLICANTS, "bias_examination": "http://bias.example/report"},
         "compliance.dataset.bias_examination"),
        ({**APPLICANTS, "personal_data": False}, "compliance.gdpr.data_categories"),
        ({**APPLICANTS, "lawful_basis": "consent"}, "lawful_basis"),
    ],
)
def test_a_bad_dataset_record_is_refused_before_the_input_is_logged(
    tracking: mlflow.MlflowClient, experiment: str, tmp_path, monkeypatch, applicants,
    record: dict, field: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    with compliance_run(PERSONAL) as run, pytest.raises(InvalidComplianceRecord) as caught:
        log_dataset_with_compliance(applicants, record)
    assert caught.value.problems[0].field == field
    assert tracking.get_run(run.info.run_id).inputs.dataset_inputs == []


@pytest.mark.parametrize("run_record", [{"gdpr": {"personal_data": False}}, None])
def test_a_personal_data_dataset_cannot_go_into_a_run_that_declares_none(
    tracking: mlflow.MlflowClient, experiment: str, tmp_path, monkeypatch, applicants,
    run_record: dict | None,
) -> None:
    monkeypatch.chdir(tmp_path)
    with compliance_run(run_record) as run, pytest.raises(InvalidComplianceRecord) as caught:
        log_dataset_with_compliance(applicants, APPLICANTS)
    (problem,) = caught.value.problems
    assert problem.field == "compliance.gdpr.personal_data"
    assert "dataset 'applicants' has personal data but the run declares" in problem.reason
    assert tracking.get_run(run.info.run_id).inputs.dataset_inputs == []
