"""``mlflow-compliance account``: a user's own password and tokens, from the command line,
against a real server, with the user's own MLflow credentials."""

from __future__ import annotations

import json
import os
import subprocess
import uuid

import pytest
import requests
from click.testing import CliRunner, Result

from mlflow_compliance.cli import cli as command_line
from mlflow_compliance.testing import BIN, Server

CLI = str(BIN / "mlflow-compliance")
PASSWORD = "the first long password"
NEW_PASSWORD = "the second long password"


@pytest.fixture
def user(server: Server) -> tuple[str, str]:
    name = f"acct-{uuid.uuid4().hex[:8]}"
    r = requests.post(f"{server.url}/api/2.0/compliance/users/create", auth=server.auth,
                      json={"name": name, "password": PASSWORD}, timeout=30)
    assert r.status_code == 200, r.text
    return name, PASSWORD


def as_user(server: Server, who: tuple[str, str], *args: str, input: str | None = None,
            **env: str) -> Result:
    environment = {"MLFLOW_TRACKING_URI": server.url, "MLFLOW_TRACKING_USERNAME": who[0],
                   "MLFLOW_TRACKING_PASSWORD": who[1], **env}
    return CliRunner().invoke(command_line, list(args), input=input, env=environment)


def signed_in(server: Server, name: str, password: str) -> bool:
    r = requests.post(f"{server.url}/api/2.0/mlflow/experiments/search",
                      json={"max_results": 1}, auth=(name, password), timeout=30)
    return r.status_code == 200


def test_account_password_asks_and_changes_it_at_once(
    server: Server, user: tuple[str, str]
) -> None:
    done = as_user(server, user, "account", "password",
                   input=f"{PASSWORD}\n{NEW_PASSWORD}\n{NEW_PASSWORD}\n")
    assert done.exit_code == 0, done.stderr
    assert PASSWORD not in done.output and NEW_PASSWORD not in done.output  # hidden
    asked = done.stderr.splitlines()
    assert asked == ["Current password: ", "New password: ", "Repeat for confirmation: "]
    assert "password changed" in done.stdout
    assert not signed_in(server, user[0], PASSWORD)
    assert signed_in(server, user[0], NEW_PASSWORD)


def test_account_password_with_a_wrong_current_one_is_exit_2(
    server: Server, user: tuple[str, str]
) -> None:
    done = as_user(server, user, "account", "password",
                   input=f"not my password\n{NEW_PASSWORD}\n{NEW_PASSWORD}\n")
    assert done.exit_code == 2
    assert done.stderr.endswith("Error: current_password: does not match\n")
    assert signed_in(server, *user)


def test_account_password_aborted_at_the_prompt_is_exit_2(
    server: Server, user: tuple[str, str]
) -> None:
    mismatch = as_user(server, user, "account", "password",
                       input=f"{PASSWORD}\n{NEW_PASSWORD}\nsomething else entirely\n")
    assert mismatch.exit_code == 2  # asked again, then the input ended: aborted
    assert "do not match" in mismatch.stderr and mismatch.stderr.endswith("Aborted.\n")
    assert signed_in(server, *user)


def test_account_tokens_create_list_and_revoke(server: Server, user: tuple[str, str]) -> None:
    made = as_user(server, user, "account", "tokens", "create", "--expires", "30")
    assert made.exit_code == 0, made.stderr
    token = made.stdout.strip().splitlines()[-1]
    assert token.startswith("mlc_")
    listed = json.loads(as_user(server, user, "account", "tokens", "list",
                                "--format", "json").stdout)["tokens"]
    assert len(listed) == 1 and listed[0]["user"] == user[0] and listed[0]["expires_at"]
    # The token is a credential of its own: MLflow's MLFLOW_TRACKING_TOKEN.
    with_token = as_user(server, ("", ""), "account", "tokens", "list", "--format", "json",
                         MLFLOW_TRACKING_TOKEN=token)
    assert with_token.exit_code == 0, with_token.stderr
    assert json.loads(with_token.stdout)["tokens"][0]["id"] == listed[0]["id"]
    revoked = as_user(server, user, "account", "tokens", "revoke", listed[0]["id"])
    assert revoked.exit_code == 0, revoked.stderr
    r = requests.post(f"{server.url}/api/2.0/mlflow/experiments/search", json={},
                      headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert r.status_code == 401


def test_account_tokens_never_reach_another_users(server: Server, user: tuple[str, str]) -> None:
    theirs = as_user(server, user, "account", "tokens", "create")
    their_id = theirs.stdout.split()[1]
    other = f"acct-{uuid.uuid4().hex[:8]}"
    assert requests.post(f"{server.url}/api/2.0/compliance/users/create", auth=server.auth,
                         json={"name": other, "password": PASSWORD}, timeout=30).ok
    foreign = as_user(server, (other, PASSWORD), "account", "tokens", "revoke", their_id)
    missing = as_user(server, (other, PASSWORD), "account", "tokens", "revoke", "f" * 16)
    assert foreign.exit_code == missing.exit_code == 2
    assert foreign.stderr.replace(their_id, "ID") == missing.stderr.replace("f" * 16, "ID")
    table = as_user(server, (other, PASSWORD), "account", "tokens", "list")
    assert table.exit_code == 0 and their_id not in table.stdout


def test_an_auditor_manages_its_own_tokens_from_the_command_line(server: Server) -> None:
    name = f"aud-{uuid.uuid4().hex[:8]}"
    assert requests.post(f"{server.url}/api/2.0/compliance/users/create", auth=server.auth,
                         json={"name": name, "password": PASSWORD, "role": "auditor"},
                         timeout=30).ok
    made = as_user(server, (name, PASSWORD), "account", "tokens", "create")
    assert made.exit_code == 0, made.stderr


def test_account_tokens_end_to_end(server: Server, user: tuple[str, str]) -> None:
    env = {**os.environ, "MLFLOW_TRACKING_URI": server.url,
           "MLFLOW_TRACKING_USERNAME": user[0], "MLFLOW_TRACKING_PASSWORD": user[1]}
    made = subprocess.run([CLI, "account", "tokens", "create"], capture_output=True, text=True,
                          timeout=120, env=env)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip().splitlines()[-1]
    listed = subprocess.run(
        [CLI, "account", "tokens", "list", "--format", "json"], capture_output=True, text=True,
        timeout=120, env={**env, "MLFLOW_TRACKING_USERNAME": "", "MLFLOW_TRACKING_PASSWORD": "",
                          "MLFLOW_TRACKING_TOKEN": token})
    assert listed.returncode == 0, listed.stderr
    assert [t["user"] for t in json.loads(listed.stdout)["tokens"]] == [user[0]]
