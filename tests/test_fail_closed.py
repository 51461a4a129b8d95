"""The server fails closed on the record (issue 14, item 1): the whole record is judged
after each write, required declarations cannot be deleted, a model version is
registered only with the minimum record, strict mode refuses a bare run, the registrar
is the authenticated user, and datasets and runs agree on personal data. Real servers,
the real MLflow client."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import requests
import sqlalchemy as sa
from mlflow.exceptions import MlflowException
from sklearn.linear_model import LogisticRegression

from mlflow_compliance.server.starts import encrypted_since, record_start
from mlflow_compliance.settings import (
    PROTECTED_ALIASES_ENV,
    STRICT_RECORD_ENV,
    SettingProblem,
    check_compliance_settings,
    protected_aliases,
    strict_record,
)
from mlflow_compliance.testing import BIN, Server, start_compliance_server

PERSONAL = "compliance.gdpr.personal_data"
RISK = "compliance.ai_act.risk_class"
REGISTERED_BY = "mlflow.compliance.registered_by"
MINIMUM = {PERSONAL: "false", RISK: "minimal"}


@pytest.fixture
def client(server: Server) -> Iterator[mlflow.MlflowClient]:
    mlflow.set_tracking_uri(server.url)
    yield mlflow.MlflowClient(server.url)
    while mlflow.active_run():
        mlflow.end_run()


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = start_compliance_server(tmp_path_factory.mktemp("home-strict"),
                                env={STRICT_RECORD_ENV: "true"})
    yield s
    s.stop()


def experiment(client: mlflow.MlflowClient) -> str:
    return client.create_experiment(f"closed-{uuid.uuid4().hex[:8]}")


def refused(caught: pytest.ExceptionInfo[MlflowException], tag: str) -> str:
    assert caught.value.error_code == "INVALID_PARAMETER_VALUE"
    message = caught.value.message.removeprefix("INVALID_PARAMETER_VALUE: ")
    assert message.startswith(tag), message
    return message


# --- the whole record after each write ----------------------------------------------


def test_contradictions_written_one_tag_at_a_time_are_refused(
    client: mlflow.MlflowClient,
) -> None:
    run = client.create_run(experiment(client), tags={PERSONAL: "false"}).info.run_id
    with pytest.raises(MlflowException) as caught:
        client.set_tag(run, "compliance.gdpr.special_categories", "health_data")
    assert "personal_data is false" in refused(caught, "compliance.gdpr.special_categories")
    assert "compliance.gdpr.special_categories" not in client.get_run(run).data.tags

    client.set_tag(run, PERSONAL, "true")
    with pytest.raises(MlflowException) as caught:
        client.set_tag(run, "data_privacy", "disabled")
    refused(caught, "data_privacy")
    assert "data_privacy" not in client.get_run(run).data.tags
    client.set_tag(run, "data_privacy", "enabled")  # the consistent value is stored
    assert client.get_run(run).data.tags["data_privacy"] == "enabled"


def test_a_contradiction_on_a_model_version_tag_is_refused(
    client: mlflow.MlflowClient,
) -> None:
    name = f"contra-{uuid.uuid4().hex[:6]}"
    run = client.create_run(experiment(client), tags=MINIMUM).info.run_id
    client.create_registered_model(name)
    version = client.create_model_version(name, f"runs:/{run}/model", run_id=run,
                                          tags={PERSONAL: "false"}).version
    with pytest.raises(MlflowException) as caught:
        client.set_model_version_tag(name, version, "compliance.gdpr.lawful_basis", "consent")
    refused(caught, "compliance.gdpr.lawful_basis")


def test_a_required_tag_cannot_be_deleted_from_a_run_or_a_version(
    client: mlflow.MlflowClient,
) -> None:
    run = client.create_run(experiment(client), tags={
        **MINIMUM, "compliance.gdpr.purpose": "Classify iris flowers for a demo"}).info.run_id
    with pytest.raises(MlflowException) as caught:
        client.delete_tag(run, PERSONAL)
    assert "cannot be deleted" in refused(caught, PERSONAL)
    assert client.get_run(run).data.tags[PERSONAL] == "false"
    client.delete_tag(run, "compliance.gdpr.purpose")  # not required: deleted
    assert "compliance.gdpr.purpose" not in client.get_run(run).data.tags

    name = f"keep-{uuid.uuid4().hex[:6]}"
    client.create_registered_model(name)
    version = client.create_model_version(name, f"runs:/{run}/model", run_id=run,
                                          tags=MINIMUM).version
    with pytest.raises(MlflowException) as caught:
        client.delete_model_version_tag(name, version, RISK)
    refused(caught, RISK)
    assert client.get_model_version(name, version).tags[RISK] == "minimal"


# --- the minimum record on every registered version ---------------------------------


def test_a_model_version_without_the_minimum_record_is_refused(
    client: mlflow.MlflowClient,
) -> None:
    name = f"bare-{uuid.uuid4().hex[:6]}"
    run = client.create_run(experiment(client)).info.run_id
    client.create_registered_model(name)
    with pytest.raises(MlflowException) as caught:
        client.create_model_version(name, f"runs:/{run}/model", run_id=run)
    message = refused(caught, PERSONAL)
    assert RISK in message and f"run {run}" in message
    assert client.search_model_versions(f"name = '{name}'") == []
    # The request's own tags complete the run's record.
    made = client.create_model_version(name, f"runs:/{run}/model", run_id=run, tags=MINIMUM)
    assert made.version == "1"


def test_the_minimum_record_is_read_from_the_logged_models_run(
    client: mlflow.MlflowClient,
) -> None:
    name = f"logged-{uuid.uuid4().hex[:6]}"
    X = np.random.default_rng(2).random((20, 3))
    fitted = LogisticRegression().fit(X, (X[:, 0] > 0.5).astype(int))
    with mlflow.start_run(experiment_id=experiment(client)):
        info = mlflow.sklearn.log_model(fitted, name="model")
    client.create_registered_model(name)
    with pytest.raises(MlflowException) as caught:
        client.create_model_version(name, info.model_uri, model_id=info.model_id)
    refused(caught, PERSONAL)
    client.set_tag(info.run_id, PERSONAL, "false")
    client.set_tag(info.run_id, RISK, "minimal")
    made = client.create_model_version(name, info.model_uri, model_id=info.model_id)
    assert made.tags[REGISTERED_BY] == "admin"


def test_a_prompt_needs_no_model_record(server: Server) -> None:
    mlflow.set_tracking_uri(server.url)
    prompt = mlflow.genai.register_prompt(f"greeting-{uuid.uuid4().hex[:6]}",
                                          template="Hello {{name}}")
    assert prompt.version == 1


def test_an_invalid_source_record_is_refused(client: mlflow.MlflowClient) -> None:
    name = f"invalid-{uuid.uuid4().hex[:6]}"
    run = client.create_run(experiment(client), tags={PERSONAL: "false"}).info.run_id
    client.create_registered_model(name)
    with pytest.raises(MlflowException) as caught:
        client.create_model_version(name, f"runs:/{run}/model", run_id=run, tags={
            RISK: "minimal", "compliance.gdpr.lawful_basis": "consent"})
    refused(caught, "compliance.gdpr.lawful_basis")


# --- the registrar is who is signed in ------------------------------------------------


def test_registered_by_is_set_by_the_server_and_cannot_be_forged(
    client: mlflow.MlflowClient,
) -> None:
    name = f"who-{uuid.uuid4().hex[:6]}"
    run = client.create_run(experiment(client), tags=MINIMUM).info.run_id
    client.create_registered_model(name)
    version = client.create_model_version(name, f"runs:/{run}/model", run_id=run,
                                          tags={REGISTERED_BY: "mallory"}).version
    assert client.get_model_version(name, version).tags[REGISTERED_BY] == "admin"
    with pytest.raises(MlflowException) as caught:
        client.set_model_version_tag(name, version, REGISTERED_BY, "mallory")
    assert "set by the server" in refused(caught, REGISTERED_BY)
    with pytest.raises(MlflowException) as caught:
        client.delete_model_version_tag(name, version, REGISTERED_BY)
    refused(caught, REGISTERED_BY)
    assert client.get_model_version(name, version).tags[REGISTERED_BY] == "admin"


# --- strict mode ----------------------------------------------------------------------


def test_strict_mode_refuses_a_bare_run_and_the_default_creates_it(
    server: Server, strict_server: Server,
) -> None:
    def create(s: Server, tags: list[dict[str, str]]) -> requests.Response:
        return requests.post(f"{s.url}/api/2.0/mlflow/runs/create",
                             json={"experiment_id": "0", "tags": tags}, auth=s.auth, timeout=60)

    bare = create(strict_server, [])
    assert bare.status_code == 400, bare.text
    message = bare.json()["message"]
    assert message.startswith(PERSONAL) and RISK in message and STRICT_RECORD_ENV in message
    declared = create(strict_server, [{"key": k, "value": v} for k, v in MINIMUM.items()])
    assert declared.status_code == 200, declared.text
    assert create(server, []).status_code == 200  # default: plain MLflow clients work
    info = requests.get(f"{strict_server.url}/api/2.0/compliance/server-info",
                        auth=strict_server.auth, timeout=60).json()
    assert info["strict_record"] is True


# --- datasets and runs agree ----------------------------------------------------------


def test_a_personal_dataset_goes_only_into_a_run_that_declares_personal_data(
    client: mlflow.MlflowClient,
) -> None:
    frame = pd.DataFrame({"email": ["a@example.com"], "age": [41]})
    dataset = mlflow.data.from_pandas(frame, name="customers")
    with mlflow.start_run(experiment_id=experiment(client), tags=MINIMUM) as active:
        with pytest.raises(MlflowException) as caught:
            mlflow.log_input(dataset, context="training", tags={PERSONAL: "true"})
        message = refused(caught, PERSONAL)
        assert f"declare {PERSONAL}=true on the run first" in message
    assert not client.get_run(active.info.run_id).inputs.dataset_inputs

    with mlflow.start_run(experiment_id=experiment(client),
                          tags={**MINIMUM, PERSONAL: "true"}) as active:
        mlflow.log_input(dataset, context="training", tags={PERSONAL: "true"})
        run = active.info.run_id
    with pytest.raises(MlflowException) as caught:
        client.set_tag(run, PERSONAL, "false")
    refused(caught, PERSONAL)
    assert client.get_run(run).data.tags[PERSONAL] == "true"


# --- settings and server facts --------------------------------------------------------


def test_record_settings_are_checked_with_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(STRICT_RECORD_ENV, "maybe")
    with pytest.raises(SettingProblem, match=f"^{STRICT_RECORD_ENV}: 'maybe'"):
        strict_record()
    with pytest.raises(SettingProblem, match=STRICT_RECORD_ENV):
        check_compliance_settings()
    monkeypatch.setenv(STRICT_RECORD_ENV, "true")
    assert strict_record() is True
    monkeypatch.setenv("MLFLOW_COMPLIANCE_REQUIRED_RECORD", "compliance.gdpr.nonsense")
    with pytest.raises(SettingProblem, match="MLFLOW_COMPLIANCE_REQUIRED_RECORD"):
        check_compliance_settings()
    monkeypatch.delenv("MLFLOW_COMPLIANCE_REQUIRED_RECORD")
    monkeypatch.setenv(PROTECTED_ALIASES_ENV, "Prod*, champion")
    assert protected_aliases() == frozenset({"prod*", "champion"})
    monkeypatch.setenv(PROTECTED_ALIASES_ENV, "prod uction")
    with pytest.raises(SettingProblem, match=PROTECTED_ALIASES_ENV):
        protected_aliases()


def test_server_info_reports_policy_need_to_know_and_encrypted_since(server: Server) -> None:
    info = requests.get(f"{server.url}/api/2.0/compliance/server-info", auth=server.auth,
                        timeout=60).json()
    assert info["policy"]["required"] == [PERSONAL, RISK]
    assert info["need_to_know"] is True and info["strict_record"] is False
    assert isinstance(info["encrypted_since"], int) and info["encrypted_since"] > 0


def test_encrypted_since_is_the_first_start_after_the_last_start_without_encryption(
    tmp_path: Path,
) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'starts.db'}")
    assert record_start(engine, True, now_ms=1000) == 1000
    assert record_start(engine, True, now_ms=2000) == 1000
    assert record_start(engine, False, now_ms=3000) is None
    assert record_start(engine, True, now_ms=4000) == 4000
    assert record_start(engine, True, now_ms=5000) == 4000
    assert encrypted_since(engine) == 4000


def test_runs_from_before_encryption_was_on_fail_encryption_at_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """BASE-ENCRYPTION-AT-REST judges each run by when it started, not by the server's
    current switch: a run from a start without encryption keeps failing after the
    server is restarted with it (its artifacts may be plaintext); a new run passes."""
    home = tmp_path / "home"
    plain = start_compliance_server(home, env={"MLFLOW_ARTIFACT_ENCRYPTION": "false"})
    try:
        old = mlflow.MlflowClient(plain.url)
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", plain.auth[0])
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", plain.auth[1])
        experiment = old.create_experiment(f"enc-{uuid.uuid4().hex[:6]}")
        before = old.create_run(experiment).info.run_id
        old.log_text(before, "written in plaintext", "notes.txt")
    finally:
        plain.stop()
    encrypted = start_compliance_server(home)
    try:
        after = mlflow.MlflowClient(encrypted.url).create_run(experiment).info.run_id
        done = subprocess.run(
            [str(BIN / "mlflow-compliance"), "check", "--experiment", experiment, "--rules",
             "baseline", "--format", "json"],
            env={**os.environ, "MLFLOW_TRACKING_URI": encrypted.url}, capture_output=True,
            text=True, timeout=300)
        findings = {(f["target_id"], f["rule_id"]): f for f in json.loads(done.stdout)["findings"]}
        old_run = findings[(before, "BASE-ENCRYPTION-AT-REST")]
        assert old_run["status"] == "fail" and "before encryption was on" in old_run["message"]
        assert findings[(after, "BASE-ENCRYPTION-AT-REST")]["status"] == "pass"
    finally:
        encrypted.stop()
