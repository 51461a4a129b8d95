"""Four-eyes release (issue 14, item 5; AI Act Art. 17(1)(b)-(d), Annex IV 2(g)): nobody
signs off their own run or registration (admins included); the sign-off covers the
metrics and the SHA-256 of the model files, and the gate says what changed; gated
aliases are patterns plus every alias of a high-risk version; the re-check reports and
(when configured) demotes lapsed versions. Real servers, the real MLflow client."""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import pytest
import requests
from sklearn.linear_model import LogisticRegression

from mlflow_compliance import log_model_with_compliance
from mlflow_compliance.cli.gate import recheck, render
from mlflow_compliance.testing import Server, start_compliance_server
from tests.test_promotion_gate import COMPLIANT, approver, cli, set_alias, user

REGISTERED_BY = "mlflow.compliance.registered_by"


@pytest.fixture
def tracking(server: Server) -> Iterator[Server]:
    mlflow.set_tracking_uri(server.url)
    yield server
    while mlflow.active_run():
        mlflow.end_run()


@pytest.fixture(scope="module")
def demoting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = start_compliance_server(tmp_path_factory.mktemp("home-demote"), env={
        "MLFLOW_COMPLIANCE_PROTECTED_ALIASES": "prod*,champion",
        "MLFLOW_COMPLIANCE_DEMOTE_LAPSED": "true"})
    yield s
    s.stop()


def trained(name: str, record: dict[str, object] = COMPLIANT) -> tuple[str, str]:
    """A compliant version trained and registered by the admin: (version, run id)."""
    X = np.random.default_rng(3).random((40, 4))
    fitted = LogisticRegression().fit(X, (X[:, 0] > 0.5).astype(int))
    with mlflow.start_run() as run:
        mlflow.log_metric("test_accuracy", 0.93)
        info = log_model_with_compliance(
            fitted, record=record, data_description="Iris measurements, no personal data",
            registered_model_name=name)
    return str(info.registered_model_version), run.info.run_id


def approve(server: Server, name: str, version: str,
            auth: tuple[str, str] | None) -> requests.Response:
    return requests.post(f"{server.url}/api/2.0/compliance/model-versions/approve",
                         json={"name": name, "version": version, "note": "Reviewed"},
                         auth=auth or server.auth, timeout=120)


def test_the_trainer_and_the_registrar_cannot_sign_off(
    tracking: Server, monkeypatch: pytest.MonkeyPatch,
) -> None:
    name = f"eyes-{uuid.uuid4().hex[:6]}"
    trainer = user(tracking, "approver")
    experiment = mlflow.MlflowClient().create_experiment(f"eyes-{uuid.uuid4().hex[:6]}")
    assert cli(tracking, "grant", trainer[0], "--experiment", experiment,
               "--permission", "edit").returncode == 0
    # The trainer logs the run and the model; the admin registers the version.
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", trainer[0])
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", trainer[1])
    X = np.random.default_rng(4).random((40, 4))
    fitted = LogisticRegression().fit(X, (X[:, 0] > 0.5).astype(int))
    with mlflow.start_run(experiment_id=experiment) as run:
        info = log_model_with_compliance(fitted, record=COMPLIANT,
                                         data_description="Iris measurements, no personal data")
    monkeypatch.undo()
    client = mlflow.MlflowClient()
    assert client.get_run(run.info.run_id).info.user_id == trainer[0]
    client.create_registered_model(name)
    version = client.create_model_version(name, info.model_uri, run_id=run.info.run_id,
                                          model_id=info.model_id).version
    assert client.get_model_version(name, version).tags[REGISTERED_BY] == "admin"
    assert cli(tracking, "grant", trainer[0], "--model", name,
               "--permission", "read").returncode == 0

    as_trainer = approve(tracking, name, version, trainer)
    assert as_trainer.status_code == 403
    assert "created its source run" in as_trainer.json()["message"]
    as_registrar = approve(tracking, name, version, None)  # the admin: not exempt
    assert as_registrar.status_code == 403
    assert "registered it" in as_registrar.json()["message"]
    assert approve(tracking, name, version, approver(tracking, name)).status_code == 200


