"""Erasure of one person (GDPR Art. 17) against real compliance servers, on SQLite and
PostgreSQL (and S3 through moto): a person in three datasets of two runs is erased
through the CLI; afterwards no dataset file yields their rows while everyone else's are
intact, a copy of the old ciphertext no longer decrypts with the keyring as it is now,
the index and MLflow's own records no longer hold them, the model versions trained on
them are flagged and refused by the gate (a retrained one is admitted), the signed
certificate verifies (a tampered copy fails naming the field), the request is
completed. A mismatched request, a plain user, a legal hold, an unsupported file and a
dry run change nothing."""

from __future__ import annotations

import io
import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
import requests
import sqlalchemy as sa
from sklearn.linear_model import LogisticRegression

from mlflow_compliance import (
    compliance_run,
    log_dataset_with_compliance,
    log_model_with_compliance,
)
from mlflow_compliance.audit.log import AuditLog
from mlflow_compliance.encryption.keys.configure import open_keyring
from mlflow_compliance.encryption.keys.errors import ArtifactErased
from mlflow_compliance.encryption.stream import read_header
from mlflow_compliance.retention.holds import LegalHolds
from mlflow_compliance.settings import Settings
from mlflow_compliance.subjects.erasure.flags import TRAINED_ON_ERASED_DATA_TAG
from mlflow_compliance.testing import BIN, Server, start_compliance_server

CLI = str(BIN / "mlflow-compliance")
RUN_RECORD = {"gdpr": {"personal_data": True}, "ai_act": {"risk_class": "minimal"}}
DATASET_RECORD = {
    "personal_data": True,
    "data_categories": ["contact details", "age"],
    "subject_id_columns": ["email"],
    "origin": "Collected from customer sign-up forms for the churn study",
}
COMPLIANT = {
    "regulations": ["GDPR", "AI Act"],
    "data_privacy": "enabled",
    "gdpr": {"personal_data": False, "purpose": "Predict churn, retrained without erased data"},
    "ai_act": {"risk_class": "minimal", "intended_purpose": "Predict customer churn",
               "transparency_obligations": False},
}


def post(server: Server, route: str, body: dict[str, Any],
         auth: tuple[str, str] | None = None) -> requests.Response:
    return requests.post(f"{server.url}/api/2.0/compliance/{route}", json=body,
                         auth=auth or server.auth, timeout=300)


def cli(server: Server, *args: str, auth: tuple[str, str] | None = None,
        stdin: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MLFLOW_TRACKING_URI": server.url, "COLUMNS": "250"}
    if auth:
        env.update(MLFLOW_TRACKING_USERNAME=auth[0], MLFLOW_TRACKING_PASSWORD=auth[1])
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=300, env=env,
                          input=stdin, cwd=cwd)


def user(server: Server, role: str | None = None, *clearances: str) -> tuple[str, str]:
    name, password = f"u-{uuid.uuid4().hex[:8]}", "a long enough password"
    body: dict[str, Any] = {"name": name, "password": password,
                            "clearances": list(clearances)}
    if role:
        body["role"] = role
    r = post(server, "users/create", body)
    assert r.status_code == 200, r.text
    return name, password


def settings_of(server: Server) -> Settings:
    return Settings.from_env(server.home, backend_store_uri=server.backend_store_uri)


def index(server: Server, run_id: str, name: str, ids: list[str]) -> None:
    r = post(server, "subjects/index", {"run_id": run_id, "dataset_name": name,
                                        "column": "email", "ids": ids})
    assert r.status_code == 200, r.text


def new_request(server: Server, subject_id: str, kind: str = "erasure") -> str:
    r = post(server, "subjects/requests/create", {"kind": kind, "subject_id": subject_id})
    assert r.status_code == 200, r.text
    return str(r.json()["request"]["id"])


def stored_files(server: Server, run_id: str) -> dict[str, bytes]:
    """What the artifact folder holds of a run's datasets (local destination)."""
    root = server.home / "artifacts"
    return {str(p.relative_to(root)): p.read_bytes()
            for p in root.glob(f"*/{run_id}/artifacts/datasets/**/*") if p.is_file()}


