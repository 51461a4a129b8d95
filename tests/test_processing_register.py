"""The GDPR Art. 30(1) record of processing activities against a real compliance server:
one activity per purpose over the runs that declare personal data, their declarations
merged, gaps named with the Art. 30(1) letter, conflicts between runs reported, only
what the caller may read; CSV and ODS with the CNIL template's columns."""

from __future__ import annotations

import csv
import io
import json
import stat
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pytest
import requests
from click.testing import CliRunner, Result
from mlflow.entities import Dataset, DatasetInput, InputTag
from odf.opendocument import load
from odf.table import Table, TableCell, TableRow
from odf.teletype import extractText
from odf.text import P

from mlflow_compliance.cli.report_register import processing_register
from mlflow_compliance.testing import Server

CNIL_COLUMNS = [
    "Reference", "Name of the processing activity", "Controller", "Data protection officer",
    "Representative", "Joint controllers", "Purpose(s) of the processing",
    "Security measures", "Categories of personal data concerned", "Sensitive data",
    "Categories of data subjects", "Recipients", "Transfers outside the EU",
    "Retention periods",
]
CONTROLLER = "Acme Bank SA, privacy@acme.example"
DPO = "Data protection officer, dpo@acme.example"
RECIPIENTS_GAP = "not declared by any run: compliance.gdpr.recipients, Art. 30(1)(d)"


@dataclass
class World:
    scoring: str  # the purpose of two runs in `lending`
    rota: str  # the purpose of one run in `staff`
    weather: str  # a run without personal data
    lending: str  # experiment ids
    staff: str


def personal(purpose: str, **more: str) -> dict[str, str]:
    return {"compliance.gdpr.personal_data": "true", "compliance.ai_act.risk_class": "minimal",
            "compliance.gdpr.purpose": purpose, "compliance.gdpr.controller_contact": CONTROLLER,
            **{f"compliance.gdpr.{k}": v for k, v in more.items()}}


@pytest.fixture(scope="module")
def world(server: Server) -> World:
    token = uuid.uuid4().hex[:8]
    client = mlflow.MlflowClient(server.url)
    w = World(
        scoring=f"Scoring loan applications for credit risk {token}",
        rota=f"Forecasting staff rota demand from shift histories {token}",
        weather=f"Tuning a weather model on public station data {token}",
        lending=client.create_experiment(f"lending-{token}"),
        staff=client.create_experiment(f"staff-{token}"),
    )
    client.create_run(w.lending, tags=personal(
        w.scoring, lawful_basis="contract", dpo_contact=DPO,
        data_subject_categories="customers", data_categories="contact details,financial",
        recipients="credit bureau", transfers_outside_eu="true",
        transfer_safeguard="standard_contractual_clauses", retention_period="P1Y"))
    # the same purpose spelled otherwise: the same activity
    second = client.create_run(w.lending, tags=personal(
        "  scoring LOAN applications for   credit risk " + token, lawful_basis="contract",
        data_subject_categories="Customers", data_categories="income",
        recipients="payment processor", transfers_outside_eu="true",
        transfer_safeguard="standard_contractual_clauses", retention_period="P5Y"))
    client.log_inputs(second.info.run_id, datasets=[DatasetInput(
        Dataset(name="applications", digest="d1", source_type="local",
                source="file:///data/applications.csv"),
        tags=[InputTag("mlflow.data.context", "training"),
              InputTag("compliance.gdpr.personal_data", "true"),
              InputTag("compliance.gdpr.data_categories", "location")])])
    client.create_run(w.lending, tags={
        "compliance.gdpr.personal_data": "false", "compliance.ai_act.risk_class": "minimal",
        "compliance.gdpr.purpose": w.weather})
    client.create_run(w.staff, tags=personal(
        w.rota, lawful_basis="legitimate_interests", data_subject_categories="employees",
        data_categories="work schedules", transfers_outside_eu="false",
        retention_until="2030-12-31"))
    return w


def run_cli(server: Server, *args: str, auth: tuple[str, str] | None = None) -> Result:
    user, password = auth or server.auth or ("", "")
    env = {"MLFLOW_TRACKING_URI": server.url, "MLFLOW_TRACKING_USERNAME": user,
           "MLFLOW_TRACKING_PASSWORD": password}
    return CliRunner().invoke(processing_register, list(args), env=env, catch_exceptions=False)


def register(server: Server, w: World, *args: str) -> dict[str, Any]:
    result = run_cli(server, "--experiment", w.lending, "--experiment", w.staff, *args)
    assert result.exit_code == 0, result.output
    loaded: dict[str, Any] = json.loads(result.stdout)
    return loaded


def by_purpose(found: dict[str, Any]) -> dict[str | None, dict[str, Any]]:
    return {a["purpose"]: a for a in found["activities"]}


