"""The access-control commands against a running server, and the bootstrap admin."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

import requests
from click.testing import CliRunner, Result

from mlflow_compliance.cli import cli as command_line
from mlflow_compliance.testing import BIN, Server, start_compliance_server

CLI = str(BIN / "mlflow-compliance")
PASSWORD = "a long enough password"


def cli(server: Server, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "MLFLOW_TRACKING_URI": server.url, **env}
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=120,
                          env=environment)


def run(server: Server, *args: str, **env: str) -> Result:
    """The command in-process (click's CliRunner), with the console script's exit codes."""
    return CliRunner().invoke(command_line, list(args),
                              env={"MLFLOW_TRACKING_URI": server.url, **env})


def new_experiment(server: Server) -> str:
    r = requests.post(f"{server.url}/api/2.0/mlflow/experiments/create",
                      json={"name": f"access-cli-{uuid.uuid4().hex[:8]}"}, auth=server.auth,
                      timeout=30)
    assert r.status_code == 200, r.text
    return str(r.json()["experiment_id"])


def test_users_grants_and_tokens_commands(server: Server) -> None:
    name = f"grace-{uuid.uuid4().hex[:6]}"
    experiment = new_experiment(server)
    done = cli(server, "users", "create", name, "--password", PASSWORD,
               "--clearance", "personal-data")
    assert done.returncode == 0, done.stderr
    listed = cli(server, "users", "list")
    assert name in listed.stdout and "personal-data" in listed.stdout
    added = cli(server, "grants", "add", name, "--experiment", experiment,
                "--permission", "edit")
    assert added.returncode == 0, added.stderr
    made = cli(server, "tokens", "create", name, "--expires", "30")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip().splitlines()[-1]
    assert token.startswith("mlc_")
    r = requests.post(f"{server.url}/api/2.0/mlflow/runs/create",
                      json={"experiment_id": experiment},
                      headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["run"]["info"]["user_id"] == name
    token_id = cli(server, "tokens", "list", name).stdout
    assert token not in token_id  # the secret is never listed
    assert cli(server, "grants", "remove", name, "--experiment", experiment).returncode == 0
    r = requests.post(f"{server.url}/api/2.0/mlflow/runs/create",
                      json={"experiment_id": experiment},
                      headers={"Authorization": f"Bearer {token}"}, timeout=30)
    # No grant left: the experiment answers as if it did not exist.
    assert r.status_code == 404 and r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST", r.text
    assert cli(server, "users", "delete", name).returncode == 0
    r = requests.post(f"{server.url}/api/2.0/mlflow/experiments/search", json={"max_results": 10},
                      headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert r.status_code == 401  # deleting a user ends their tokens


def test_list_commands_print_json_that_parses(server: Server) -> None:
    name = f"jules-{uuid.uuid4().hex[:6]}"
    assert run(server, "users", "create", name, "--password", PASSWORD).exit_code == 0
    assert run(server, "grants", "add", name, "--model", "churn",
               "--permission", "read").exit_code == 0
    made = run(server, "tokens", "create", name)
    token_id = made.stdout.split()[1]

    users = json.loads(run(server, "users", "list", "--format", "json").stdout)["users"]
    assert {"name": name, "role": "user", "clearances": []} in users
    grants = json.loads(run(server, "grants", "list", name, "--format", "json").stdout)
    assert grants == {"grants": [{"user": name, "kind": "model", "target": "churn",
                                  "permission": "read"}]}
    every = json.loads(run(server, "grants", "list", "--format", "json").stdout)["grants"]
    assert {"user": name, "kind": "model", "target": "churn", "permission": "read"} in every
    tokens = json.loads(run(server, "tokens", "list", name, "--format", "json").stdout)
    assert [t["id"] for t in tokens["tokens"]] == [token_id]
    table = run(server, "grants", "list", name)
    assert table.exit_code == 0 and "churn" in table.stdout


def test_users_set_password_asks_twice_when_not_given(server: Server) -> None:
    name = f"ines-{uuid.uuid4().hex[:6]}"
    assert run(server, "users", "create", name, "--password", PASSWORD).exit_code == 0
    new = "another long password"
    done = CliRunner().invoke(command_line, ["users", "set-password", name],
                              input=f"{new}\n{new}\n", env={"MLFLOW_TRACKING_URI": server.url})
    assert done.exit_code == 0, done.stderr
    assert new not in done.output  # hidden
    r = requests.post(f"{server.url}/api/2.0/mlflow/experiments/search",
                      json={"max_results": 1}, auth=(name, new), timeout=30)
    assert r.status_code == 200


def test_bad_input_is_one_line_and_exit_2(server: Server) -> None:
    short = run(server, "users", "create", "henry", "--password", "short")
    assert short.exit_code == 2
    assert short.stderr == "Error: password: shorter than 12 characters\n"
    both = run(server, "grants", "add", "henry", "--experiment", "0", "--model", "m",
               "--permission", "read")
    assert both.exit_code == 2 and "give exactly one" in both.stderr
    level = run(server, "grants", "add", "henry", "--experiment", "0", "--permission", "own")
    assert level.exit_code == 2 and "--permission" in level.stderr
    missing = run(server, "grants", "add", "nobody-at-all", "--experiment", "0",
                  "--permission", "read")
    assert missing.exit_code == 2
    assert missing.stderr == "Error: user: 'nobody-at-all' does not exist\n"
    unknown = run(server, "grants", "list", "nobody-at-all")
    assert unknown.exit_code == 2 and "does not exist" in unknown.stderr


def test_commands_need_credentials(server: Server) -> None:
    done = run(server, "users", "list", MLFLOW_TRACKING_USERNAME="", MLFLOW_TRACKING_PASSWORD="")
    assert done.exit_code == 2 and "MLFLOW_TRACKING_USERNAME" in done.stderr
    wrong = run(server, "users", "list", MLFLOW_TRACKING_PASSWORD="not the password")
    assert wrong.exit_code == 2 and "credentials are not valid" in wrong.stderr
    end_to_end = cli(server, "users", "list", MLFLOW_TRACKING_PASSWORD="not the password")
    assert end_to_end.returncode == 2
    assert end_to_end.stderr.startswith("Error: ") and end_to_end.stderr.count("\n") == 1


def test_unreachable_server_is_exit_2() -> None:
    done = CliRunner().invoke(command_line, ["users", "list"],
                              env={"MLFLOW_TRACKING_URI": "http://127.0.0.1:9"})
    assert done.exit_code == 2 and "cannot reach" in done.stderr
    assert done.stderr.count("\n") == 1


def test_first_start_creates_admin_with_a_generated_password(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_COMPLIANCE_ADMIN_PASSWORD"}
    home = tmp_path / "fresh"
    server = start_compliance_server(home, env={"MLFLOW_COMPLIANCE_ADMIN_PASSWORD": ""})
    try:
        secret = home / "admin-password"
        assert oct(secret.stat().st_mode & 0o777) == "0o600"
        password = secret.read_text().strip()
        assert len(password) >= 20
        assert password in server.log.read_text()  # printed once, at first start
        r = requests.post(f"{server.url}/api/2.0/mlflow/experiments/search",
                          json={"max_results": 10},
                          auth=("admin", password), timeout=30)
        assert r.status_code == 200
        assert env is not None
    finally:
        server.stop()