def rows_of(run_id: str, name: str, folder: Path) -> pd.DataFrame:
    """Every row of a dataset's files, downloaded through the MLflow client."""
    local = Path(mlflow.MlflowClient().download_artifacts(run_id, f"datasets/{name}",
                                                           str(folder)))
    frames = [pd.read_csv(f) if f.suffix == ".csv" else pd.read_parquet(f)
              for f in sorted(local.iterdir())]
    return pd.concat(frames, ignore_index=True)


def logged(frame: pd.DataFrame, name: str, file: Path, source: str | None = None) -> None:
    """``frame`` as dataset ``name`` of the active run, its rows as ``file``."""
    if file.suffix == ".csv":
        frame.to_csv(file, index=False)
    else:
        frame.to_parquet(file)
    mlflow.log_artifact(str(file), artifact_path=f"datasets/{name}")
    dataset = mlflow.data.from_pandas(frame, name=name, source=source)
    log_dataset_with_compliance(dataset, DATASET_RECORD, log_rows=False)


def fitted() -> LogisticRegression:
    X = np.random.default_rng(3).random((30, 2))
    return LogisticRegression().fit(X, X[:, 0] > 0.5)


@dataclass
class World:
    server: Server
    person: str
    others: list[str]
    run_a: str
    run_b: str
    model: str
    request_id: str
    frames: dict[str, pd.DataFrame]
    before: dict[str, bytes]
    plan: dict[str, Any]
    unchanged_by_dry_run: bool
    found_before: int
    certificate_file: Path
    certificate: dict[str, Any]
    output: str


def _world(server: Server, folder: Path) -> World:
    tag = uuid.uuid4().hex[:8]
    person = f"erase-me-{tag}@example.org"
    others = [f"other-{i}-{tag}@example.org" for i in range(6)]
    mlflow.set_tracking_uri(server.url)
    mlflow.set_experiment(f"erasure-{tag}")
    customers = pd.DataFrame({"email": [others[0], person, others[1]], "age": [30, 41, 52]})
    extra = pd.DataFrame({"email": [others[2], others[3]], "age": [23, 64]})
    orders = pd.DataFrame({"email": [person, others[0], person], "amount": [9.5, 3.0, 7.25]})
    customers_b = pd.DataFrame({"email": [others[4], f" {person} "], "age": [35, 41]})
    weather = pd.DataFrame({"city": ["Lyon", "Graz"], "temp": [21, 17]})
    model = f"churn-{tag}"
    with compliance_run(RUN_RECORD) as a:
        logged(customers, "customers", folder / "customers.csv",
               source=f"s3://lake/exports/{person}.csv")
        extra.to_csv(folder / "extra.csv", index=False)
        mlflow.log_artifact(str(folder / "extra.csv"), artifact_path="datasets/customers")
        logged(orders, "orders", folder / "orders.parquet")
        mlflow.sklearn.log_model(fitted(), name="model", registered_model_name=model)
    with compliance_run(RUN_RECORD) as b:
        logged(customers_b, "customers-b", folder / "customers-b.csv")
        weather.to_csv(folder / "weather.csv", index=False)
        mlflow.log_artifact(str(folder / "weather.csv"), artifact_path="datasets/weather")
        mlflow.log_input(mlflow.data.from_pandas(weather, name="weather"),
                         tags={"note": f"list sent to {person}"})
        info = mlflow.sklearn.log_model(fitted(), name="model")
    mlflow.register_model(f"models:/{info.model_id}", model)  # version 2, from a logged model
    with mlflow.start_run():  # the retrained model: version 3
        mlflow.log_metric("accuracy", 0.91)
        log_model_with_compliance(fitted(), record=COMPLIANT,
                                  data_description="Churn features without erased rows",
                                  registered_model_name=model)
    mlflow.tracking.fluent._active_experiment_id = None
    os.environ.pop("MLFLOW_EXPERIMENT_ID", None)
    index(server, a.info.run_id, "customers", list(customers["email"]))
    index(server, a.info.run_id, "orders", list(orders["email"]))
    index(server, b.info.run_id, "customers-b", list(customers_b["email"]))
    request_id = new_request(server, person)
    before = {**stored_files(server, a.info.run_id), **stored_files(server, b.info.run_id)}
    found_before = len(post(server, "subjects/find", {"subject_id": person}).json()["occurrences"])
    dry = cli(server, "subjects", "erase", "-", "--request", request_id, stdin=person + "\n")
    assert dry.returncode == 0, dry.stderr
    assert person not in dry.stdout + dry.stderr and "dry run" in dry.stdout
    plan = post(server, "subjects/erase", {"subject_id": person, "request_id": request_id,
                                           "dry_run": True}).json()["plan"]
    after_dry = {**stored_files(server, a.info.run_id), **stored_files(server, b.info.run_id)}
    unchanged = after_dry == before and len(post(server, "subjects/find", {
        "subject_id": person}).json()["occurrences"]) == found_before
    target = folder / "certificate.json"
    done = cli(server, "subjects", "erase", "-", "--request", request_id, "--yes",
               "-o", str(target), stdin=person + "\n")
    assert done.returncode == 0, done.stderr
    frames = {"customers": pd.concat([customers, extra], ignore_index=True), "orders": orders,
              "customers-b": customers_b, "weather": weather}
    return World(server, person, others, a.info.run_id, b.info.run_id, model, request_id,
                 frames, before, plan, unchanged, found_before, target,
                 json.loads(target.read_text()), done.stdout)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    server = request.getfixturevalue("server" if request.param == "sqlite" else "pg_server")
    previous = mlflow.get_tracking_uri()
    yield _world(server, tmp_path_factory.mktemp(f"erasure-{request.param}"))
    mlflow.set_tracking_uri(previous)


