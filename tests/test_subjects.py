"""The data-subject index against a real compliance server: ids of a personal-data dataset
indexed from a CSV through the CLI, found again by one id (and nowhere else), never
stored raw (not in the tracking database, the audit log or the server log), under a key
of the keyring that is stored only wrapped; admins only; undeclared columns refused."""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import json
import os
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import requests
from sklearn.linear_model import LogisticRegression

from mlflow_compliance import compliance_run, log_dataset_with_compliance
from mlflow_compliance.encryption.keys.configure import open_keyring
from mlflow_compliance.settings import Settings
from mlflow_compliance.subjects.pseudonym import INDEX_KEY_SCOPE, normalise
from mlflow_compliance.testing import BIN, Server

CLI = str(BIN / "mlflow-compliance")
PEOPLE = 1000
DATASET = "customers"
RECORD = {
    "personal_data": True,
    "data_categories": ["contact details", "age"],
    "subject_id_columns": ["email"],
    "origin": "Collected from customer sign-up forms for the churn study",
}


def cli(server: Server, *args: str, auth: tuple[str, str] | None = None,
        stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MLFLOW_TRACKING_URI": server.url, "COLUMNS": "250"}
    if auth:
        env.update(MLFLOW_TRACKING_USERNAME=auth[0], MLFLOW_TRACKING_PASSWORD=auth[1])
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=300, env=env,
                          input=stdin)


def post(server: Server, route: str, body: dict[str, object],
         auth: tuple[str, str] | None = None) -> requests.Response:
    return requests.post(f"{server.url}/api/2.0/compliance/subjects/{route}", json=body,
                         auth=auth or server.auth, timeout=60)


@dataclass(frozen=True)
class Indexed:
    run_id: str
    experiment_id: str
    digest: str
    model: str
    emails: list[str]
    csv: Path
    output: str


@pytest.fixture(scope="module")
def indexed(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Indexed]:
    """A run that used a personal-data dataset and logged a registered model; the
    dataset's 1,000 e-mail addresses indexed from a CSV with the CLI."""
    tag = uuid.uuid4().hex[:8]
    emails = [f"person-{i:04d}-{tag}@example.org" for i in range(PEOPLE)]
    ages = np.random.default_rng(7).integers(18, 90, PEOPLE)
    frame = pd.DataFrame({"email": emails, "customer": range(PEOPLE), "age": ages})
    mlflow.set_tracking_uri(server.url)
    mlflow.set_experiment(f"subjects-{tag}")
    name = f"churn-{tag}"
    with compliance_run({"gdpr": {"personal_data": True},
                         "ai_act": {"risk_class": "minimal"}}) as run:
        log_dataset_with_compliance(mlflow.data.from_pandas(frame, name=DATASET), RECORD)
        fitted = LogisticRegression().fit(frame[["age"]], frame["age"] > 50)
        mlflow.sklearn.log_model(fitted, name="model", registered_model_name=name)
    mlflow.tracking.fluent._active_experiment_id = None
    os.environ.pop("MLFLOW_EXPERIMENT_ID", None)
    digest = mlflow.MlflowClient().get_run(run.info.run_id).inputs.dataset_inputs[0] \
        .dataset.digest
    path = tmp_path_factory.mktemp("subjects") / "customers.csv"
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["customer", "email"])
        writer.writerows([i, e] for i, e in enumerate(emails))
    done = cli(server, "subjects", "index", "--run", run.info.run_id, "--dataset", DATASET,
               "--file", str(path), "--id-column", "email")
    assert done.returncode == 0, done.stderr
    yield Indexed(run.info.run_id, run.info.experiment_id, digest, name, emails, path,
                  done.stdout)


def files_of(home: Path) -> Iterator[tuple[Path, bytes]]:
    for path in home.rglob("*"):
        if path.is_file():
            yield path, path.read_bytes()


