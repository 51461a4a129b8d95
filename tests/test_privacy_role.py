"""The ``privacy`` role against a real compliance server (SQLite and PostgreSQL): a data
protection officer (GDPR Art. 37-39) answers data subjects through the index and the
request register and reads every run, personal data included, but writes no MLflow
data and administers nothing; plain users and auditors do not reach the index."""

from __future__ import annotations

import os
import subprocess
import uuid
from dataclasses import dataclass
from typing import Any

import mlflow
import pandas as pd
import pytest
import requests

from mlflow_compliance import compliance_run, log_dataset_with_compliance
from mlflow_compliance.testing import BIN, Server

CLI = str(BIN / "mlflow-compliance")
PASSWORD = "a long enough password"
DATASET = "patients"


def call(server: Server, method: str, route: str, who: tuple[str, str],
         body: dict[str, Any] | None = None,
         params: dict[str, str] | None = None) -> requests.Response:
    return requests.request(method, f"{server.url}/api/2.0/{route}", json=body,
                            params=params, auth=who, timeout=60)


def create_user(server: Server, role: str, clearances: tuple[str, ...] = ()) -> tuple[str, str]:
    """With the CLI, as an admin would."""
    name = f"{role}-{uuid.uuid4().hex[:8]}"
    args = [CLI, "users", "create", name, "--password", PASSWORD, "--role", role]
    for clearance in clearances:
        args += ["--clearance", clearance]
    env = {**os.environ, "MLFLOW_TRACKING_URI": server.url}
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"({role})" in done.stdout
    return name, PASSWORD


@dataclass(frozen=True)
class World:
    server: Server
    officer: tuple[str, str]
    auditor: tuple[str, str]
    plain: tuple[str, str]
    experiment_id: str
    run_id: str
    person: str


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest) -> World:
    """An admin's experiment with a personal-data run that used a dataset of people; a
    privacy officer, an auditor and a plain user (cleared for personal data) beside."""
    server: Server = request.getfixturevalue(
        "server" if request.param == "sqlite" else "pg_server")
    tag = uuid.uuid4().hex[:8]
    person = f"patient-1-{tag}@example.org"
    mlflow.set_tracking_uri(server.url)
    experiment_id = mlflow.MlflowClient(server.url).create_experiment(f"clinic-{tag}")
    frame = pd.DataFrame({"email": [person, f"patient-2-{tag}@example.org"], "age": [40, 50]})
    with compliance_run({"gdpr": {"personal_data": True}, "ai_act": {"risk_class": "minimal"}},
                        experiment_id=experiment_id) as run:
        log_dataset_with_compliance(
            mlflow.data.from_pandas(frame, name=DATASET),
            {"personal_data": True, "data_categories": ["contact details"],
             "subject_id_columns": ["email"]})
    return World(server, create_user(server, "privacy"), create_user(server, "auditor"),
                 create_user(server, "user", ("personal-data",)), experiment_id,
                 run.info.run_id, person)


def subject_calls(w: World) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [
        ("POST", "compliance/subjects/find", {"subject_id": w.person}),
        ("POST", "compliance/subjects/index", {"run_id": w.run_id, "dataset_name": DATASET,
                                               "column": "email", "ids": [w.person]}),
        ("GET", "compliance/subjects/requests/list", None),
    ]


def test_the_privacy_role_may_find_index_and_list_requests(world: World) -> None:
    for method, route, body in subject_calls(world):
        r = call(world.server, method, route, world.officer, body)
        assert r.status_code == 200, (route, r.text)
    found = call(world.server, "POST", "compliance/subjects/find", world.officer,
                 {"subject_id": world.person}).json()["occurrences"]
    assert [(o["run_id"], o["dataset_name"]) for o in found] == [(world.run_id, DATASET)]
    assert "requests" in call(world.server, "GET", "compliance/subjects/requests/list",
                              world.officer).json()


def test_the_privacy_role_reads_others_runs_personal_data_included(world: World) -> None:
    r = call(world.server, "GET", "mlflow/runs/get", world.officer,
             params={"run_id": world.run_id})
    assert r.status_code == 200, r.text
    assert r.json()["run"]["data"]["tags"]
    tags = {t["key"]: t["value"] for t in r.json()["run"]["data"]["tags"]}
    assert tags["compliance.gdpr.personal_data"] == "true"
    found = call(world.server, "POST", "mlflow/runs/search", world.officer,
                 {"experiment_ids": [world.experiment_id]})
    assert [run["info"]["run_id"] for run in found.json()["runs"]] == [world.run_id]
    listed = call(world.server, "GET", "mlflow/artifacts/list", world.officer,
                  params={"run_id": world.run_id, "path": f"datasets/{DATASET}"})
    assert listed.status_code == 200, listed.text


def test_the_privacy_role_writes_no_mlflow_data(world: World) -> None:
    r = call(world.server, "POST", "mlflow/runs/create", world.officer,
             {"experiment_id": world.experiment_id})
    assert r.status_code == 403, r.text
    assert "the privacy role only reads" in r.json()["message"]
    tag = call(world.server, "POST", "mlflow/runs/set-tag", world.officer,
               {"run_id": world.run_id, "key": "note", "value": "x"})
    assert tag.status_code == 403 and "only reads" in tag.json()["message"]


@pytest.mark.parametrize(("route", "body"), [
    ("compliance/users/create", {"name": "someone-else", "password": PASSWORD}),
    ("compliance/retention/apply", {"run_id": "0" * 32}),
    ("compliance/runs/purge", {"run_id": "0" * 32}),
    ("compliance/grants/set", {"name": "someone-else", "kind": "experiment", "target": "0",
                               "permission": "read"}),
    ("compliance/tokens/create", {"name": "someone-else"}),
])
def test_the_privacy_role_administers_nothing(world: World, route: str,
                                              body: dict[str, Any]) -> None:
    r = call(world.server, "POST", route, world.officer, body)
    assert r.status_code == 403, r.text
    assert r.json()["error_code"] == "PERMISSION_DENIED"


@pytest.mark.parametrize("who", ["plain", "auditor"])
def test_plain_users_and_auditors_do_not_reach_the_index(world: World, who: str) -> None:
    principal = world.plain if who == "plain" else world.auditor
    for method, route, body in subject_calls(world):
        r = call(world.server, method, route, principal, body)
        assert r.status_code == 403, (route, r.text)
        assert r.json()["error_code"] == "PERMISSION_DENIED"
        assert world.person not in r.text