def test_the_dry_run_shows_every_place_and_changes_nothing(world: World) -> None:
    places = {(p["run_id"], p["dataset_name"]) for p in world.plan["places"]}
    assert places == {(world.run_a, "customers"), (world.run_a, "orders"),
                      (world.run_b, "customers-b")}
    assert world.found_before == 3 and world.unchanged_by_dry_run
    assert sorted(world.plan["versions_to_flag"]) == [f"{world.model}/1", f"{world.model}/2"]
    assert any("dataset source outside the server" in limit and world.person not in limit
               for limit in world.plan["limits"])


def test_no_dataset_file_yields_their_rows_and_other_rows_are_intact(
    world: World, tmp_path: Path
) -> None:
    mlflow.set_tracking_uri(world.server.url)
    for run_id, name in [(world.run_a, "customers"), (world.run_a, "orders"),
                         (world.run_b, "customers-b"), (world.run_b, "weather")]:
        got = rows_of(run_id, name, tmp_path / name)
        original = world.frames[name]
        if "email" in original:
            assert not got["email"].str.contains(world.person, regex=False).any(), name
            expected = original[original["email"].str.strip() != world.person]
        else:
            expected = original
        pd.testing.assert_frame_equal(got.reset_index(drop=True),
                                      expected.reset_index(drop=True), check_dtype=False)
    removed = {p["dataset_name"]: p["rows_removed"] for p in world.certificate["places"]}
    assert removed == {"customers": 1, "orders": 2, "customers-b": 1}


def test_a_copy_of_the_old_ciphertext_no_longer_decrypts(world: World) -> None:
    keyring = open_keyring(settings_of(world.server))
    try:
        assert world.before
        for path, old in world.before.items():
            if "/datasets/weather/" in path:
                continue  # not the person's dataset: its key stays
            header = read_header(io.BytesIO(old))
            with pytest.raises(ArtifactErased):
                keyring.key_for_reading(header.key_id)
        shredded = {k for p in world.certificate["places"] for k in p["shredded_keys"]}
        assert len(shredded) == 3
    finally:
        keyring.store.close()


def test_the_index_no_longer_finds_them_and_still_finds_others(world: World) -> None:
    found = post(world.server, "subjects/find", {"subject_id": world.person}).json()
    assert found["occurrences"] == []
    other = post(world.server, "subjects/find", {"subject_id": world.others[0]}).json()
    assert len(other["occurrences"]) == 2


