"""The seed's workflow works as the seed says: config script, fixed example, curl."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import mlflow
import pytest
import requests

from mlflow_compliance.testing import BIN, Server
from tests.conftest import ROOT

SEED = ROOT / "examples" / "seed"
LINE = "Model logged with compliance tags and data description"


def run_script(server: Server, name: str, experiment: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MLFLOW_TRACKING_URI": server.url, "MLFLOW_EXPERIMENT_NAME": experiment}
    return subprocess.run(
        [sys.executable, name], cwd=SEED, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def seed_runs(server: Server) -> dict[str, mlflow.entities.Run]:
    """Both seed scripts run once against the compliance server, each in its experiment."""
    client = mlflow.MlflowClient(server.url)
    runs = {}
    for script in ("mlflow_tracking_config.py", "seed_example.py"):
        experiment = f"seed-{script}-{uuid.uuid4().hex[:6]}"
        done = run_script(server, script, experiment)
        assert done.returncode == 0, done.stderr[-3000:]
        assert LINE in done.stdout.splitlines()
        exp = client.get_experiment_by_name(experiment)
        (run,) = client.search_runs([exp.experiment_id])
        runs[script] = run
    return runs


@pytest.mark.parametrize("script", ["mlflow_tracking_config.py", "seed_example.py"])
def test_seed_script_logs_a_tagged_model_that_loads_and_predicts(
    server: Server, seed_runs: dict[str, mlflow.entities.Run], script: str
) -> None:
    from sklearn.datasets import load_iris

    run = seed_runs[script]
    assert run.data.tags["compliance"] == "GDPR"
    assert run.data.tags["data_privacy"] == "enabled"
    assert run.data.params["data_description"] == "Iris dataset with no personal data"
    # compliance.toml beside the scripts applies to both runs, also the plain start_run
    assert run.data.tags["compliance.ai_act.risk_class"] == "minimal"
    assert run.data.tags["compliance.gdpr.personal_data"] == "false"
    mlflow.set_tracking_uri(server.url)
    model = mlflow.sklearn.load_model(f"runs:/{run.info.run_id}/model")
    features, labels = load_iris(return_X_y=True)
    assert (model.predict(features) == labels).mean() > 0.9


def test_config_script_puts_the_record_on_the_logged_model(
    server: Server, seed_runs: dict[str, mlflow.entities.Run]
) -> None:
    run = seed_runs["mlflow_tracking_config.py"]
    client = mlflow.MlflowClient(server.url)
    (model,) = client.search_logged_models([run.info.experiment_id])
    assert model.source_run_id == run.info.run_id
    assert model.tags["compliance"] == "GDPR"
    assert model.tags["compliance.gdpr.personal_data"] == "false"


def test_seed_curl_works_as_written(
    server: Server, seed_runs: dict[str, mlflow.entities.Run]
) -> None:
    done = subprocess.run(
        ["curl", "-s", "-u", ":".join(server.auth or ()),
         "-X", "GET", f"{server.url}/api/2.0/mlflow/runs/search",
         "-d", '{"filter": "tags.compliance = \\"GDPR\\""}'],
        capture_output=True, text=True, timeout=60, check=True,
    )
    found = json.loads(done.stdout)
    ids = {r["info"]["run_id"] for r in found["runs"]}
    assert {r.info.run_id for r in seed_runs.values()} <= ids
    for r in found["runs"]:
        tags = {t["key"]: t["value"] for t in r["data"]["tags"]}
        assert tags["compliance"] == "GDPR"


def test_get_search_finds_runs_across_experiments_by_a_dotted_tag(
    server: Server, seed_runs: dict[str, mlflow.entities.Run]
) -> None:
    r = requests.get(
        f"{server.url}/api/2.0/mlflow/runs/search",
        data=json.dumps({"filter": "tags.`compliance.ai_act.risk_class` = 'minimal'"}),
        timeout=30, auth=server.auth,
    )
    assert r.status_code == 200, r.text
    experiments = {run["info"]["experiment_id"] for run in r.json()["runs"]}
    assert {run.info.experiment_id for run in seed_runs.values()} <= experiments


def test_get_search_with_a_bad_body_is_a_400_in_mlflow_error_shape(server: Server) -> None:
    r = requests.get(f"{server.url}/api/2.0/mlflow/runs/search", data="{not json", timeout=30,
                     auth=server.auth)
    assert r.status_code == 400
    assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert r.json()["message"].startswith("request body:")


def test_post_search_keeps_mlflow_behaviour(
    server: Server, seed_runs: dict[str, mlflow.entities.Run]
) -> None:
    # MLflow's POST without experiment_ids finds nothing; MLflow clients rely on POST as is.
    r = requests.post(f"{server.url}/api/2.0/mlflow/runs/search",
                      json={"filter": "tags.compliance = 'GDPR'"}, timeout=30, auth=server.auth)
    assert r.status_code == 200
    assert r.json().get("runs", []) == []


def check(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MLFLOW_TRACKING_URI": server.url,
           "MLFLOW_TRACKING_USERNAME": server.auth[0], "MLFLOW_TRACKING_PASSWORD": server.auth[1]}
    return subprocess.run([str(BIN / "mlflow-compliance"), "check", *args], env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("script", ["mlflow_tracking_config.py", "seed_example.py"])
def test_the_seed_passes_every_built_in_pack_experiment_included(
    server: Server, seed_runs: dict[str, mlflow.entities.Run], script: str
) -> None:
    """Issue 14, item 7: out of the box, baseline, gdpr and ai-act, nothing failing or
    undeclared, and the experiment is among the targets."""
    run = seed_runs[script]
    done = check(server, "--experiment", run.info.experiment_id,
                 "--rules", "baseline,gdpr,ai-act", "--format", "json")
    report = json.loads(done.stdout)
    failing = [(f["rule_id"], f["target_kind"], f["message"]) for f in report["findings"]
               if f["status"] in ("fail", "undeclared")]
    assert failing == [] and done.returncode == 0, failing or done.stderr
    kinds = {f["target_kind"] for f in report["findings"]}
    assert {"experiment", "run"} <= kinds
    not_applicable = [f for f in report["findings"] if f["status"] == "not_applicable"]
    # Not applicable only where the record says why: no personal data, not high-risk.
    assert not_applicable and all(
        "no personal data" in f["message"] or "minimal" in f["message"]
        for f in not_applicable), not_applicable


def test_a_run_that_declares_nothing_is_undeclared_and_check_exits_1(server: Server) -> None:
    client = mlflow.MlflowClient(server.url)
    experiment = client.create_experiment(f"silent-{uuid.uuid4().hex[:6]}")
    run = client.create_run(experiment)  # a plain MLflow client, outside any project
    done = check(server, "--experiment", experiment, "--rules", "baseline,gdpr,ai-act",
                 "--format", "json")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    mine = [f for f in report["findings"] if f["target_id"] == run.info.run_id]
    undeclared = {f["rule_id"] for f in mine if f["status"] == "undeclared"}
    assert {"BASE-MINIMUM-RECORD", "AIACT-6-RISK-CLASS"} <= undeclared, mine
    assert not [f for f in mine if f["status"] == "pass" and f["rule_id"].startswith("GDPR")]
    assert report["summary"]["undeclared"] >= len(undeclared)
    table = check(server, "--experiment", experiment, "--rules", "baseline,gdpr,ai-act")
    assert table.returncode == 1 and "undeclared" in table.stdout.lower()