def test_the_admin_who_trained_cannot_sign_off_and_unknown_registrar_is_refused(
    tracking: Server,
) -> None:
    name = f"self-{uuid.uuid4().hex[:6]}"
    version, _ = trained(name)
    mine = approve(tracking, name, version, None)
    assert mine.status_code == 403 and "created its source run" in mine.json()["message"]
    with sqlite3.connect(tracking.home / "mlflow.db") as db:
        db.execute("DELETE FROM model_version_tags WHERE name = ? AND key = ?",
                   (name, REGISTERED_BY))
    unknown = approve(tracking, name, version, approver(tracking, name))
    assert unknown.status_code == 400
    assert "four-eyes cannot be shown" in unknown.json()["message"]


def test_a_metric_changed_after_the_sign_off_makes_it_stale(tracking: Server) -> None:
    name = f"metric-{uuid.uuid4().hex[:6]}"
    version, run = trained(name)
    status = requests.get(f"{tracking.url}/api/2.0/compliance/model-versions/gate-status",
                          params={"name": name, "version": version}, auth=tracking.auth,
                          timeout=60).json()
    assert status["admitted"] is False and any("no sign-off" in r for r in status["reasons"])
    assert approve(tracking, name, version, approver(tracking, name)).status_code == 200
    status = requests.get(f"{tracking.url}/api/2.0/compliance/model-versions/gate-status",
                          params={"name": name, "version": version}, auth=tracking.auth,
                          timeout=60).json()
    assert status == {"admitted": True, "reasons": []}
    mlflow.MlflowClient().log_metric(run, "test_accuracy", 0.51)
    r = set_alias(tracking, name, "production", version)
    assert r.status_code == 403, r.text
    assert "stale" in r.json()["message"]
    assert "metric test_accuracy changed" in r.json()["message"]


def test_a_model_file_swapped_after_the_sign_off_makes_it_stale(
    tracking: Server, tmp_path: Path,
) -> None:
    name = f"swap-{uuid.uuid4().hex[:6]}"
    version, _ = trained(name)
    assert approve(tracking, name, version, approver(tracking, name)).status_code == 200
    assert set_alias(tracking, name, "champion", version).status_code == 200
    client = mlflow.MlflowClient()
    registered = client.get_model_version(name, version)
    swapped = tmp_path / "model.skops"  # the sklearn flavor's model file
    swapped.write_bytes(os.urandom(64))
    # Overwrite the file where the version's source keeps it: the logged model's
    # artifacts (models:/m-...) or the run's model folder (runs:/<run>/model).
    model_id = registered.model_id or (
        registered.source.removeprefix("models:/").split("/")[0]
        if registered.source.startswith("models:/m-") else None)
    if model_id:
        client.log_model_artifact(model_id, str(swapped))
    else:
        sub = registered.source.removeprefix(f"runs:/{registered.run_id}/")
        client.log_artifact(registered.run_id, str(swapped), artifact_path=sub)
    r = set_alias(tracking, name, "production", version)
    assert r.status_code == 403, r.text
    assert "file model.skops changed" in r.json()["message"]


def test_gated_patterns_and_every_alias_of_a_high_risk_version(demoting: Server) -> None:
    mlflow.set_tracking_uri(demoting.url)
    name = f"pattern-{uuid.uuid4().hex[:6]}"
    version, _ = trained(name)
    assert set_alias(demoting, name, "Prod-EU", version).status_code == 403
    assert set_alias(demoting, name, "staging", version).status_code == 200
    risky = f"risky-{uuid.uuid4().hex[:6]}"
    client = mlflow.MlflowClient()
    run = client.create_run("0", tags={"compliance.gdpr.personal_data": "false",
                                       "compliance.ai_act.risk_class": "high"}).info.run_id
    client.create_registered_model(risky)
    high = client.create_model_version(risky, f"runs:/{run}/model", run_id=run).version
    r = set_alias(demoting, risky, "canary", high)
    assert r.status_code == 403, r.text