def test_mlflow_records_no_longer_hold_the_id(world: World) -> None:
    engine = sa.create_engine(settings_of(world.server).store_uri)
    try:
        with engine.connect() as c:
            datasets = c.execute(sa.text(
                "SELECT dataset_source, dataset_schema, dataset_profile FROM datasets")).all()
            tags = c.execute(sa.text("SELECT value FROM input_tags")).all()
    finally:
        engine.dispose()
    assert datasets and tags
    for row in [*datasets, *tags]:
        for value in row:
            assert world.person not in (value or "")
    redacted = {(r["table"], r["field"]) for r in world.certificate["records_redacted"]}
    assert ("datasets", "dataset_source") in redacted and ("input_tags", "note") in redacted


def test_downstream_versions_are_flagged_and_refused_a_retrained_one_admitted(
    world: World
) -> None:
    server, name = world.server, world.model
    client = mlflow.MlflowClient(server.url)
    flags = {v: client.get_model_version(name, v).tags.get(TRAINED_ON_ERASED_DATA_TAG)
             for v in ("1", "2", "3")}
    assert flags == {"1": world.certificate["id"], "2": world.certificate["id"], "3": None}
    refused = requests.post(f"{server.url}/api/2.0/mlflow/registered-models/alias",
                            json={"name": name, "alias": "production", "version": "1"},
                            auth=server.auth, timeout=60)
    assert refused.status_code == 403
    assert TRAINED_ON_ERASED_DATA_TAG in refused.json()["message"]
    assert "GDPR Art. 17" in refused.json()["message"]
    # the retrained version, signed off by another person, is admitted as usual
    approver = user(server, None, "approver")
    assert cli(server, "grant", approver[0], "--model", name, "--permission",
               "read").returncode == 0
    signed = cli(server, "approve", name, "3", "--note", "Retrained without erased rows",
                 auth=approver)
    assert signed.returncode == 0, signed.stderr
    admitted = requests.post(f"{server.url}/api/2.0/mlflow/registered-models/alias",
                             json={"name": name, "alias": "production", "version": "3"},
                             auth=server.auth, timeout=60)
    assert admitted.status_code == 200, admitted.text


def test_clients_may_neither_set_nor_delete_the_flag(world: World) -> None:
    server = world.server
    base = f"{server.url}/api/2.0/mlflow/model-versions/"
    body = {"name": world.model, "version": "3", "key": TRAINED_ON_ERASED_DATA_TAG}
    put = requests.post(base + "set-tag", json={**body, "value": "x"}, auth=server.auth,
                        timeout=60)
    assert put.status_code == 400 and TRAINED_ON_ERASED_DATA_TAG in put.json()["message"]
    gone = requests.delete(base + "delete-tag", json={**body, "version": "1"},
                           auth=server.auth, timeout=60)
    assert gone.status_code == 400 and TRAINED_ON_ERASED_DATA_TAG in gone.json()["message"]
    client = mlflow.MlflowClient(server.url)
    assert client.get_model_version(world.model, "1").tags[TRAINED_ON_ERASED_DATA_TAG]


def test_the_certificate_verifies_and_a_tampered_copy_fails_naming_the_field(
    world: World, tmp_path: Path
) -> None:
    server, certificate = world.server, world.certificate
    assert oct(world.certificate_file.stat().st_mode & 0o777) == "0o600"
    assert world.person not in world.certificate_file.read_text() + world.output
    assert certificate["request_id"] == world.request_id and certificate["issued_by"] == "admin"
    assert all(len(f["sha256"]) == 64 for p in certificate["places"] for f in p["files"])
    home = ["--home", str(server.home)]
    ok = cli(server, "subjects", "certificate", "verify", str(world.certificate_file), *home)
    assert ok.returncode == 0 and ok.stdout.startswith("valid"), ok.stdout + ok.stderr
    stored = requests.get(f"{server.url}/api/2.0/compliance/subjects/certificates/get",
                          params={"id": certificate["id"]}, auth=server.auth, timeout=60)
    assert stored.status_code == 200 and stored.json()["certificate"] == certificate
    tampered = json.loads(json.dumps(certificate))
    tampered["places"][0]["rows_removed"] += 1
    (tmp_path / "t.json").write_text(json.dumps(tampered))
    bad = cli(server, "subjects", "certificate", "verify", str(tmp_path / "t.json"), *home)
    assert bad.returncode == 1 and "places" in bad.stdout, bad.stdout
    (tmp_path / "n.json").write_text("not json")
    broken = cli(server, "subjects", "certificate", "verify", str(tmp_path / "n.json"), *home)
    assert broken.returncode == 2 and broken.stderr.count("\n") == 1


