"""The access-control commands against a running server, and the bootstrap admin."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import requests

from mlflow_compliance.testing import BIN, Server, start_compliance_server

CLI = str(BIN / "mlflow-compliance")


def cli(server: Server, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "MLFLOW_TRACKING_URI": server.url, **env}
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=120,
                          env=environment)


def test_users_grant_and_tokens_commands(server: Server) -> None:
    name = f"grace-{uuid.uuid4().hex[:6]}"
    done = cli(server, "users", "create", name, "--password", "a long enough password",
               "--clearance", "personal-data")
    assert done.returncode == 0, done.stderr
    listed = cli(server, "users", "list")
    assert name in listed.stdout and "personal-data" in listed.stdout
    assert cli(server, "grant", name, "--experiment", "0", "--permission", "edit").returncode == 0
    made = cli(server, "tokens", "create", name, "--expires", "30")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip().splitlines()[-1]
    assert token.startswith("mlc_")
    r = requests.post(f"{server.url}/api/2.0/mlflow/runs/create", json={"experiment_id": "0"},
                      headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["run"]["info"]["user_id"] == name
    token_id = cli(server, "tokens", "list", name).stdout
    assert token not in token_id  # the secret is never listed
    assert cli(server, "revoke", name, "--experiment", "0").returncode == 0
    r = requests.post(f"{server.url}/api/2.0/mlflow/runs/create", json={"experiment_id": "0"},
                      headers={"Authorization": f"Bearer {token}"}, timeout=30)
    # No grant left: the experiment answers as if it did not exist.
    assert r.status_code == 404 and r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert cli(server, "users", "delete", name).returncode == 0
    r = requests.post(f"{server.url}/api/2.0/mlflow/experiments/search", json={"max_results": 10},
                      headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert r.status_code == 401  # deleting a user ends their tokens


def test_bad_input_is_one_line_and_exit_2(server: Server) -> None:
    short = cli(server, "users", "create", "henry", "--password", "short")
    assert short.returncode == 2
    assert short.stderr == "Error: password: shorter than 12 characters\n"
    both = cli(server, "grant", "henry", "--experiment", "0", "--model", "m",
               "--permission", "read")
    assert both.returncode == 2 and "give exactly one" in both.stderr
    level = cli(server, "grant", "henry", "--experiment", "0", "--permission", "own")
    assert level.returncode == 2 and "--permission" in level.stderr
    missing = cli(server, "grant", "nobody-at-all", "--experiment", "0", "--permission", "read")
    assert missing.returncode == 2
    assert missing.stderr == "Error: user: 'nobody-at-all' does not exist\n"


def test_commands_need_credentials(server: Server) -> None:
    done = cli(server, "users", "list", MLFLOW_TRACKING_USERNAME="", MLFLOW_TRACKING_PASSWORD="")
    assert done.returncode == 2 and "MLFLOW_TRACKING_USERNAME" in done.stderr
    wrong = cli(server, "users", "list", MLFLOW_TRACKING_PASSWORD="not the password")
    assert wrong.returncode == 2 and "credentials are not valid" in wrong.stderr


def test_unreachable_server_is_exit_2() -> None:
    done = subprocess.run([CLI, "users", "list"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "MLFLOW_TRACKING_URI": "http://127.0.0.1:9"})
    assert done.returncode == 2 and "cannot reach" in done.stderr


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
