"""The promotion gate and ``check`` against a real compliance server and the real MLflow
client: a non-compliant version is refused, a compliant one without sign-off too, an
approved compliant one is admitted; every decision is in the audit log."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import jsonschema
import mlflow
import numpy as np
import pytest
import requests
import xmlschema
from sklearn.linear_model import LogisticRegression

from mlflow_compliance import log_model_with_compliance
from mlflow_compliance.audit.log import AuditLog
from mlflow_compliance.checks import collect as collecting
from mlflow_compliance.checks.model import Kind, ServerFacts
from mlflow_compliance.testing import BIN, Server

CLI = str(BIN / "mlflow-compliance")
SEED = Path(__file__).resolve().parent.parent / "examples" / "seed"
COMPLIANT = {
    "regulations": ["GDPR", "AI Act"],
    "data_privacy": "enabled",
    "gdpr": {"personal_data": False, "purpose": "Demonstrate the promotion gate on iris flowers"},
    "ai_act": {"risk_class": "minimal", "intended_purpose": "Classify iris flowers",
               "transparency_obligations": False},
}
# The minimum record a model version is registered with (the server's default policy).
MINIMUM = {"compliance.gdpr.personal_data": "false", "compliance.ai_act.risk_class": "minimal"}


def cli(server: Server, *args: str, auth: tuple[str, str] | None = None,
        cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MLFLOW_TRACKING_URI": server.url}
    if auth:
        env.update(MLFLOW_TRACKING_USERNAME=auth[0], MLFLOW_TRACKING_PASSWORD=auth[1])
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=300, env=env,
                          cwd=cwd)


@pytest.fixture
def tracking(server: Server) -> Server:
    mlflow.set_tracking_uri(server.url)
    return server


def model(name: str, record: dict[str, object] | None) -> str:
    """A new registered model version; with ``record``, logged the compliant way, else
    with only the minimum record the server registers a version with."""
    X = np.random.default_rng(1).random((40, 4))
    y = (X[:, 0] > 0.5).astype(int)
    fitted = LogisticRegression().fit(X, y)
    with mlflow.start_run():
        if record is None:
            mlflow.set_tags(MINIMUM)
            info = mlflow.sklearn.log_model(fitted, name="model", registered_model_name=name)
        else:
            mlflow.log_metric("accuracy", 0.93)
            info = log_model_with_compliance(
                fitted, record=record, data_description="Iris measurements, no personal data",
                registered_model_name=name)
    return str(info.registered_model_version)


def set_alias(server: Server, name: str, alias: str, version: str,
              auth: tuple[str, str] | None = None) -> requests.Response:
    return requests.post(f"{server.url}/api/2.0/mlflow/registered-models/alias",
                         json={"name": name, "alias": alias, "version": version},
                         auth=auth or server.auth, timeout=60)


def user(server: Server, *clearances: str) -> tuple[str, str]:
    name, password = f"u-{uuid.uuid4().hex[:8]}", "a long enough password"
    args = [a for c in clearances for a in ("--clearance", c)]
    done = cli(server, "users", "create", name, "--password", password, *args)
    assert done.returncode == 0, done.stderr
    return name, password


def approver(server: Server, model_name: str) -> tuple[str, str]:
    """A user with the approver clearance and read on the model: not the trainer (the
    admin trains in these tests), so four-eyes holds."""
    who = user(server, "approver")
    granted = cli(server, "grant", who[0], "--model", model_name, "--permission", "read")
    assert granted.returncode == 0, granted.stderr
    return who


def audit_entries(server: Server, action: str) -> list[dict[str, object]]:
    log = AuditLog(server.audit_url(), server.home, None)
    try:
        return [{"status": e.status, **e.resources_dict()} for e in log.entries()
                if e.action == action]
    finally:
        log.close()


def test_a_non_compliant_version_is_refused_with_its_failing_rules(tracking: Server) -> None:
    name = f"bare-{uuid.uuid4().hex[:6]}"
    version = model(name, None)
    r = set_alias(tracking, name, "production", version)
    assert r.status_code == 403
    message = r.json()["message"]
    assert r.json()["error_code"] == "PERMISSION_DENIED"
    assert "BASE-COMPLIANCE-TAGS" in message and "BASE-DATA-DESCRIPTION" in message
    stage = requests.post(f"{tracking.url}/api/2.0/mlflow/model-versions/transition-stage",
                          json={"name": name, "version": version, "stage": "Production"},
                          auth=tracking.auth, timeout=60)
    assert stage.status_code == 403 and "BASE-DATA-DESCRIPTION" in stage.json()["message"]
    assert set_alias(tracking, name, "staging", version).status_code == 200  # not protected
    refused = [e for e in audit_entries(tracking, "model_version.alias.set")
               if e.get("name") == name and e.get("alias") == "production"]
    assert refused and refused[-1]["status"] == 403
    assert "BASE-DATA-DESCRIPTION" in str(refused[-1]["gate"])


def test_compliant_needs_sign_off_then_is_admitted(tracking: Server) -> None:
    name = f"iris-{uuid.uuid4().hex[:6]}"
    version = model(name, COMPLIANT)
    r = set_alias(tracking, name, "champion", version)
    assert r.status_code == 403 and "no sign-off" in r.json()["message"]

    plain = user(tracking)
    assert cli(tracking, "grant", plain[0], "--model", name, "--permission", "read").returncode == 0
    denied = cli(tracking, "approve", name, version, "--note", "looks fine", auth=plain)
    assert denied.returncode == 2 and "approver clearance" in denied.stderr

    approver = user(tracking, "approver")
    assert cli(tracking, "grant", approver[0], "--model", name,
               "--permission", "read").returncode == 0
    empty = cli(tracking, "approve", name, version, "--note", "  ", auth=approver)
    assert empty.returncode == 2 and "--note" in empty.stderr
    done = cli(tracking, "approve", name, version, "--note", "Reviewed: accuracy 0.93",
               auth=approver)
    assert done.returncode == 0, done.stderr
    assert f"by {approver[0]}" in done.stdout

    assert set_alias(tracking, name, "champion", version).status_code == 200
    stage = requests.post(f"{tracking.url}/api/2.0/mlflow/model-versions/transition-stage",
                          json={"name": name, "version": version, "stage": "Production"},
                          auth=tracking.auth, timeout=60)
    assert stage.status_code == 200, stage.text

    listed = requests.get(f"{tracking.url}/api/2.0/compliance/model-versions/approvals",
                          params={"name": name, "version": version}, auth=tracking.auth,
                          timeout=60).json()["approvals"]
    assert [(a["approver"], a["note"], a["signature_valid"]) for a in listed] == [
        (approver[0], "Reviewed: accuracy 0.93", True)]
    assert ["AIACT-5-PROHIBITED", "pass"] in listed[0]["results"]

    approvals = [e for e in audit_entries(tracking, "model_version.approve")
                 if e.get("name") == name]
    assert [e["status"] for e in approvals] == [403, 200]
    assert approvals[-1]["approval"] == listed[0]["id"]
    admitted = [e for e in audit_entries(tracking, "model_version.alias.set")
                if e.get("name") == name and e["status"] == 200]
    assert admitted[-1]["gate"] == "admitted" and admitted[-1]["approver"] == approver[0]


def test_a_changed_record_makes_the_sign_off_stale(tracking: Server) -> None:
    name = f"stale-{uuid.uuid4().hex[:6]}"
    version = model(name, COMPLIANT)
    assert cli(tracking, "approve", name, version, "--note", "ok",
               auth=approver(tracking, name)).returncode == 0
    client = mlflow.MlflowClient()
    client.set_model_version_tag(name, version, "compliance.gdpr.purpose",
                              "Something else entirely, for another purpose")
    r = set_alias(tracking, name, "production", version)
    assert r.status_code == 403 and "stale" in r.json()["message"]
    assert "record tag compliance.gdpr.purpose changed" in r.json()["message"]


def test_a_sign_off_does_not_survive_deleting_and_recreating_the_model(
    tracking: Server,
) -> None:
    name = f"reborn-{uuid.uuid4().hex[:6]}"
    version = model(name, COMPLIANT)
    assert cli(tracking, "approve", name, version, "--note", "ok",
               auth=approver(tracking, name)).returncode == 0
    client = mlflow.MlflowClient()
    old = client.get_model_version(name, version)
    client.delete_registered_model(name)
    client.create_registered_model(name)
    model_id = old.model_id or old.source.removeprefix("models:/").split("/")[0]
    again = client.create_model_version(name, old.source, run_id=old.run_id,
                                        tags=dict(old.tags), model_id=model_id)
    assert again.version == old.version and dict(again.tags) == dict(old.tags)
    r = set_alias(tracking, name, "production", version)
    assert r.status_code == 403 and "stale" in r.json()["message"], r.text


def test_a_forged_sign_off_admits_nothing(tracking: Server) -> None:
    name = f"forged-{uuid.uuid4().hex[:6]}"
    version = model(name, COMPLIANT)
    assert cli(tracking, "approve", name, version, "--note", "real",
               auth=approver(tracking, name)).returncode == 0
    with sqlite3.connect(tracking.home / "mlflow.db") as db:
        db.execute("UPDATE compliance_approvals SET approver = 'mallory' WHERE model_name = ?",
                   (name,))
    r = set_alias(tracking, name, "production", version)
    assert r.status_code == 403 and "no sign-off" in r.json()["message"]


def test_a_failing_version_cannot_be_signed_off(tracking: Server) -> None:
    name = f"nope-{uuid.uuid4().hex[:6]}"
    version = model(name, None)
    done = cli(tracking, "approve", name, version, "--note", "please",
               auth=approver(tracking, name))
    assert done.returncode == 2 and "cannot be signed off" in done.stderr


# --- check --------------------------------------------------------------------------


def test_a_bare_run_gets_baseline_findings_and_exit_1(tracking: Server) -> None:
    experiment = mlflow.create_experiment(f"bare-{uuid.uuid4().hex[:6]}")
    with mlflow.start_run(experiment_id=experiment) as run:
        pass
    done = cli(tracking, "check", "--experiment", experiment, "--rules", "baseline",
               "--format", "json")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    failed = {(f["rule_id"], f["target_id"]) for f in report["findings"]
              if f["status"] in ("fail", "undeclared")}
    assert ("BASE-COMPLIANCE-TAGS", run.info.run_id) in failed
    assert ("BASE-DATA-DESCRIPTION", run.info.run_id) in failed
    for f in report["findings"]:
        assert f["article"] and f["message"]


def test_the_seed_example_run_passes_baseline(tracking: Server) -> None:
    name = f"seed-{uuid.uuid4().hex[:6]}"
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking.url, "MLFLOW_EXPERIMENT_NAME": name}
    seeded = subprocess.run([sys.executable, "seed_example.py"], cwd=SEED, env=env,
                            capture_output=True, text=True, timeout=300)
    assert seeded.returncode == 0, seeded.stderr
    experiment = mlflow.get_experiment_by_name(name).experiment_id
    done = cli(tracking, "check", "--experiment", experiment, "--rules", "baseline",
               "--format", "json")
    report = json.loads(done.stdout)
    runs = [f for f in report["findings"] if f["target_kind"] == "run"]
    assert runs and all(f["status"] == "pass" for f in runs), runs
    # The seed declares its experiment's regulations too: nothing fails (issue 14).
    failing = {f["rule_id"] for f in report["findings"]
               if f["status"] in ("fail", "undeclared")}
    assert failing == set()
    assert done.returncode == 0


def test_check_outputs_validate_against_their_schemas(tracking: Server) -> None:
    schemas = Path(__file__).resolve().parent / "schemas"
    experiment = mlflow.create_experiment(f"formats-{uuid.uuid4().hex[:6]}")
    with mlflow.start_run(experiment_id=experiment):
        mlflow.set_tag("compliance", "GDPR")
    outputs = {form: cli(tracking, "check", "--experiment", experiment, "--format", form)
               for form in ("json", "junit", "sarif")}
    for form, done in outputs.items():
        assert done.returncode == 1, (form, done.stderr)
    sarif = json.loads(outputs["sarif"].stdout)
    jsonschema.validate(sarif, json.loads((schemas / "sarif-schema-2.1.0.json").read_text()))
    assert sarif["runs"][0]["results"]
    from importlib.resources import files

    ours = json.loads(files("mlflow_compliance.checks").joinpath(
        "schemas/check-report.schema.json").read_text())
    jsonschema.validate(json.loads(outputs["json"].stdout), ours)
    xmlschema.XMLSchema(str(schemas / "junit-10.xsd")).validate(outputs["junit"].stdout)


def test_check_bad_usage_is_one_line_and_exit_2(tracking: Server, tmp_path: Path) -> None:
    unknown = cli(tracking, "check", "--rules", "baseline,hipaa")
    assert unknown.returncode == 2 and "hipaa" in unknown.stderr
    assert len(unknown.stderr.strip().splitlines()) == 1
    env = {**os.environ, "MLFLOW_TRACKING_URI": "http://127.0.0.1:9"}
    gone = subprocess.run([CLI, "check"], capture_output=True, text=True, timeout=120, env=env)
    assert gone.returncode == 2 and "cannot reach" in gone.stderr
    model_spec = cli(tracking, "check", "--model", "a'b")
    assert model_spec.returncode == 2 and "--model" in model_spec.stderr


def test_check_model_version_goes_through_its_source_run(tracking: Server) -> None:
    name = f"through-{uuid.uuid4().hex[:6]}"
    version = model(name, COMPLIANT)
    done = cli(tracking, "check", "--model", f"{name}/{version}", "--format", "json")
    report = json.loads(done.stdout)
    kinds = {f["target_kind"] for f in report["findings"]}
    assert kinds == {"model_version"}
    assert done.returncode == 0, [f for f in report["findings"]
                                  if f["status"] in ("fail", "undeclared")]


def test_check_pages_through_every_run(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two streams page through the runs from both ends of the run-id order and stop
    where they meet: with pages of three, seven runs take two pages of three and one
    run of a third page, and each run is found once."""
    monkeypatch.setattr(collecting, "RUN_PAGE", 3)
    client = mlflow.MlflowClient(server.url)
    experiment = client.create_experiment(f"paged-{uuid.uuid4().hex[:8]}")
    made = [client.create_run(experiment).info.run_id for _ in range(7)]
    pages: list[int] = []
    found = collecting.collect(
        client, collecting.Selection(experiments=(experiment,)), ServerFacts(url=server.url),
        lambda what, n: pages.append(n) if what == "runs" else None)
    runs = [t.id for t in found.targets if t.kind is Kind.RUN]
    assert sorted(runs) == sorted(made) and found.runs == 7
    assert pages == [3, 3, 1]