def test_an_indexed_id_is_found_in_exactly_its_run_and_dataset(
    server: Server, indexed: Indexed
) -> None:
    assert f"indexed {PEOPLE} ids" in indexed.output
    person = indexed.emails[42]
    done = cli(server, "subjects", "find", person, "--format", "json")
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)["occurrences"]
    assert [{k: o[k] for k in ("run_id", "experiment_id", "dataset_name", "dataset_digest",
                               "column")} for o in found] == [{
        "run_id": indexed.run_id, "experiment_id": indexed.experiment_id,
        "dataset_name": DATASET, "dataset_digest": indexed.digest, "column": "email"}]
    # what follows from it: the run's logged model and the version registered from it
    assert found[0]["downstream"]["model_version"] == [f"{indexed.model}/1"]
    assert len(found[0]["downstream"]["logged_model"]) == 1
    # the same person typed with blanks around, or read from standard input
    again = post(server, "find", {"subject_id": f"  {person}\n"})
    assert again.status_code == 200 and len(again.json()["occurrences"]) == 1
    piped = cli(server, "subjects", "find", "-", "--no-lineage", stdin=person + "\n")
    assert piped.returncode == 0 and indexed.run_id in piped.stdout
    assert person not in piped.stdout and "the subject" in piped.stdout