def test_recheck_reports_a_lapsed_version_and_demotes_it(demoting: Server) -> None:
    mlflow.set_tracking_uri(demoting.url)
    name = f"lapse-{uuid.uuid4().hex[:6]}"
    version, run = trained(name)
    assert approve(demoting, name, version, approver(demoting, name)).status_code == 200
    assert set_alias(demoting, name, "prod-eu", version).status_code == 200
    assert set_alias(demoting, name, "staging", version).status_code == 200
    rows, code = recheck(demoting.url)
    mine = [r for r in rows if r["name"] == name]
    assert [(r["status"], r["aliases"]) for r in mine] == [("admitted", ["prod-eu"])]

    mlflow.MlflowClient().log_metric(run, "test_accuracy", 0.2)
    rows, code = recheck(demoting.url)
    (row,) = [r for r in rows if r["name"] == name]
    assert code == 1 and row["status"] == "lapsed" and row["demoted"] == ["prod-eu"]
    assert any("metric test_accuracy changed" in reason for reason in row["reasons"])
    render(rows)
    aliases = mlflow.MlflowClient().get_registered_model(name).aliases
    assert aliases == {"staging": version}

    plain = user(demoting)
    env_auth = requests.post(f"{demoting.url}/api/2.0/compliance/model-versions/recheck",
                             json={}, auth=plain, timeout=60)
    assert env_auth.status_code == 403  # admins only


def test_check_gate_is_the_servers_recheck_with_its_exit_code(demoting: Server) -> None:
    mlflow.set_tracking_uri(demoting.url)
    name = f"cli-gate-{uuid.uuid4().hex[:6]}"
    version, run = trained(name)
    assert approve(demoting, name, version, approver(demoting, name)).status_code == 200
    assert set_alias(demoting, name, "champion", version).status_code == 200
    done = cli(demoting, "check", "--gate", "--format", "json", auth=demoting.auth)
    rows = json.loads(done.stdout)["versions"]
    mine = [r for r in rows if r["name"] == name]
    assert [r["status"] for r in mine] == ["admitted"]
    assert done.returncode == (1 if any(r["status"] == "lapsed" for r in rows) else 0)

    mlflow.MlflowClient().log_metric(run, "test_accuracy", float("nan"))
    done = cli(demoting, "check", "--gate", auth=demoting.auth)
    assert done.returncode == 1, done.stderr
    assert name in done.stdout and "lapsed" in done.stdout

    assert cli(demoting, "check", "--gate", auth=user(demoting)).returncode == 2
    refused = cli(demoting, "check", "--gate", "--model", name, auth=demoting.auth)
    assert refused.returncode == 2 and "--gate" in refused.stderr


def test_model_files_that_cannot_be_read_refuse_the_gate_saying_so(tracking: Server) -> None:
    """Silence never admits: when a stored model file no longer decrypts, the gate cannot
    compare it with the sign-off and refuses, naming why (a file that is gone is a
    change: "file ... removed")."""
    name = f"gone-{uuid.uuid4().hex[:6]}"
    version, _ = trained(name)
    assert approve(tracking, name, version, approver(tracking, name)).status_code == 200
    registered = mlflow.MlflowClient().get_model_version(name, version)
    model_id = registered.model_id or registered.source.removeprefix("models:/").split("/")[0]
    stored = [p for p in (tracking.home / "artifacts").rglob("*")
              if p.is_file() and model_id in str(p)]
    assert stored, "the model's files were not found in the artifact store"
    corrupt = next(p for p in stored if p.name == "MLmodel")
    data = bytearray(corrupt.read_bytes())
    data[-1] ^= 0xFF  # the last byte of the authenticated ciphertext
    corrupt.write_bytes(bytes(data))
    r = set_alias(tracking, name, "production", version)
    assert r.status_code == 409, r.text
    assert r.json()["error_code"] == "INVALID_STATE"
    assert "model files cannot be read" in r.json()["message"]
