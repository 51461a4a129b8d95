"""The access report (GDPR Art. 15) against a real compliance server, on SQLite and
PostgreSQL: a person in the datasets of two runs (a CSV and a Parquet file logged under
``datasets/<name>/``, encrypted at rest) is reported in exactly those two places, with
their own rows and no one else's, the record's answers letter by letter, the model
version made from one run and their request in the register; the CLI writes JSON,
Markdown and HTML (escaped) 0600 in a 0700 folder; the privacy role may ask, a plain
user may not; the id is in neither the server log nor the audit log."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest
import requests
import sqlalchemy as sa
from sklearn.linear_model import LogisticRegression

from mlflow_compliance import compliance_run, log_dataset_with_compliance
from mlflow_compliance.subjects.pseudonym import normalise
from mlflow_compliance.testing import BIN, Server

CLI = str(BIN / "mlflow-compliance")
RUN_RECORD = {"gdpr": {"personal_data": True, "purpose": "Predict churn of customers",
                       "lawful_basis": "legitimate_interests", "retention_period": "P2Y",
                       "data_categories": ["contact details"],
                       "recipients": ["payment processor", "credit bureau"]},
              "ai_act": {"risk_class": "minimal"}}
DATASET_RECORD = {"personal_data": True, "data_categories": ["contact details", "age"],
                  "subject_id_columns": ["email"],
                  "origin": "Collected from customer sign-up forms"}
NOTE = "said <script>alert(1)</script>, then \"left\"\non a second line"


def post(server: Server, route: str, body: dict[str, Any],
         auth: tuple[str, str] | None = None) -> requests.Response:
    return requests.post(f"{server.url}/api/2.0/compliance/{route}", json=body,
                         auth=auth or server.auth, timeout=120)


def cli(server: Server, *args: str, auth: tuple[str, str] | None = None,
        stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MLFLOW_TRACKING_URI": server.url}
    if auth:
        env.update(MLFLOW_TRACKING_USERNAME=auth[0], MLFLOW_TRACKING_PASSWORD=auth[1])
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=300, env=env,
                          input=stdin)


def user(server: Server, role: str) -> tuple[str, str]:
    name, password = f"{role}-{uuid.uuid4().hex[:8]}", "a long enough password"
    r = post(server, "users/create", {"name": name, "password": password, "role": role})
    assert r.status_code == 200, r.text
    return name, password


@dataclass(frozen=True)
class World:
    server: Server
    person: str
    other: str
    csv_run: str
    parquet_run: str
    elsewhere_run: str
    model: str


def _run(frame: pd.DataFrame, name: str, file: Path, model: str | None = None) -> str:
    """A run that used ``frame`` as dataset ``name``, its rows logged as ``file`` under
    datasets/<name>/; with ``model``, a registered model version with alias candidate."""
    with compliance_run(RUN_RECORD) as run:
        mlflow.log_artifact(str(file), artifact_path=f"datasets/{name}")
        log_dataset_with_compliance(mlflow.data.from_pandas(frame, name=name),
                                    DATASET_RECORD, log_rows=False)
        if model:
            fitted = LogisticRegression().fit(frame[["age"]], frame["age"] > 40)
            mlflow.sklearn.log_model(fitted, name="model", registered_model_name=model)
    run_id: str = run.info.run_id
    return run_id


def _index(server: Server, run_id: str, name: str, ids: list[str]) -> None:
    r = post(server, "subjects/index", {"run_id": run_id, "dataset_name": name,
                                        "column": "email", "ids": ids})
    assert r.status_code == 200, r.text


def _world(server: Server, folder: Path) -> World:
    tag = uuid.uuid4().hex[:8]
    person, other = f"ana-{tag}@example.org", f"bob-{tag}@example.org"
    mlflow.set_tracking_uri(server.url)
    mlflow.set_experiment(f"report-{tag}")
    a = pd.DataFrame({"email": [person, other, f" {person} ", f"carl-{tag}@example.org"],
                      "age": [31, 45, 31, 52], "note": [NOTE, "bob's", "again", "carl's"]})
    a.to_csv(folder / "customers.csv", index=False)
    b = pd.DataFrame({"email": [other, person], "age": [45, 31], "note": ["b2", "a2"]})
    b.to_parquet(folder / "part-0.parquet")
    c = pd.DataFrame({"email": [other], "age": [45], "note": ["only bob"]})
    c.to_csv(folder / "others.csv", index=False)
    model = f"churn-{tag}"
    csv_run = _run(a, "customers", folder / "customers.csv", model)
    parquet_run = _run(b, "customers-b", folder / "part-0.parquet")
    elsewhere_run = _run(c, "others", folder / "others.csv")
    mlflow.tracking.fluent._active_experiment_id = None
    os.environ.pop("MLFLOW_EXPERIMENT_ID", None)
    mlflow.MlflowClient().set_registered_model_alias(model, "candidate", "1")
    _index(server, csv_run, "customers", [normalise(e) for e in a["email"]])
    _index(server, parquet_run, "customers-b", list(b["email"]))
    _index(server, elsewhere_run, "others", list(c["email"]))
    r = post(server, "subjects/requests/create", {"kind": "access", "subject_id": person,
                                                  "received_on": "2026-01-31"})
    assert r.status_code == 200, r.text
    return World(server, person, other, csv_run, parquet_run, elsewhere_run, model)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    server = request.getfixturevalue("server" if request.param == "sqlite" else "pg_server")
    yield _world(server, tmp_path_factory.mktemp(f"report-{request.param}"))


@pytest.fixture(scope="module")
def report(world: World) -> dict[str, object]:
    r = post(world.server, "subjects/report", {"subject_id": f" {world.person}\n"})
    assert r.status_code == 200, r.text
    answer: dict[str, object] = r.json()
    return answer


def test_the_person_is_reported_in_both_places_and_nowhere_else(
    world: World, report: dict
) -> None:
    assert report["found"] is True and report["subject"] == "the subject"
    places = {(p["run_id"], p["dataset_name"]) for p in report["places"]}
    assert places == {(world.csv_run, "customers"), (world.parquet_run, "customers-b")}
    assert report["problems"] == []


def test_their_rows_and_only_theirs_are_copied(world: World, report: dict) -> None:
    by_run = {p["run_id"]: p for p in report["places"]}
    csv_files = by_run[world.csv_run]["files"]
    assert [f["path"] for f in csv_files] == ["datasets/customers/customers.csv"]
    assert csv_files[0]["rows"] == [
        {"email": world.person, "age": "31", "note": NOTE},
        {"email": f" {world.person} ", "age": "31", "note": "again"}]
    parquet_files = by_run[world.parquet_run]["files"]
    assert parquet_files == [{"path": "datasets/customers-b/part-0.parquet",
                              "rows": [{"email": world.person, "age": "31", "note": "a2"}]}]
    assert by_run[world.csv_run]["rows"] == 2 and report["answers"]["15(3)"]["rows"] == 3
    assert world.other not in json.dumps(report)


def test_the_record_answers_each_letter_and_says_what_is_not_declared(
    world: World, report: dict
) -> None:
    answers = report["answers"]
    purposes = {(i["run_id"], i["field"]): i["value"] for i in answers["15(1)(a)"]["items"]}
    assert purposes[(world.csv_run, "compliance.gdpr.purpose")] == "Predict churn of customers"
    assert purposes[(world.csv_run, "compliance.gdpr.lawful_basis")] == "legitimate_interests"
    categories = [i for i in answers["15(1)(b)"]["items"]
                  if i["field"] == "compliance.gdpr.data_categories"]
    assert ["contact details", "age"] in [i["value"] for i in categories]
    retention = {i["field"]: i for i in answers["15(1)(d)"]["items"]
                 if i["run_id"] == world.parquet_run}
    assert retention["compliance.gdpr.retention_period"]["value"] == "P2Y"
    assert retention["compliance.gdpr.retention_until"]["value"] is None
    assert "GDPR Art. 15(1)(d) needs it" in retention["compliance.gdpr.retention_until"][
        "missing"]
    recipients = {i["run_id"]: i["value"] for i in answers["15(1)(c)"]["items"]}
    assert recipients[world.csv_run] == ["payment processor", "credit bureau"]
    automated = {i["field"]: i for i in answers["15(1)(h)"]["items"]
                 if i["run_id"] == world.csv_run}
    assert automated["compliance.gdpr.automated_decisions"]["value"] is None
    assert "GDPR Art. 15(1)(h) needs it" in automated["compliance.gdpr.automated_decisions"][
        "missing"]
    assert automated["compliance.ai_act.risk_class"]["value"] == "minimal"
    origins = {i["dataset_name"]: i["value"] for i in answers["15(1)(g)"]["items"]}
    assert origins == {"customers": "Collected from customer sign-up forms",
                       "customers-b": "Collected from customer sign-up forms"}
    assert [r["right"] for r in answers["15(1)(e)"]["rights"]] == [
        "rectification", "erasure", "restriction", "objection"]
    assert "Art. 77" in answers["15(1)(f)"]["value"]
    transfers = [i for i in answers["15(2)"]["items"]
                 if i["field"] == "compliance.gdpr.transfers_outside_eu"]
    assert len(transfers) == 2 and all(i["value"] is None for i in transfers)


def test_what_was_made_from_the_runs_and_the_requests(world: World, report: dict) -> None:
    by_run = {p["run_id"]: p["made_from_it"] for p in report["places"]}
    versions = by_run[world.csv_run]["model_versions"]
    assert [(v["name"], v["version"], v["aliases"]) for v in versions] == [
        (world.model, "1", ["candidate"])]
    assert len(by_run[world.csv_run]["logged_models"]) == 1
    assert by_run[world.parquet_run] == {"logged_models": [], "model_versions": []}
    assert [(r["kind"], r["received_on"], r["deadline"]) for r in report["requests"]] == [
        ("access", "2026-01-31", "2026-02-28")]


def test_a_stranger_is_found_nowhere(world: World) -> None:
    r = post(world.server, "subjects/report", {"subject_id": "nobody-at-all@example.org"})
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["found"] is False and answer["places"] == [] and answer["requests"] == []
    assert answer["answers"]["15(1)(a)"]["items"] == []


def _without_rows(report: dict) -> dict:
    copy = json.loads(json.dumps(report))
    for place in copy["places"]:
        for file in place["files"]:
            file["rows"] = len(file["rows"])
    return copy


def test_the_cli_writes_three_private_files_with_the_id_only_in_the_rows(
    world: World, tmp_path: Path
) -> None:
    out = tmp_path / "answer" / "to-the-subject"
    who = user(world.server, "privacy")
    done = cli(world.server, "subjects", "report", "-", "-o", str(out), auth=who,
               stdin=world.person + "\n")
    assert done.returncode == 0, done.stderr
    assert world.person not in done.stdout + done.stderr
    assert "found in 2 dataset(s), 3 row(s)" in done.stdout
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    names = sorted(p.name for p in out.iterdir())
    assert names == ["access-report.html", "access-report.json", "access-report.md"]
    for path in out.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    report = json.loads((out / "access-report.json").read_text())
    assert len(report["places"]) == 2
    assert world.person not in json.dumps(_without_rows(report))
    markdown = (out / "access-report.md").read_text()
    assert "## GDPR Art. 15(1)(a): The purposes of the processing" in markdown
    assert "## GDPR Art. 15(1)(h)" in markdown and "## What was made from the data" in markdown
    assert f"model version {world.model.replace('-', '-')} v1" in markdown
    mentions = [line for line in markdown.splitlines() if world.person in line]
    assert len(mentions) == 3 and all(line.startswith("| ") for line in mentions)
    assert "<script>" not in markdown
    page = (out / "access-report.html").read_text()
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count(world.person) == 3
    for piece in page.split(world.person)[:-1]:  # each mention is inside a table cell
        assert piece.rsplit("<", 1)[-1].startswith("td>")
    only_json = cli(world.server, "subjects", "report", world.person, "-o",
                    str(tmp_path / "json"), "--format", "json")
    assert only_json.returncode == 0, only_json.stderr
    assert [p.name for p in (tmp_path / "json").iterdir()] == ["access-report.json"]


def test_the_privacy_role_may_ask_and_a_plain_user_may_not(world: World,
                                                           tmp_path: Path) -> None:
    privacy = user(world.server, "privacy")
    assert post(world.server, "subjects/report", {"subject_id": world.person},
                privacy).status_code == 200
    plain = user(world.server, "user")
    r = post(world.server, "subjects/report", {"subject_id": world.person}, plain)
    assert r.status_code == 403 and world.person not in r.text
    done = cli(world.server, "subjects", "report", world.person, "-o", str(tmp_path / "x"),
               auth=plain)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert world.person not in done.stderr and not (tmp_path / "x").exists()


@pytest.mark.parametrize(("body", "field"), [
    ({}, "subject_id"), ({"subject_id": "  "}, "subject_id"), ({"subject_id": 7}, "subject_id"),
    ({"subject_id": "x" * 1001}, "subject_id")])
def test_bad_requests_are_refused_naming_the_field(world: World, body: dict,
                                                   field: str) -> None:
    r = post(world.server, "subjects/report", body)
    assert r.status_code == 400 and r.json()["message"].startswith(f"{field}:"), r.text


def test_the_id_is_in_neither_the_server_log_nor_the_audit_log(world: World,
                                                               report: dict) -> None:
    assert report["found"]  # the report was asked for (and the CLI ran above)
    assert world.person.encode() not in world.server.log.read_bytes()
    engine = sa.create_engine(world.server.audit_url())
    try:
        with engine.connect() as c:
            rows = c.execute(sa.text("SELECT * FROM compliance_audit_entries")).all()
    finally:
        engine.dispose()
    text = "\n".join(str(tuple(row)) for row in rows)
    assert "subject.report" in text
    assert world.person not in text and world.person.encode().hex() not in text