def test_an_id_not_indexed_is_found_nowhere(server: Server, indexed: Indexed) -> None:
    stranger = indexed.emails[0].replace("person-0000", "stranger")
    done = cli(server, "subjects", "find", stranger, "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"occurrences": []}
    table = cli(server, "subjects", "find", stranger)
    assert table.returncode == 0 and "no indexed dataset" in table.stdout
    assert stranger not in table.stdout + table.stderr


def test_indexing_again_adds_nothing(server: Server, indexed: Indexed) -> None:
    batch = {"run_id": indexed.run_id, "dataset_name": DATASET, "column": "email",
             "ids": indexed.emails[:10]}
    assert post(server, "index", batch).json()["indexed"] == 10
    found = post(server, "find", {"subject_id": indexed.emails[3]}).json()["occurrences"]
    assert len(found) == 1


def test_the_raw_id_is_stored_nowhere_and_the_index_key_only_wrapped(
    server: Server, indexed: Indexed
) -> None:
    # requests for it, found and not found, have been made above (and now)
    person = indexed.emails[42]
    assert post(server, "find", {"subject_id": person}).status_code == 200
    keyring = open_keyring(Settings.from_env(server.home))
    try:
        row = keyring.store.by_scope(INDEX_KEY_SCOPE)
        assert row is not None and row.wrapped is not None and row.kek_id
        key = keyring.key_for_reading(row.id)
    finally:
        keyring.store.close()
    secrets = [key, key.hex().encode(), base64.b64encode(key), base64.urlsafe_b64encode(key)]
    looked = 0
    for path, data in files_of(server.home):
        looked += 1
        for raw in (person, indexed.emails[7], indexed.emails[1]):
            assert raw.encode() not in data, f"a subject id is in {path}"
        for secret in secrets:
            assert secret not in data, f"the index key is in plaintext in {path}"
    assert looked >= 3  # the tracking database, the audit database, the server log
    # the index holds the keyed hash of the id, under that key
    pseudonym = hmac.new(key, normalise(person).encode(), hashlib.sha256).digest()
    with sqlite3.connect(server.home / "mlflow.db") as db:
        rows = db.execute("SELECT run_id, id_column FROM compliance_subject_index "
                          "WHERE pseudonym = ?", (pseudonym,)).fetchall()
        unkeyed = hashlib.sha256(person.encode()).digest()
        assert db.execute("SELECT count(*) FROM compliance_subject_index WHERE pseudonym = ?",
                          (unkeyed,)).fetchone() == (0,)
    assert rows == [(indexed.run_id, "email")]
    audit = (server.home / "audit.db").read_bytes()
    assert b"subject.find" in audit and b"subject.index" in audit


def test_only_admins_reach_the_index(server: Server, indexed: Indexed) -> None:
    name, password = f"u-{uuid.uuid4().hex[:8]}", "a long enough password"
    r = requests.post(f"{server.url}/api/2.0/compliance/users/create", auth=server.auth,
                      json={"name": name, "password": password}, timeout=30)
    assert r.status_code == 200, r.text
    who = (name, password)
    assert post(server, "find", {"subject_id": indexed.emails[1]}, who).status_code == 403
    batch = {"run_id": indexed.run_id, "dataset_name": DATASET, "column": "email",
             "ids": ["someone@example.org"]}
    assert post(server, "index", batch, who).status_code == 403
    done = cli(server, "subjects", "find", indexed.emails[1], auth=who)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert indexed.emails[1] not in done.stderr


@pytest.mark.parametrize(("change", "field"), [
    ({"column": "customer"}, "column"),
    ({"dataset_name": "no-such-dataset"}, "dataset_name"),
    ({"dataset_digest": "0000"}, "dataset_digest"),
    ({"run_id": "0" * 32}, "run_id"),
    ({"ids": "someone@example.org"}, "ids"),
    ({"ids": ["fine@example.org", 7]}, "ids[1]"),
    ({"ids": ["x"] * 10_001}, "ids"),
])
def test_a_place_the_record_does_not_declare_is_refused(
    server: Server, indexed: Indexed, change: dict[str, object], field: str
) -> None:
    batch = {"run_id": indexed.run_id, "dataset_name": DATASET, "column": "email",
             "ids": ["someone@example.org"], **change}
    r = post(server, "index", batch)
    assert r.status_code == 400, r.text
    assert r.json()["message"].startswith(f"{field}:"), r.text
    assert "someone@example.org" not in r.text


def test_a_dataset_without_personal_data_is_refused(server: Server) -> None:
    mlflow.set_tracking_uri(server.url)
    frame = pd.DataFrame({"email": ["a@example.org"], "x": [1]})
    with compliance_run({"gdpr": {"personal_data": False},
                         "ai_act": {"risk_class": "minimal"}}) as run:
        log_dataset_with_compliance(mlflow.data.from_pandas(frame, name="plain"),
                                    {"personal_data": False})
    r = post(server, "index", {"run_id": run.info.run_id, "dataset_name": "plain",
                               "column": "email", "ids": []})
    assert r.status_code == 400 and r.json()["message"].startswith("dataset_name:"), r.text


def test_bad_usage_is_exit_2_in_one_line(server: Server, indexed: Indexed,
                                         tmp_path: Path) -> None:
    missing = cli(server, "subjects", "index", "--dataset", DATASET, "--file",
                  str(indexed.csv), "--id-column", "email")
    assert missing.returncode == 2 and "--run" in missing.stderr
    empty = cli(server, "subjects", "find", "  ")
    assert empty.returncode == 2 and empty.stderr.count("\n") == 1
    wrong_column = cli(server, "subjects", "index", "--run", indexed.run_id, "--dataset",
                       DATASET, "--file", str(indexed.csv), "--id-column", "mail")
    assert wrong_column.returncode == 2 and wrong_column.stderr.count("\n") == 1
    assert "--id-column" in wrong_column.stderr
    undeclared = cli(server, "subjects", "index", "--run", indexed.run_id, "--dataset",
                     DATASET, "--file", str(indexed.csv), "--id-column", "customer")
    assert undeclared.returncode == 2 and undeclared.stderr.startswith("Error: column:")
    assert undeclared.stderr.count("\n") == 1


def test_the_index_works_on_postgresql(pg_server: Server) -> None:
    mlflow.set_tracking_uri(pg_server.url)
    tag = uuid.uuid4().hex[:8]
    people = [f"pg-{i}-{tag}@example.org" for i in range(3)]
    frame = pd.DataFrame({"email": people, "age": [30, 40, 50]})
    with compliance_run({"gdpr": {"personal_data": True},
                         "ai_act": {"risk_class": "minimal"}}) as run:
        log_dataset_with_compliance(mlflow.data.from_pandas(frame, name=DATASET), RECORD)
    batch = {"run_id": run.info.run_id, "dataset_name": DATASET, "column": "email",
             "ids": people + people[:1]}
    for _ in range(2):  # again: nothing added
        r = post(pg_server, "index", batch)
        assert r.status_code == 200 and r.json()["indexed"] == 3, r.text
    found = post(pg_server, "find", {"subject_id": people[1]}).json()["occurrences"]
    assert [(o["run_id"], o["column"]) for o in found] == [(run.info.run_id, "email")]
    assert post(pg_server, "find", {"subject_id": "nobody@example.org"}).json() == {
        "occurrences": []}
