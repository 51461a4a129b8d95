"""Data subjects indexed when a dataset is logged, against a real compliance server on
SQLite and on PostgreSQL (and S3 on loopback): a plain user logs a personal-data dataset with
``log_dataset_with_compliance``; the server indexes its ids from the rows logged with it
before it answers, so an admin finds the person at once, at that place and nowhere
else; raw ids are stored nowhere; datasets that declare no personal data or no id
columns are not read; files logged later are indexed too; a file without a declared
column is a warning, never a failed write; logging again adds nothing."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest
import requests
import sqlalchemy

from mlflow_compliance import InvalidComplianceRecord, compliance_run, log_dataset_with_compliance
from mlflow_compliance.audit.log import AuditLog
from mlflow_compliance.testing import BIN, Server, start_compliance_server

CLI = str(BIN / "mlflow-compliance")
PASSWORD = "a long enough password"
DATASET = "customers"
RECORD = {
    "personal_data": True,
    "data_categories": ["contact details", "age"],
    "subject_id_columns": ["email"],
    "origin": "Collected from customer sign-up forms for the churn study",
}
RUN_RECORD = {"gdpr": {"personal_data": True}, "ai_act": {"risk_class": "minimal"}}


def ok(r: requests.Response) -> Any:
    assert r.status_code == 200, r.text
    return r.json()


def admin(server: Server, method: str, route: str, body: dict[str, Any]) -> Any:
    return ok(requests.request(method, f"{server.url}/api/2.0/{route}", json=body,
                               auth=server.auth, timeout=60))


def find(server: Server, subject_id: str) -> list[dict[str, str]]:
    answer = admin(server, "POST", "compliance/subjects/find", {"subject_id": subject_id})
    found: list[dict[str, str]] = answer["occurrences"]
    return found


@contextmanager
def acting_as(who: tuple[str, str]) -> Iterator[None]:
    """The MLflow client in this process signs in as ``who`` meanwhile."""
    keys = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")
    saved = {k: os.environ.get(k) for k in keys}
    os.environ.update(dict(zip(keys, who, strict=True)))
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        while mlflow.active_run():
            mlflow.end_run()


def people(tag: str, n: int, kind: str = "person") -> list[str]:
    return [f"{kind}-{i:03d}-{tag}@example.org" for i in range(n)]


def frame_of(emails: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"email": emails, "customer": range(len(emails)),
                         "age": [20 + i % 60 for i in range(len(emails))]})


@dataclass(frozen=True)
class World:
    server: Server
    user: tuple[str, str]
    experiment_id: str
    run_id: str
    digest: str
    emails: list[str]
    tag: str


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest) -> Iterator[World]:
    """A plain user with edit on their experiment and personal-data clearance, who
    logged a personal-data dataset of 40 people with ``log_dataset_with_compliance``."""
    server: Server = request.getfixturevalue(
        "server" if request.param == "sqlite" else "pg_server")
    tag = uuid.uuid4().hex[:8]
    user = (f"analyst-{tag}", PASSWORD)
    admin(server, "POST", "compliance/users/create",
          {"name": user[0], "password": PASSWORD, "role": "user",
           "clearances": ["personal-data"]})
    experiment_id = admin(server, "POST", "mlflow/experiments/create",
                          {"name": f"indexing-{tag}"})["experiment_id"]
    admin(server, "POST", "compliance/grants/set",
          {"name": user[0], "kind": "experiment", "target": experiment_id,
           "permission": "edit"})
    mlflow.set_tracking_uri(server.url)
    emails = people(tag, 40)
    with acting_as(user), compliance_run(RUN_RECORD, experiment_id=experiment_id) as run:
        log_dataset_with_compliance(mlflow.data.from_pandas(frame_of(emails), name=DATASET),
                                    RECORD)
    digest = mlflow.MlflowClient().get_run(run.info.run_id).inputs.dataset_inputs[0] \
        .dataset.digest
    yield World(server, user, experiment_id, run.info.run_id, digest, emails, tag)


def new_run(w: World) -> Any:
    return compliance_run(RUN_RECORD, experiment_id=w.experiment_id)


def index_rows(server: Server, run_id: str) -> int:
    uri = server.backend_store_uri or f"sqlite:///{server.home / 'mlflow.db'}"
    engine = sqlalchemy.create_engine(uri)
    try:
        with engine.connect() as c:
            return int(c.execute(sqlalchemy.text(
                "SELECT count(*) FROM compliance_subject_index WHERE run_id = :r"),
                {"r": run_id}).scalar_one())
    finally:
        engine.dispose()


def audit_entries(server: Server, action: str) -> list[dict[str, Any]]:
    log = AuditLog(server.audit_url(), server.home, None)
    try:
        return [{"status": e.status, **e.resources_dict()} for e in log.entries()
                if e.action == action]
    finally:
        log.close()


def test_a_person_of_a_logged_dataset_is_found_by_an_admin_at_its_place(world: World) -> None:
    env = {**os.environ, "MLFLOW_TRACKING_URI": world.server.url}
    done = subprocess.run([CLI, "subjects", "find", world.emails[7], "--format", "json",
                           "--no-lineage"], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)["occurrences"]
    assert [{k: o[k] for k in ("run_id", "experiment_id", "dataset_name", "dataset_digest",
                               "column")} for o in found] == [{
        "run_id": world.run_id, "experiment_id": world.experiment_id,
        "dataset_name": DATASET, "dataset_digest": world.digest, "column": "email"}]
    assert index_rows(world.server, world.run_id) == len(world.emails)


def test_a_person_not_in_the_dataset_is_found_nowhere(world: World) -> None:
    assert find(world.server, f"stranger-{world.tag}@example.org") == []
    assert len(find(world.server, world.emails[0])) == 1


def _rows_of_every_table(uri: str) -> Iterator[bytes]:
    engine = sqlalchemy.create_engine(uri)
    try:
        with engine.connect() as c:
            for table in sqlalchemy.inspect(engine).get_table_names():
                for row in c.execute(sqlalchemy.text(f'SELECT * FROM "{table}"')):
                    yield repr(tuple(row)).encode()
    finally:
        engine.dispose()


def test_the_raw_ids_are_nowhere_in_the_databases_or_the_logs(world: World) -> None:
    server = world.server
    raw = [e.encode() for e in world.emails[:5]]
    assert find(server, world.emails[3])  # a find, too, leaves no id behind
    looked: list[str] = []
    for path in server.home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            looked.append(path.name)
            for person in raw:
                assert person not in data, f"a subject id is in {path}"
    assert "server.log" in looked
    if server.backend_store_uri:  # PostgreSQL: tracking database and audit log alike
        for row in _rows_of_every_table(server.backend_store_uri):
            for person in raw:
                assert person not in row, "a subject id is in the PostgreSQL database"
    else:
        assert {"mlflow.db", "audit.db"} <= set(looked)
    # the rows were logged, encrypted at rest, in the dataset's folder of the run
    listed = mlflow.MlflowClient(server.url).list_artifacts(world.run_id, f"datasets/{DATASET}")
    assert [f.path for f in listed] == [f"datasets/{DATASET}/rows.csv"]


def test_a_dataset_without_personal_data_or_without_id_columns_is_not_indexed(
    world: World,
) -> None:
    plain, undeclared = people(world.tag, 5, "plain"), people(world.tag, 5, "undeclared")
    with acting_as(world.user), new_run(world) as run:
        log_dataset_with_compliance(
            mlflow.data.from_pandas(frame_of(plain), name="plain"),
            {"personal_data": False}, log_rows=True)
        log_dataset_with_compliance(
            mlflow.data.from_pandas(frame_of(undeclared), name="undeclared"),
            {"personal_data": True, "data_categories": ["contact details"]}, log_rows=True)
    client = mlflow.MlflowClient(world.server.url)
    for name in ("plain", "undeclared"):  # the rows are there, and were not read
        assert [f.path for f in client.list_artifacts(run.info.run_id, f"datasets/{name}")] \
            == [f"datasets/{name}/rows.csv"]
    assert find(world.server, plain[1]) == [] and find(world.server, undeclared[1]) == []
    assert index_rows(world.server, run.info.run_id) == 0


def test_files_logged_after_the_input_are_indexed_too(world: World, tmp_path: Path) -> None:
    first, later, columnar = (people(world.tag, 6, kind) for kind in ("first", "later", "pq"))
    with acting_as(world.user), new_run(world) as run:
        log_dataset_with_compliance(mlflow.data.from_pandas(frame_of(first), name=DATASET),
                                    RECORD, log_rows=False)
        assert index_rows(world.server, run.info.run_id) == 0  # metadata only, no rows
        frame_of(later).to_csv(tmp_path / "later.csv", index=False)
        mlflow.log_artifact(str(tmp_path / "later.csv"), artifact_path=f"datasets/{DATASET}")
        frame_of(columnar).to_parquet(tmp_path / "part-0.parquet", index=False)
        mlflow.log_artifact(str(tmp_path / "part-0.parquet"),
                            artifact_path=f"datasets/{DATASET}/parts")
    for person in (later[2], columnar[4]):
        assert [(o["run_id"], o["dataset_name"], o["column"])
                for o in find(world.server, person)] == [(run.info.run_id, DATASET, "email")]
    assert find(world.server, first[0]) == []  # never logged as rows
    assert index_rows(world.server, run.info.run_id) == 12


def test_a_declared_column_missing_from_the_file_is_a_warning_not_an_error(
    world: World,
) -> None:
    emails = people(world.tag, 4, "partial")
    record = {**RECORD, "subject_id_columns": ["email", "phone"]}
    with acting_as(world.user), new_run(world) as run:  # raises on any error answer
        log_dataset_with_compliance(mlflow.data.from_pandas(frame_of(emails), name="partial"),
                                    record)
    run_id = run.info.run_id
    # the column that is there is indexed all the same
    assert [o["column"] for o in find(world.server, emails[1])] == ["email"]
    warnings = [line for line in world.server.log.read_text().splitlines()
                if "subject indexing failed" in line and run_id in line]
    assert warnings and "WARNING" in warnings[0], warnings
    assert "'partial'" in warnings[0] and "rows.csv" in warnings[0] and "phone" in warnings[0]
    entries = [e for e in audit_entries(world.server, "run.inputs.log")
               if e.get("run_id") == run_id]
    assert entries and entries[-1]["status"] == 200
    assert str(entries[-1]["indexing"]).startswith("failed: ") and "phone" in \
        str(entries[-1]["indexing"])
    assert not any(e in world.server.log.read_text() for e in emails)


def test_logging_the_dataset_again_adds_nothing_twice(world: World) -> None:
    before = index_rows(world.server, world.run_id)
    frame = frame_of(world.emails)
    with acting_as(world.user), mlflow.start_run(run_id=world.run_id):
        log_dataset_with_compliance(mlflow.data.from_pandas(frame, name=DATASET), RECORD)
    assert index_rows(world.server, world.run_id) == before == len(world.emails)
    assert len(find(world.server, world.emails[5])) == 1


@pytest.mark.parametrize("name", ["../other", "a/b", "..", " padded", "x#y", "c:\\d"])
def test_a_dataset_name_that_is_no_folder_name_is_refused_before_anything_is_stored(
    server: Server, tracking: mlflow.MlflowClient, name: str
) -> None:
    frame = frame_of([f"refused-{uuid.uuid4().hex[:6]}@example.org"])
    with compliance_run(RUN_RECORD) as run, pytest.raises(InvalidComplianceRecord) as refused:
        log_dataset_with_compliance(mlflow.data.from_pandas(frame, name=name), RECORD)
    assert repr(name) in str(refused.value) and "dataset.name" in str(refused.value)
    stored = tracking.get_run(run.info.run_id)
    assert not stored.inputs.dataset_inputs and not tracking.list_artifacts(run.info.run_id)


def test_indexing_on_log_can_be_switched_off(tmp_path: Path) -> None:
    off = start_compliance_server(tmp_path / "home",
                                  env={"MLFLOW_COMPLIANCE_INDEX_ON_LOG": "false"})
    try:
        mlflow.set_tracking_uri(off.url)
        emails = people(uuid.uuid4().hex[:8], 3)
        with compliance_run(RUN_RECORD) as run:
            log_dataset_with_compliance(mlflow.data.from_pandas(frame_of(emails), name=DATASET),
                                        RECORD)
        assert mlflow.MlflowClient(off.url).list_artifacts(run.info.run_id, "datasets")
        assert find(off, emails[0]) == []
        assert index_rows(off, run.info.run_id) == 0
    finally:
        while mlflow.active_run():
            mlflow.end_run()
        off.stop()


def test_a_dataset_logged_to_s3_is_indexed_from_its_encrypted_object(
    tmp_path: Path, moto_server: object
) -> None:
    import boto3

    bucket = f"indexing-{uuid.uuid4().hex[:8]}"
    s3 = boto3.client("s3", endpoint_url=os.environ["MLFLOW_S3_ENDPOINT_URL"])
    s3.create_bucket(Bucket=bucket)
    on_s3 = start_compliance_server(tmp_path / "home", extra_args=[
        "--artifacts-destination", f"s3://{bucket}/store"])
    try:
        mlflow.set_tracking_uri(on_s3.url)
        emails = people(uuid.uuid4().hex[:8], 5, "s3")
        with compliance_run(RUN_RECORD) as run:
            log_dataset_with_compliance(mlflow.data.from_pandas(frame_of(emails), name=DATASET),
                                        RECORD)
        key = next(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]
                   if o["Key"].endswith(f"{run.info.run_id}/artifacts/datasets/{DATASET}/rows.csv"))
        stored = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert emails[0].encode() not in stored  # encrypted at rest
        assert [o["run_id"] for o in find(on_s3, emails[2])] == [run.info.run_id]
        assert index_rows(on_s3, run.info.run_id) == 5
    finally:
        while mlflow.active_run():
            mlflow.end_run()
        on_s3.stop()