def test_one_activity_per_purpose_with_the_runs_declarations_merged(
    server: Server, world: World
) -> None:
    found = register(server, world)
    activities = by_purpose(found)
    assert set(activities) == {world.scoring, world.rota}
    assert found["runs_read"] == 4 and found["runs_with_personal_data"] == 3
    scoring = activities[world.scoring]
    assert scoring["runs"] == 2
    assert [(e["id"], e["runs"]) for e in scoring["experiments"]] == [(world.lending, 2)]
    assert scoring["controller_contacts"] == [CONTROLLER]
    assert scoring["dpo_contacts"] == [DPO]
    assert scoring["lawful_bases"] == [{"basis": "contract", "article": "GDPR Art. 6(1)(b)"}]
    # one category, case aside: the spelling first in sort order when as many runs use each
    assert scoring["data_subject_categories"] == ["Customers"]
    # the runs' and the dataset input's categories, merged
    assert scoring["data_categories"] == ["contact details", "financial", "income", "location"]
    assert scoring["recipients"] == ["credit bureau", "payment processor"]
    assert scoring["transfers_outside_eu"] is True
    assert scoring["transfer_safeguards"] == ["standard_contractual_clauses"]
    assert scoring["gaps"] == []
    rota = activities[world.rota]
    assert rota["runs"] == 1 and rota["experiments"][0]["id"] == world.staff
    assert rota["lawful_bases"] == [{"basis": "legitimate_interests",
                                     "article": "GDPR Art. 6(1)(f)"}]
    assert rota["recipients"] == [] and rota["transfers_outside_eu"] is False
    assert rota["retention"]["latest_until"] == "2030-12-31"
    gaps = {g["tag"]: g["message"] for g in rota["gaps"]}
    assert gaps["compliance.gdpr.recipients"] == RECIPIENTS_GAP
    assert gaps["compliance.gdpr.dpo_contact"] == (
        "not declared by any run: compliance.gdpr.dpo_contact, Art. 30(1)(a), 37(7)")
    assert "compliance.gdpr.transfers_outside_eu" not in gaps  # declared: no transfer
    # the security measures are what the server reports, the same for every activity
    security = found["security_measures"]
    info = requests.get(f"{server.url}/api/2.0/compliance/server-info", auth=server.auth,
                        timeout=30).json()
    for key in ("artifact_encryption", "access_logging", "audit_retention_days",
                "need_to_know"):
        assert security[key] == info[key]
    assert security["statements"]
    assert world.weather not in json.dumps(found)


def test_runs_of_one_purpose_declaring_different_retention_are_a_conflict(
    server: Server, world: World
) -> None:
    activities = by_purpose(register(server, world))
    retention = activities[world.scoring]["retention"]
    assert retention["longest_period"] == "P5Y"
    assert retention["periods_declared"] == ["P1Y", "P5Y"]
    assert retention["runs_disagree"] is True
    [conflict] = activities[world.scoring]["conflicts"]
    assert conflict["tag"] == "compliance.gdpr.retention_period"
    assert conflict["article"] == "Art. 30(1)(f)"
    assert conflict["values"] == {"P1Y": 1, "P5Y": 1}
    assert "the register shows the longest, P5Y" in conflict["message"]
    assert activities[world.rota]["retention"]["runs_disagree"] is False
    assert activities[world.rota]["conflicts"] == []


def test_the_same_state_gives_the_same_register(server: Server, world: World) -> None:
    first = run_cli(server, "--experiment", world.lending, "--experiment", world.staff)
    again = run_cli(server, "--experiment", world.staff, "--experiment", world.lending)
    assert first.exit_code == again.exit_code == 0
    assert first.stdout == again.stdout


def test_without_experiments_the_register_covers_every_readable_one(
    server: Server, world: World
) -> None:
    result = run_cli(server)
    assert result.exit_code == 0, result.output
    purposes = [a["purpose"] for a in json.loads(result.stdout)["activities"]]
    assert world.scoring in purposes and world.rota in purposes
    assert world.weather not in purposes
    assert purposes == sorted(purposes, key=lambda p: (p is None, (p or "").casefold()))


def make_user(server: Server, clearances: list[str]) -> tuple[str, str]:
    name, password = f"reader-{uuid.uuid4().hex[:8]}", "a long enough password"
    r = requests.post(f"{server.url}/api/2.0/compliance/users/create", auth=server.auth,
                      json={"name": name, "password": password, "role": "user",
                            "clearances": clearances}, timeout=30)
    assert r.status_code == 200, r.text
    return name, password


def grant_read(server: Server, name: str, experiment: str) -> None:
    r = requests.post(f"{server.url}/api/2.0/compliance/grants/set", auth=server.auth,
                      json={"name": name, "kind": "experiment", "target": experiment,
                            "permission": "read"}, timeout=30)
    assert r.status_code == 200, r.text


def test_a_user_who_reads_one_experiment_sees_only_its_activity(
    server: Server, world: World
) -> None:
    cleared = make_user(server, ["personal-data"])
    grant_read(server, cleared[0], world.staff)
    result = run_cli(server, auth=cleared)
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert [a["purpose"] for a in found["activities"]] == [world.rota]
    assert world.scoring not in result.stdout
    # without the need-to-know clearance the personal-data runs are not read at all
    uncleared = make_user(server, [])
    grant_read(server, uncleared[0], world.staff)
    result = run_cli(server, auth=uncleared)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["activities"] == []
    # an experiment the user may not read is refused, in one line, exit code 2
    result = run_cli(server, "--experiment", world.lending, auth=cleared)
    assert result.exit_code == 2 and world.scoring not in result.output


