"""The register of data subjects' requests (GDPR Art. 12(3), 12(4), 15-18, 21): the
deadline arithmetic on its own, then against a real compliance server through the CLI
and REST: recorded under the subject's pseudonym only (the raw id in no file of the
server's home), updated with a history, overdue requests a finding (exit 1), admins
only, bad input refused naming the field."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sqlite3
import subprocess
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import requests

from mlflow_compliance.encryption.keys.configure import open_keyring
from mlflow_compliance.settings import Settings
from mlflow_compliance.subjects.deadline import (
    ExtensionRefused,
    add_months,
    days_left,
    deadline,
    extension,
)
from mlflow_compliance.subjects.pseudonym import INDEX_KEY_SCOPE, normalise
from mlflow_compliance.testing import BIN, Server

CLI = str(BIN / "mlflow-compliance")

# --- the deadline, Art. 12(3) -----------------------------------------------------------


@pytest.mark.parametrize(("received", "due"), [
    (date(2023, 1, 31), date(2023, 2, 28)),
    (date(2024, 1, 31), date(2024, 2, 29)),  # a leap year
    (date(2024, 3, 31), date(2024, 4, 30)),
    (date(2024, 1, 15), date(2024, 2, 15)),
    (date(2023, 12, 20), date(2024, 1, 20)),  # across the year
    (date(2024, 2, 29), date(2024, 3, 29)),
])
def test_one_month_is_the_same_day_next_month_or_its_last_day(received: date,
                                                                due: date) -> None:
    assert deadline(received) == due


def test_an_extension_adds_at_most_two_months_and_needs_a_reason() -> None:
    assert add_months(date(2023, 11, 30), 3) == date(2024, 2, 29)
    assert deadline(date(2023, 1, 31), 2) == date(2023, 4, 30)
    assert extension(0, 2, "many requests at once") == 2
    assert extension(1, 1, "complex") == 2
    with pytest.raises(ExtensionRefused, match=r"^reason:"):
        extension(0, 1, None)
    with pytest.raises(ExtensionRefused, match=r"^reason:"):
        extension(0, 1, "   ")
    with pytest.raises(ExtensionRefused, match=r"^extend_months:"):
        extension(1, 2, "complex")
    with pytest.raises(ExtensionRefused, match=r"^extend_months:"):
        extension(0, 0, "complex")
    with pytest.raises(ExtensionRefused, match=r"^extend_months:"):
        deadline(date(2023, 1, 1), 3)
    assert days_left(date(2024, 2, 29), date(2024, 2, 27)) == 2
    assert days_left(date(2024, 2, 29), date(2024, 3, 1)) == -1


# --- against the server -------------------------------------------------------------------


def cli(server: Server, *args: str, auth: tuple[str, str] | None = None,
        stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MLFLOW_TRACKING_URI": server.url, "COLUMNS": "250"}
    if auth:
        env.update(MLFLOW_TRACKING_USERNAME=auth[0], MLFLOW_TRACKING_PASSWORD=auth[1])
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=300, env=env,
                          input=stdin)


def post(server: Server, route: str, body: dict[str, object],
         auth: tuple[str, str] | None = None) -> requests.Response:
    return requests.post(f"{server.url}/api/2.0/compliance/subjects/requests/{route}",
                         json=body, auth=auth or server.auth, timeout=60)


def listed(server: Server, **query: str) -> list[dict[str, Any]]:
    r = requests.get(f"{server.url}/api/2.0/compliance/subjects/requests/list",
                     params=query, auth=server.auth, timeout=60)
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()["requests"]
    return found


def person() -> str:
    return f"requester-{uuid.uuid4().hex}@example.org"


def request_id(output: str) -> str:
    assert output.startswith("request "), output
    return output.split()[1].rstrip(":")


def test_a_request_is_added_updated_and_listed_through_the_cli(server: Server) -> None:
    who = person()
    received = (datetime.now(UTC).date() - timedelta(days=3)).isoformat()
    added = cli(server, "subjects", "requests", "add", "access", who, "--received", received,
                "--note", "by letter")
    assert added.returncode == 0, added.stderr
    assert who not in added.stdout + added.stderr
    rid = request_id(added.stdout)
    assert "access (Art. 15), received" in added.stdout
    mine = {r["id"]: r for r in listed(server)}[rid]
    assert mine["received_on"] == received and mine["status"] == "received"
    assert mine["deadline"] == deadline(date.fromisoformat(received)).isoformat()
    assert mine["handled_by"] == os.environ["MLFLOW_TRACKING_USERNAME"]
    assert mine["note"] == "by letter" and not mine["overdue"] and "pseudonym" not in mine
    assert mine["days_left"] == (date.fromisoformat(mine["deadline"])
                                 - datetime.now(UTC).date()).days

    steps = [("--status", "in_progress"),
             ("--status", "extended", "--extend-months", "1", "--reason", "complex"),
             ("--status", "extended", "--extend-months", "1", "--reason", "many requests"),
             ("--status", "completed")]
    for step in steps:
        done = cli(server, "subjects", "requests", "update", rid, *step)
        assert done.returncode == 0, done.stderr
    assert "completed, due" in done.stdout
    shown = cli(server, "subjects", "requests", "list", "--status", "completed",
                "--format", "json")
    assert shown.returncode == 0, shown.stderr
    mine = {r["id"]: r for r in json.loads(shown.stdout)["requests"]}[rid]
    assert mine["extended_months"] == 2
    assert mine["deadline"] == deadline(date.fromisoformat(received), 2).isoformat()
    # a closed request stays closed
    r = post(server, "update", {"id": rid, "status": "in_progress"})
    assert r.status_code == 400 and r.json()["message"].startswith("status:"), r.text
    table = cli(server, "subjects", "requests", "list")
    assert table.returncode in (0, 1) and rid in table.stdout


def test_the_history_keeps_every_change(server: Server) -> None:
    made = post(server, "create", {"kind": "objection", "subject_id": person()})
    assert made.status_code == 200, made.text
    rid = made.json()["request"]["id"]
    assert post(server, "update", {"id": rid, "status": "in_progress"}).status_code == 200
    r = post(server, "update", {"id": rid, "status": "refused",
                                "reason": "manifestly unfounded (Art. 12(5))"})
    assert r.status_code == 200, r.text
    answer = r.json()["request"]
    assert answer["status"] == "refused" and answer["reason"].startswith("manifestly")
    history = answer["history"]
    assert [h["status"] for h in history] == ["received", "in_progress", "refused"]
    assert {h["who"] for h in history} == {os.environ["MLFLOW_TRACKING_USERNAME"]}
    assert history[-1]["reason"].startswith("manifestly") and history[0]["reason"] is None
    with sqlite3.connect(server.home / "mlflow.db") as db:
        rows = db.execute("SELECT status FROM compliance_subject_request_history "
                          "WHERE request_id = ? ORDER BY seq", (rid,)).fetchall()
    assert rows == [("received",), ("in_progress",), ("refused",)]


def test_an_overdue_request_is_listed_and_a_finding(server: Server) -> None:
    added = cli(server, "subjects", "requests", "add", "erasure", "-", "--received",
                "2020-01-31", stdin=person() + "\n")
    assert added.returncode == 0, added.stderr
    rid = request_id(added.stdout)
    overdue = {r["id"]: r for r in listed(server, overdue="true")}
    assert overdue[rid]["deadline"] == "2020-02-29" and overdue[rid]["days_left"] < 0
    assert all(r["overdue"] for r in overdue.values())
    done = cli(server, "subjects", "requests", "list", "--overdue", "--format", "json")
    assert done.returncode == 1, done.stderr
    assert rid in {r["id"] for r in json.loads(done.stdout)["requests"]}
    table = cli(server, "subjects", "requests", "list", "--overdue")
    assert table.returncode == 1 and rid in table.stdout and "OVERDUE" in table.stdout
    # closed, it is no longer overdue
    assert post(server, "update", {"id": rid, "status": "withdrawn"}).status_code == 200
    assert rid not in {r["id"] for r in listed(server, overdue="true")}


def test_the_raw_id_is_stored_nowhere_only_its_pseudonym(server: Server) -> None:
    who = person()
    added = cli(server, "subjects", "requests", "add", "restriction", who)
    assert added.returncode == 0, added.stderr
    rid = request_id(added.stdout)
    r = post(server, "create", {"kind": "rectification", "subject_id": who})
    assert r.status_code == 200 and who not in r.text
    assert post(server, "update", {"id": rid, "status": "in_progress"}).status_code == 200
    bad = post(server, "create", {"kind": "forget-me", "subject_id": who})
    assert bad.status_code == 400 and who not in bad.text
    for path in server.home.rglob("*"):
        if path.is_file():
            assert who.encode() not in path.read_bytes(), f"the subject id is in {path}"
    keyring = open_keyring(Settings.from_env(server.home))
    try:
        row = keyring.store.by_scope(INDEX_KEY_SCOPE)
        assert row is not None
        key = keyring.key_for_reading(row.id)
    finally:
        keyring.store.close()
    pseudonym = hmac.new(key, normalise(who).encode(), hashlib.sha256).digest()
    with sqlite3.connect(server.home / "mlflow.db") as db:
        kinds = db.execute("SELECT kind FROM compliance_subject_requests WHERE pseudonym = ? "
                           "ORDER BY kind", (pseudonym,)).fetchall()
    assert kinds == [("rectification",), ("restriction",)]
    audit = (server.home / "audit.db").read_bytes()
    assert b"subject.request.create" in audit and b"subject.request.update" in audit


def test_only_admins_reach_the_register(server: Server) -> None:
    name, password = f"u-{uuid.uuid4().hex[:8]}", "a long enough password"
    r = requests.post(f"{server.url}/api/2.0/compliance/users/create", auth=server.auth,
                      json={"name": name, "password": password}, timeout=30)
    assert r.status_code == 200, r.text
    user = (name, password)
    who = person()
    assert post(server, "create", {"kind": "access", "subject_id": who}, user) \
        .status_code == 403
    assert post(server, "update", {"id": "0" * 32, "status": "completed"}, user) \
        .status_code == 403
    r = requests.get(f"{server.url}/api/2.0/compliance/subjects/requests/list", auth=user,
                     timeout=30)
    assert r.status_code == 403
    for args in (("add", "access", who), ("list",)):
        done = cli(server, "subjects", "requests", *args, auth=user)
        assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
        assert who not in done.stderr


@pytest.mark.parametrize(("body", "field"), [
    ({"status": "done"}, "status"),
    ({"status": "extended", "extend_months": 1}, "reason"),
    ({"status": "extended", "extend_months": 3, "reason": "complex"}, "extend_months"),
    ({"status": "extended", "reason": "complex"}, "extend_months"),
    ({"status": "in_progress", "extend_months": 1, "reason": "complex"}, "extend_months"),
    ({"status": "refused"}, "reason"),
])
def test_a_wrong_update_is_refused_naming_the_field(server: Server, body: dict[str, object],
                                                    field: str) -> None:
    made = post(server, "create", {"kind": "access", "subject_id": person()})
    r = post(server, "update", {"id": made.json()["request"]["id"], **body})
    assert r.status_code == 400, r.text
    assert r.json()["message"].startswith(f"{field}:"), r.text


def test_wrong_input_is_refused_naming_the_field(server: Server) -> None:
    who = person()
    for body, field in [({"kind": "access"}, "subject_id"),
                        ({"kind": "forget", "subject_id": who}, "kind"),
                        ({"kind": "access", "subject_id": who, "received_on": "31/01/2024"},
                         "received_on"),
                        ({"kind": "access", "subject_id": who, "received_on": "2999-01-01"},
                         "received_on")]:
        r = post(server, "create", body)
        assert r.status_code == 400 and r.json()["message"].startswith(f"{field}:"), r.text
    assert post(server, "update", {"id": "0" * 32, "status": "completed"}).status_code == 404
    r = requests.get(f"{server.url}/api/2.0/compliance/subjects/requests/list",
                     params={"status": "finished"}, auth=server.auth, timeout=30)
    assert r.status_code == 400 and r.json()["message"].startswith("status:"), r.text


@pytest.mark.parametrize(("args", "named"), [
    (("add", "access", "x", "--received", "yesterday"), "--received"),
    (("add", "forget", "x"), "KIND"),
    (("add", "access", "  "), "ID"),
    (("update", "0" * 32, "--status", "done"), "--status"),
    (("update", "0" * 32, "--status", "extended", "--reason", "r"), "--extend-months"),
    (("update", "0" * 32, "--status", "extended", "--extend-months", "3", "--reason", "r"),
     "--extend-months"),
    (("update", "0" * 32, "--status", "refused"), "--reason"),
    (("update", "0" * 32, "--status", "completed"), "id:"),
    (("list", "--status", "finished"), "--status"),
])
def test_bad_cli_input_is_exit_2_in_one_line(server: Server, args: tuple[str, ...],
                                             named: str) -> None:
    done = cli(server, "subjects", "requests", *args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1 and named in done.stderr, done.stderr


def test_the_register_works_on_postgresql(pg_server: Server) -> None:
    made = post(pg_server, "create", {"kind": "erasure", "subject_id": person(),
                                      "received_on": "2024-01-31"})
    assert made.status_code == 200, made.text
    rid = made.json()["request"]["id"]
    assert made.json()["request"]["deadline"] == "2024-02-29"
    r = post(pg_server, "update", {"id": rid, "status": "extended", "extend_months": 2,
                                   "reason": "many requests"})
    # three months counted from receipt (31 January -> 30 April), not from 29 February
    assert r.status_code == 200 and r.json()["request"]["deadline"] == "2024-04-30", r.text
    overdue = requests.get(f"{pg_server.url}/api/2.0/compliance/subjects/requests/list",
                           params={"overdue": "true"}, auth=pg_server.auth, timeout=60)
    assert rid in {x["id"] for x in overdue.json()["requests"]}
    assert [h["status"] for h in r.json()["request"]["history"]] == ["received", "extended"]