def test_the_request_is_completed_with_the_certificate(world: World) -> None:
    r = requests.get(f"{world.server.url}/api/2.0/compliance/subjects/requests/list",
                     auth=world.server.auth, timeout=60)
    found = [q for q in r.json()["requests"] if q["id"] == world.request_id]
    assert found[0]["status"] == "completed"
    assert world.certificate["id"] in found[0]["reason"]
    again = post(world.server, "subjects/erase", {"subject_id": world.person,
                                                  "request_id": world.request_id,
                                                  "dry_run": True})
    assert again.status_code == 400 and again.json()["message"].startswith("request_id:")


def test_the_audit_log_names_steps_not_the_person(world: World) -> None:
    """Read through the audit log itself (SQLite file or PostgreSQL, as configured)."""
    log = AuditLog(world.server.audit_url(), world.server.home, None)
    try:
        entries = list(log.entries())
    finally:
        log.close()
    erased = [e for e in entries if e.action == "subject.erase" and e.status == 200]
    assert any(world.certificate["id"] in e.resources for e in erased)
    assert any('"rows_removed"' in e.resources and '"keys_shredded"' in e.resources
               for e in erased)
    assert not [e for e in entries if world.person in repr(e)]


# --- refusals ---------------------------------------------------------------------------


def _one_place(server: Server, folder: Path, extra: str | None = None) -> tuple[str, str, str]:
    """A person in one dataset of one run; (person, run id, request id)."""
    tag = uuid.uuid4().hex[:8]
    person = f"someone-{tag}@example.org"
    mlflow.set_tracking_uri(server.url)
    mlflow.set_experiment(f"erasure-one-{tag}")
    frame = pd.DataFrame({"email": [person, f"x-{tag}@example.org"], "age": [40, 50]})
    with compliance_run(RUN_RECORD) as run:
        logged(frame, "people", folder / "people.csv")
        if extra:
            (folder / extra).write_text("notes about the dataset\n")
            mlflow.log_artifact(str(folder / extra), artifact_path="datasets/people")
    mlflow.tracking.fluent._active_experiment_id = None
    os.environ.pop("MLFLOW_EXPERIMENT_ID", None)
    index(server, run.info.run_id, "people", list(frame["email"]))
    return person, run.info.run_id, new_request(server, person)


def test_a_mismatched_or_wrong_request_is_refused(any_server: Server, tmp_path: Path) -> None:
    person, _, request_id = _one_place(any_server, tmp_path)
    body = {"subject_id": "somebody-else@example.org", "request_id": request_id,
            "dry_run": False}
    r = post(any_server, "subjects/erase", body)
    assert r.status_code == 400 and r.json()["message"] == "subject_id: does not match the request"
    access = new_request(any_server, person, "access")
    r = post(any_server, "subjects/erase", {**body, "subject_id": person, "request_id": access})
    assert r.status_code == 400 and r.json()["message"].startswith("request_id:")
    r = post(any_server, "subjects/erase", {**body, "subject_id": person, "request_id": "0" * 32})
    assert r.status_code == 404
    r = post(any_server, "subjects/erase", {"subject_id": person, "request_id": request_id})
    assert r.status_code == 400 and r.json()["message"].startswith("dry_run:")
    assert len(post(any_server, "subjects/find", {"subject_id": person})
               .json()["occurrences"]) == 1


def test_a_plain_user_may_not_erase_and_the_privacy_role_may(server: Server,
                                                              tmp_path: Path) -> None:
    person, _, request_id = _one_place(server, tmp_path)
    body = {"subject_id": person, "request_id": request_id, "dry_run": True}
    assert post(server, "subjects/erase", body, user(server)).status_code == 403
    assert post(server, "subjects/erase", body, user(server, "privacy")).status_code == 200