def test_csv_has_the_cnil_template_columns_and_one_row_per_activity(
    server: Server, world: World
) -> None:
    found = register(server, world)
    result = run_cli(server, "--experiment", world.lending, "--experiment", world.staff,
                     "--format", "csv")
    assert result.exit_code == 0, result.output
    table = list(csv.reader(io.StringIO(result.stdout)))
    header = table[0]
    assert header[:len(CNIL_COLUMNS)] == CNIL_COLUMNS
    assert header[len(CNIL_COLUMNS):] == ["Experiments", "Runs", "Gaps", "Conflicts"]
    rows = [dict(zip(header, row, strict=True)) for row in table[1:]]
    assert [r["Reference"] for r in rows] == [a["reference"] for a in found["activities"]]
    named = {r["Name of the processing activity"]: r for r in rows}
    assert set(named) == {world.scoring, world.rota}
    rota, scoring = named[world.rota], named[world.scoring]
    assert rota["Recipients"] == f"GAP: {RECIPIENTS_GAP}"
    assert scoring["Recipients"] == "credit bureau; payment processor"
    assert scoring["Transfers outside the EU"] == "yes; safeguards: standard_contractual_clauses"
    assert scoring["Retention periods"].startswith("longest period: P5Y; CONFLICT: runs "
                                                   "disagree on compliance.gdpr.retention_period")
    assert "Art. 6(1)(b) contract" in scoring["Purpose(s) of the processing"]
    assert scoring["Runs"] == "2" and rota["Runs"] == "1"


def ods_rows(path: Path) -> list[list[str]]:
    document = load(str(path))
    [sheet] = [t for t in document.spreadsheet.getElementsByType(Table)
               if t.getAttribute("name") == "Record of processing activities"]
    return [["\n".join(extractText(p) for p in c.getElementsByType(P))
             for c in r.getElementsByType(TableCell)] for r in sheet.getElementsByType(TableRow)]


def test_the_ods_file_opens_with_the_same_rows_as_the_csv(
    server: Server, world: World, tmp_path: Path
) -> None:
    target = tmp_path / "register.ods"
    selection = ("--experiment", world.lending, "--experiment", world.staff)
    result = run_cli(server, *selection, "--format", "ods", "-o", str(target))
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert "2 processing activities" in result.stderr
    as_csv = run_cli(server, *selection, "--format", "csv")
    assert ods_rows(target) == list(csv.reader(io.StringIO(as_csv.stdout)))
    assert ods_rows(target)[0][:len(CNIL_COLUMNS)] == CNIL_COLUMNS


def test_ods_without_an_output_file_is_refused_in_one_line(server: Server) -> None:
    result = run_cli(server, "--format", "ods")
    assert result.exit_code == 2
    assert "-o: required with --format ods" in result.stderr
    assert result.stdout == ""


def test_runs_without_a_purpose_form_one_activity_whose_gaps_are_named(server: Server) -> None:
    client = mlflow.MlflowClient(server.url)
    experiment = client.create_experiment(f"undeclared-{uuid.uuid4().hex[:8]}")
    for _ in range(2):
        client.create_run(experiment, tags={
            "compliance.gdpr.personal_data": "true", "compliance.ai_act.risk_class": "minimal",
            "compliance.gdpr.special_categories": "health_data",
            "compliance.gdpr.transfers_outside_eu": "true"})
    result = run_cli(server, "--experiment", experiment)
    assert result.exit_code == 0, result.output
    [activity] = json.loads(result.stdout)["activities"]
    assert activity["purpose"] is None and activity["runs"] == 2
    assert activity["reference"] == "PA-no-purpose"
    gaps = {g["tag"]: g["message"] for g in activity["gaps"]}
    assert gaps["compliance.gdpr.purpose"] == (
        "not declared by any run: compliance.gdpr.purpose, Art. 30(1)(b)")
    assert gaps["compliance.gdpr.transfer_safeguard"] == (
        "not declared by every run that transfers outside the EU: "
        "compliance.gdpr.transfer_safeguard, Art. 30(1)(e), 46")
    assert gaps["compliance.gdpr.special_category_ground"].endswith("Art. 9(2)")
    assert gaps["compliance.gdpr.retention_period or compliance.gdpr.retention_until"] == (
        "not declared by any run: compliance.gdpr.retention_period or "
        "compliance.gdpr.retention_until, Art. 30(1)(f)")
    for tag, letter in [("controller_contact", "(a)"), ("data_subject_categories", "(c)"),
                        ("recipients", "(d)")]:
        assert f"Art. 30(1){letter}" in gaps[f"compliance.gdpr.{tag}"]
    assert activity["special_categories"] == ["health_data"]
    assert activity["transfers_outside_eu"] is True
