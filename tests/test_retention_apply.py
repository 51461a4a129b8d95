"""Retention apply, legal holds and the targeted hard delete against real servers (SQLite
and PostgreSQL): an expired run is purged with its inputs, orphaned dataset records,
index rows, artifacts and data keys, and nothing of any other run; a legal hold (GDPR
Art. 17(3)(e)) and AI Act Art. 18 (17(3)(b)) keep a run; dry runs change nothing; only
admins apply and purge, admins and the privacy role manage holds."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pytest
import requests
import sqlalchemy as sa
from mlflow.entities import Dataset, DatasetInput, InputTag
from mlflow.exceptions import MlflowException

from mlflow_compliance.encryption.keys.store import DataKeyStore
from mlflow_compliance.settings import Settings
from mlflow_compliance.subjects.index import Place, SubjectIndex
from mlflow_compliance.subjects.pseudonym import PSEUDONYM_BYTES
from mlflow_compliance.testing import BIN, Server

CLI = str(BIN / "mlflow-compliance")
# ``runs`` is looked up through the top-level command line as an integrator registers it
RUNS_CLI = ("import sys; from mlflow_compliance.cli import COMMANDS, cli; "
            "COMMANDS.setdefault('runs', 'mlflow_compliance.cli.runs:runs'); "
            "cli.main(prog_name='mlflow-compliance')")
PERSONAL = {"compliance.gdpr.personal_data": "true", "compliance.ai_act.risk_class": "minimal"}
PAST = {**PERSONAL, "compliance.gdpr.retention_until": "2020-01-31"}
LATER = {**PERSONAL, "compliance.gdpr.retention_until": "2999-01-01"}
HIGH_PAST = {**PAST, "compliance.ai_act.risk_class": "high"}
REASON = "Litigation with a former customer about the churn scores, case 2025-117"


# --- helpers ----------------------------------------------------------------------------


def api(server: Server, method: str, route: str, body: dict[str, Any] | None = None,
        auth: tuple[str, str] | None = None) -> requests.Response:
    url = f"{server.url}/api/2.0/compliance/{route}"
    if method == "GET":
        return requests.get(url, params=body, auth=auth or server.auth, timeout=60)
    return requests.post(url, json=body or {}, auth=auth or server.auth, timeout=120)


def cli(server: Server, *args: str, auth: tuple[str, str] | None = None,
        runs: bool = False) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MLFLOW_TRACKING_URI": server.url, "COLUMNS": "300"}
    if auth:
        env.update(MLFLOW_TRACKING_USERNAME=auth[0], MLFLOW_TRACKING_PASSWORD=auth[1])
    command = [sys.executable, "-c", RUNS_CLI] if runs else [CLI]
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=300,
                          env=env)


def user(server: Server, role: str = "user") -> tuple[str, str]:
    name, password = f"{role}-{uuid.uuid4().hex[:8]}", "a long enough password"
    r = api(server, "POST", "users/create", {"name": name, "password": password, "role": role})
    assert r.status_code == 200, r.text
    return name, password


def settings(server: Server) -> Settings:
    return Settings(server.home, backend_store_uri=server.backend_store_uri)


@pytest.fixture
def db(any_server: Server) -> Iterator[sa.Engine]:
    engine = sa.create_engine(settings(any_server).store_uri)
    yield engine
    engine.dispose()


def dataset(name: str, digest: str) -> DatasetInput:
    return DatasetInput(Dataset(name=name, digest=digest, source_type="local",
                                source=f"file:///data/{name}.csv", schema='{"c": 1}'),
                        tags=[InputTag("mlflow.data.context", "training")])


def make_run(client: mlflow.MlflowClient, experiment: str, tags: dict[str, str],
             *datasets: DatasetInput) -> str:
    """A run with a param, a metric, dataset inputs, a plain and a dataset artifact."""
    run_id = client.create_run(experiment, tags=tags).info.run_id
    client.log_param(run_id, "alpha", "0.1")
    client.log_metric(run_id, "loss", 0.5)
    if datasets:
        client.log_inputs(run_id, datasets=list(datasets))
    client.log_text(run_id, "model notes", "notes.txt")
    client.log_text(run_id, "email,age\nalice@example.org,42\n", "datasets/customers/rows.csv")
    return run_id


def rows(db: sa.Engine, run_id: str) -> dict[str, int]:
    """How many rows of each table belong to the run."""
    q = {
        "runs": "SELECT count(*) FROM runs WHERE run_uuid = :r",
        "params": "SELECT count(*) FROM params WHERE run_uuid = :r",
        "metrics": "SELECT count(*) FROM metrics WHERE run_uuid = :r",
        "latest_metrics": "SELECT count(*) FROM latest_metrics WHERE run_uuid = :r",
        "tags": "SELECT count(*) FROM tags WHERE run_uuid = :r",
        "inputs": "SELECT count(*) FROM inputs WHERE destination_id = :r",
        "input_tags": "SELECT count(*) FROM input_tags WHERE input_uuid IN "
                      "(SELECT input_uuid FROM inputs WHERE destination_id = :r)",
        "index": "SELECT count(*) FROM compliance_subject_index WHERE run_id = :r",
    }
    with db.connect() as c:
        return {k: c.execute(sa.text(v), {"r": run_id}).scalar_one() for k, v in q.items()}


def input_uuids(db: sa.Engine, run_id: str) -> list[str]:
    with db.connect() as c:
        return [r[0] for r in c.execute(sa.text(
            "SELECT input_uuid FROM inputs WHERE destination_id = :r"), {"r": run_id})]


def index(server: Server, run_id: str, experiment: str) -> None:
    SubjectIndex.connect(settings(server).store_uri).add(
        Place(run_id, experiment, "customers", "d1", "email"),
        [os.urandom(PSEUDONYM_BYTES) for _ in range(3)])


def live_scopes(server: Server, run_id: str) -> list[str]:
    return DataKeyStore.connect(settings(server).store_uri).scopes_under(f"run:{run_id}")


def folder(server: Server, experiment: str, run_id: str) -> Path:
    return server.home / "artifacts" / experiment / run_id


def experiment_of(client: mlflow.MlflowClient) -> str:
    return client.create_experiment(f"retention-apply-{uuid.uuid4().hex[:8]}")


def apply(server: Server, run_id: str, dry_run: bool,
          auth: tuple[str, str] | None = None) -> requests.Response:
    return api(server, "POST", "retention/apply", {"run_id": run_id, "dry_run": dry_run}, auth)


# --- retention apply: the purge ---------------------------------------------------------


@dataclass
class Scene:
    experiment: str
    expired: str
    later: str
    deleted: str


def scene(server: Server) -> Scene:
    client = mlflow.MlflowClient(server.url)
    experiment = experiment_of(client)
    tag = uuid.uuid4().hex[:8]
    shared, own = dataset(f"shared-{tag}", "s1"), dataset(f"own-{tag}", "o1")
    expired = make_run(client, experiment, PAST, shared, own)
    later = make_run(client, experiment, LATER, shared)
    deleted = make_run(client, experiment, LATER, dataset(f"deleted-{tag}", "x1"))
    client.delete_run(deleted)
    for run_id in (expired, later, deleted):
        index(server, run_id, experiment)
    return Scene(experiment, expired, later, deleted)


def test_an_expired_run_is_purged_and_nothing_else(any_server: Server, db: sa.Engine,
                                                   tmp_path: Path) -> None:
    s = scene(any_server)
    with db.connect() as c:
        names = dict(c.execute(sa.text(
            "SELECT d.name, d.dataset_uuid FROM datasets d JOIN inputs i ON "
            "i.source_id = d.dataset_uuid WHERE i.destination_id = :r"), {"r": s.expired}).all())
    own = next(u for n, u in names.items() if n.startswith("own-"))
    shared = next(u for n, u in names.items() if n.startswith("shared-"))
    before = {r: rows(db, r) for r in (s.expired, s.later, s.deleted)}
    assert all(before[s.expired][k] > 0 for k in before[s.expired])
    inputs_before = input_uuids(db, s.expired)
    assert sorted(live_scopes(any_server, s.expired)) == [
        f"run:{s.expired}", f"run:{s.expired}/dataset:customers"]
    ciphertext = tmp_path / "copy"
    shutil.copytree(folder(any_server, s.experiment, s.expired), ciphertext)

    # a dry run says what would go and changes nothing
    dry = apply(any_server, s.expired, dry_run=True)
    assert dry.status_code == 200, dry.text
    planned = dry.json()
    assert not planned["applied"] and planned["dry_run"] and not planned["kept"]
    assert planned["purge"]["rows"]["params"] == 1 and planned["purge"]["rows"]["datasets"] == 1
    assert planned["purge"]["rows"]["inputs"] == 2
    assert planned["purge"]["artifact_folder"] == f"{s.experiment}/{s.expired}"
    assert {r: rows(db, r) for r in before} == before
    assert mlflow.MlflowClient(any_server.url).get_run(s.expired).info.lifecycle_stage \
        == "active"
    assert len(live_scopes(any_server, s.expired)) == 2

    done = apply(any_server, s.expired, dry_run=False)
    assert done.status_code == 200, done.text
    answer = done.json()
    assert answer["applied"] and answer["grounds"] == [] and answer["kept_by"] == []
    assert answer["done"][0] == "deleted the run (soft)"
    assert answer["purge"]["rows"]["runs"] == 1
    assert sorted(answer["purge"]["keys_shredded"]) == sorted(
        [f"run:{s.expired}", f"run:{s.expired}/dataset:customers"])

    # every row of the run is gone, input tags and the orphaned dataset record too
    assert rows(db, s.expired) == dict.fromkeys(before[s.expired], 0)
    with db.connect() as c:
        assert c.execute(sa.text("SELECT count(*) FROM input_tags WHERE input_uuid IN :u")
                         .bindparams(sa.bindparam("u", expanding=True)),
                         {"u": inputs_before}).scalar_one() == 0
        datasets_left = {r[0] for r in c.execute(sa.text("SELECT dataset_uuid FROM datasets"))}
    assert own not in datasets_left and shared in datasets_left  # the later run uses it
    # the artifacts are gone, and a copy of their ciphertext can no longer be read
    assert not folder(any_server, s.experiment, s.expired).exists()
    assert live_scopes(any_server, s.expired) == []
    shutil.copytree(ciphertext, folder(any_server, s.experiment, s.expired))
    with pytest.raises(MlflowException, match="erased"):
        mlflow.artifacts.download_artifacts(
            artifact_uri=f"mlflow-artifacts:/{s.experiment}/{s.expired}/artifacts/notes.txt",
            tracking_uri=any_server.url, dst_path=str(tmp_path / "out"))
    shutil.rmtree(folder(any_server, s.experiment, s.expired))

    # the other soft-deleted run and the run within its retention are untouched
    for other in (s.later, s.deleted):
        assert rows(db, other) == before[other]
        assert len(live_scopes(any_server, other)) == 2
    client = mlflow.MlflowClient(any_server.url)
    assert client.get_run(s.deleted).info.lifecycle_stage == "deleted"
    assert client.get_run(s.later).data.params == {"alpha": "0.1"}
    assert client.download_artifacts(s.later, "notes.txt", str(tmp_path))

    # a run within its retention is refused, naming why; an unknown run is 404
    refused = apply(any_server, s.later, dry_run=False)
    assert refused.status_code == 409 and "within its retention until 2999-01-01" in \
        refused.json()["message"]
    assert apply(any_server, s.expired, dry_run=False).status_code == 404


# --- what keeps a run -------------------------------------------------------------------


def test_a_held_run_is_kept_until_the_hold_is_released(server: Server) -> None:
    client = mlflow.MlflowClient(server.url)
    experiment = experiment_of(client)
    held = make_run(client, experiment, PAST)
    made = api(server, "POST", "retention/holds/create",
               {"kind": "experiment", "target": experiment, "reason": REASON})
    assert made.status_code == 200, made.text
    hold = made.json()["hold"]
    assert hold["ground"] == "GDPR Art. 17(3)(e)" and hold["created_by"] == "admin"

    # retention status reads the register: kept, not due
    status = cli(server, "retention", "status", "--experiment", experiment, "--format", "json")
    assert status.returncode == 0, status.stderr
    item = json.loads(status.stdout)["items"][0]
    assert item["id"] == held and not item["due"] and item["expired"]
    assert [k["article"] for k in item["kept_by"]] == ["GDPR Art. 17(3)(e)"]
    assert "legal hold" in item["action"]

    kept = apply(server, held, dry_run=False)
    assert kept.status_code == 200, kept.text
    assert not kept.json()["applied"] and kept.json()["grounds"] == ["GDPR Art. 17(3)(e)"]
    assert client.get_run(held).info.lifecycle_stage == "active"

    # the CLI's dry run lists it as kept, and why
    dry = cli(server, "retention", "apply", "--experiment", experiment)
    assert dry.returncode == 0, dry.stderr
    assert "kept" in dry.stdout and "17(3)(e)" in dry.stdout and "dry run" in dry.stderr

    released = api(server, "POST", "retention/holds/release",
                   {"id": hold["id"], "reason": "The litigation was settled on 3 March 2025"})
    assert released.status_code == 200, released.text
    assert released.json()["hold"]["released_by"] == "admin"
    listed = api(server, "GET", "retention/holds/list", {"all": "true"}).json()["holds"]
    assert any(h["id"] == hold["id"] and not h["active"] for h in listed)
    assert hold["id"] not in {h["id"] for h in api(server, "GET", "retention/holds/list")
                              .json()["holds"]}

    applied = cli(server, "retention", "apply", "--experiment", experiment, "--yes")
    assert applied.returncode == 0, applied.stderr
    assert "applied" in applied.stdout
    with pytest.raises(MlflowException):
        client.get_run(held)


def test_the_source_run_of_a_high_risk_version_is_kept_by_art_18(server: Server) -> None:
    client = mlflow.MlflowClient(server.url)
    experiment = experiment_of(client)
    source = make_run(client, experiment, HIGH_PAST)
    name = f"high-{uuid.uuid4().hex[:8]}"
    client.create_registered_model(name)
    client.create_model_version(name, f"runs:/{source}/model", run_id=source)
    kept = apply(server, source, dry_run=False)
    assert kept.status_code == 200, kept.text
    answer = kept.json()
    assert not answer["applied"] and answer["grounds"] == ["GDPR Art. 17(3)(b)"]
    assert answer["kept_by"][0]["ground"] == "AI Act Art. 18"
    assert client.get_run(source).data.params == {"alpha": "0.1"}


# --- runs purge -------------------------------------------------------------------------


def test_runs_purge_refuses_an_active_run_and_leaves_other_deleted_runs(
        any_server: Server, db: sa.Engine) -> None:
    client = mlflow.MlflowClient(any_server.url)
    experiment = experiment_of(client)
    active = make_run(client, experiment, LATER)
    target, other = (make_run(client, experiment, LATER) for _ in range(2))
    for run_id in (target, other):
        client.delete_run(run_id)
    before = {r: rows(db, r) for r in (active, target, other)}

    refused = cli(any_server, "runs", "purge", active, "--yes", runs=True)
    assert refused.returncode == 1 and "refused" in refused.stdout
    assert f"run {active} is active" in refused.stdout
    dry = cli(any_server, "runs", "purge", target, runs=True)
    assert dry.returncode == 0 and "would purge" in dry.stdout, dry.stderr
    assert {r: rows(db, r) for r in before} == before

    done = cli(any_server, "runs", "purge", target, "--yes", runs=True)
    assert done.returncode == 0 and "purged" in done.stdout, done.stderr
    assert rows(db, target)["runs"] == 0 and rows(db, target)["params"] == 0
    assert rows(db, other) == before[other] and rows(db, active) == before[active]
    assert client.get_run(other).info.lifecycle_stage == "deleted"


# --- bad input and who may do what ------------------------------------------------------


@pytest.mark.parametrize("reason", ["TBD", "n/a", "too short really", None,
                                    "to be determined later by legal"])
def test_a_placeholder_reason_is_refused_naming_reason(server: Server,
                                                       reason: str | None) -> None:
    run_id = make_run(mlflow.MlflowClient(server.url), experiment_of(
        mlflow.MlflowClient(server.url)), LATER)
    r = api(server, "POST", "retention/holds/create",
            {"kind": "run", "target": run_id, "reason": reason})
    assert r.status_code == 400 and r.json()["message"].startswith("reason:"), r.text
    listed = api(server, "GET", "retention/holds/list", {"all": "true"}).json()["holds"]
    assert run_id not in {h["target"] for h in listed}  # nothing stored


@pytest.mark.parametrize("body, field", [
    ({"kind": "dataset", "target": "x", "reason": REASON}, "kind:"),
    ({"kind": "run", "target": "0" * 32, "reason": REASON}, "target:"),
    ({"kind": "registered_model", "target": "no-such-model", "reason": REASON}, "target:"),
])
def test_a_wrong_hold_is_refused_naming_the_field(server: Server, body: dict[str, Any],
                                                  field: str) -> None:
    r = api(server, "POST", "retention/holds/create", body)
    assert r.status_code == 400 and r.json()["message"].startswith(field), r.text


def test_plain_users_get_403_and_privacy_manages_holds_only(server: Server) -> None:
    client = mlflow.MlflowClient(server.url)
    run_id = make_run(client, experiment_of(client), PAST)
    plain, privacy = user(server), user(server, "privacy")
    hold = {"kind": "run", "target": run_id, "reason": REASON}
    for who in (plain,):
        assert api(server, "POST", "retention/holds/create", hold, who).status_code == 403
        assert api(server, "POST", "retention/holds/release",
                   {"id": "0" * 32, "reason": REASON}, who).status_code == 403
        assert api(server, "GET", "retention/holds/list", None, who).status_code == 403
    for who in (plain, privacy):
        assert apply(server, run_id, False, who).status_code == 403
        assert api(server, "POST", "runs/purge", {"run_id": run_id}, who).status_code == 403
    made = api(server, "POST", "retention/holds/create", hold, privacy)
    assert made.status_code == 200 and made.json()["hold"]["created_by"] == privacy[0]
    assert api(server, "GET", "retention/holds/list", None, privacy).status_code == 200
    released = api(server, "POST", "retention/holds/release",
                   {"id": made.json()["hold"]["id"], "reason": REASON}, privacy)
    assert released.status_code == 200 and released.json()["hold"]["released_by"] == privacy[0]
    assert client.get_run(run_id).info.lifecycle_stage == "active"  # nothing applied
    listed = cli(server, "retention", "holds", "list", "--all", "--format", "json",
                 auth=privacy)
    assert listed.returncode == 0, listed.stderr
    assert made.json()["hold"]["id"] in {h["id"] for h in json.loads(listed.stdout)["holds"]}