def test_a_held_place_is_withheld_with_its_ground_and_keeps_its_rows(
    any_server: Server, tmp_path: Path
) -> None:
    person, run_id, request_id = _one_place(any_server, tmp_path)
    holds = LegalHolds.connect(settings_of(any_server).store_uri)
    try:
        hold = holds.create("run", run_id, "Pending litigation about the churn campaign",
                            "admin")
    finally:
        holds.close()
    r = post(any_server, "subjects/erase", {"subject_id": person, "request_id": request_id,
                                            "dry_run": False})
    assert r.status_code == 200, r.text
    certificate = r.json()["certificate"]
    assert certificate["places"] == []
    assert [(w["run_id"], w["hold_id"], w["ground"]) for w in certificate["withheld"]] == [
        (run_id, hold.id, "GDPR Art. 17(3)(e)")]
    mlflow.set_tracking_uri(any_server.url)
    assert person in set(rows_of(run_id, "people", tmp_path / "dl")["email"])
    assert len(post(any_server, "subjects/find", {"subject_id": person})
               .json()["occurrences"]) == 1


def test_an_unsupported_file_fails_the_erasure_naming_it_and_changes_nothing(
    server: Server, tmp_path: Path
) -> None:
    person, run_id, request_id = _one_place(server, tmp_path, extra="README.txt")
    before = stored_files(server, run_id)
    r = post(server, "subjects/erase", {"subject_id": person, "request_id": request_id,
                                        "dry_run": False})
    assert r.status_code == 409 and "README.txt" in r.json()["message"], r.text
    assert person not in r.text
    assert stored_files(server, run_id) == before
    assert len(post(server, "subjects/find", {"subject_id": person})
               .json()["occurrences"]) == 1


# --- S3 -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory: pytest.TempPathFactory,
              moto_server: object) -> Iterator[tuple[Server, str]]:
    import boto3

    bucket = f"erasure-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=os.environ["MLFLOW_S3_ENDPOINT_URL"]).create_bucket(
        Bucket=bucket)
    server = start_compliance_server(tmp_path_factory.mktemp("home-erasure-s3"),
                                     extra_args=["--artifacts-destination",
                                                 f"s3://{bucket}/store"])
    yield server, bucket
    server.stop()


def test_erasure_on_s3_rewrites_the_objects_and_shreds_the_old_key(
    s3_server: tuple[Server, str], tmp_path: Path
) -> None:
    import boto3

    server, bucket = s3_server
    s3 = boto3.client("s3", endpoint_url=os.environ["MLFLOW_S3_ENDPOINT_URL"])
    person, run_id, request_id = _one_place(server, tmp_path)
    key = next(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]
               if o["Key"].endswith(f"{run_id}/artifacts/datasets/people/people.csv"))
    old = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    r = post(server, "subjects/erase", {"subject_id": person, "request_id": request_id,
                                        "dry_run": False})
    assert r.status_code == 200, r.text
    new = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert new != old and new[:4] == b"MLCE"
    assert r.json()["certificate"]["places"][0]["files"][0]["rows_removed"] == 1
    mlflow.set_tracking_uri(server.url)
    rows = rows_of(run_id, "people", tmp_path / "dl")
    assert person not in set(rows["email"]) and len(rows) == 1
    keyring = open_keyring(settings_of(server))
    try:
        with pytest.raises(ArtifactErased):
            keyring.key_for_reading(read_header(io.BytesIO(old)).key_id)
    finally:
        keyring.store.close()


def test_without_encryption_files_are_rewritten_in_place_and_the_limit_is_said(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    plain = start_compliance_server(tmp_path_factory.mktemp("home-erasure-plain"),
                                    env={"MLFLOW_ARTIFACT_ENCRYPTION": "false"})
    try:
        person, run_id, request_id = _one_place(plain, tmp_path)
        r = post(plain, "subjects/erase", {"subject_id": person, "request_id": request_id,
                                           "dry_run": False})
        assert r.status_code == 200, r.text
        certificate = r.json()["certificate"]
        assert certificate["artifacts_encrypted"] is False
        assert any(limit.startswith("no crypto-shredding") for limit in certificate["limits"])
        stored = next(iter(stored_files(plain, run_id).values()))
        assert person.encode() not in stored and b"email" in stored
        assert [f["rows_removed"] for f in certificate["places"][0]["files"]] == [1]
    finally:
        plain.stop()