@pytest.mark.parametrize("count", [1, 2, 6, 12])
def test_check_streams_find_each_run_once_at_any_count(
    server: Server, monkeypatch: pytest.MonkeyPatch, count: int
) -> None:
    """Fewer runs than a page, exactly a page per stream, and many pages: every run once."""
    monkeypatch.setattr(collecting, "RUN_PAGE", 3)
    client = mlflow.MlflowClient(server.url)
    experiment = client.create_experiment(f"streams-{uuid.uuid4().hex[:8]}")
    made = [client.create_run(experiment).info.run_id for _ in range(count)]
    found = collecting.collect(
        client, collecting.Selection(experiments=(experiment,)), ServerFacts(url=server.url))
    runs = [t.id for t in found.targets if t.kind is Kind.RUN]
    assert sorted(runs) == sorted(made)


def test_run_from_rest_json_is_the_run_from_the_entity(server: Server) -> None:
    """``check`` reads runs straight from the REST JSON; the server's gate reads MLflow's
    entities. Both must give the same target: tags, params, latest metrics (also
    non-finite ones), datasets with their input tags."""
    import math

    import pandas as pd
    from mlflow.utils.credentials import get_default_host_creds
    from mlflow.utils.rest_utils import http_request

    from mlflow_compliance.checks.targets import run_target, run_target_from_json

    client = mlflow.MlflowClient(server.url)
    experiment = client.create_experiment(f"json-{uuid.uuid4().hex[:8]}")
    mlflow.set_tracking_uri(server.url)
    with mlflow.start_run(experiment_id=experiment, run_name="from-json") as active:
        mlflow.set_tags({"compliance": "GDPR", "data_privacy": "enabled",
                         "compliance.gdpr.personal_data": "false"})
        mlflow.log_params({"data_description": "iris", "empty": ""})
        mlflow.log_metric("accuracy", 0.5, step=0)
        mlflow.log_metric("accuracy", 0.9, step=1)
        mlflow.log_metric("loss", math.inf)
        mlflow.log_metric("gap", math.nan)
        frame = pd.DataFrame({"a": [1, 2]})
        mlflow.log_input(mlflow.data.from_pandas(frame, name="iris", source="s3://b/iris"),
                         context="training")
    run_id = active.info.run_id
    response = http_request(get_default_host_creds(server.url), collecting.SEARCH_RUNS, "POST",
                            json={"experiment_ids": [experiment]})
    (as_json,) = response.json()["runs"]
    facts = ServerFacts(url=server.url)
    from_json = run_target_from_json(as_json, facts)
    from_entity = run_target(client.get_run(run_id), facts)
    assert math.isnan(from_json.metrics["gap"]) and math.isnan(from_entity.metrics["gap"])
    same = {k: v for k, v in from_json.metrics.items() if k != "gap"}
    assert same == {k: v for k, v in from_entity.metrics.items() if k != "gap"}
    assert same == {"accuracy": 0.9, "loss": sys.float_info.max}  # MLflow stores inf so
    assert (from_json.id, from_json.name, from_json.experiment_id) == (
        run_id, "from-json", experiment)
    assert from_json.tags == from_entity.tags and from_json.params == from_entity.params
    assert from_json.params["empty"] == ""
    assert from_json.record == from_entity.record and from_json.record is not None
    assert from_json.datasets == from_entity.datasets
    (dataset,) = from_json.datasets
    assert (dataset.name, dataset.source_type) == ("iris", "s3")
    assert dataset.tags == {"mlflow.data.context": "training"}
