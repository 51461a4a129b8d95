"""The audit layer in a real compliance server, on SQLite and on PostgreSQL: every
request becomes exactly one entry, allowed or denied, with who, what and the outcome;
no secret reaches the log; an answered request survives SIGKILL; the seed's switch."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from mlflow_compliance.audit.entry import Entry
from mlflow_compliance.audit.log import AuditLog
from mlflow_compliance.testing import BIN, MINIMUM_RECORD, Server, start_compliance_server

CLI = str(BIN / "mlflow-compliance")
PASSWORD = "a long enough password"


def reader(server: Server) -> AuditLog:
    return AuditLog(server.audit_url(), server.home, None)


@pytest.fixture
def log(any_server: Server) -> Iterator[AuditLog]:
    opened = reader(any_server)
    yield opened
    opened.close()


def by_request(log: AuditLog, request_id: str) -> Entry:
    found = [e for e in log.search(resource=None, limit=1000, after_seq=log.tip().seq - 999)
             if e.request_id == request_id]
    assert len(found) == 1, f"{len(found)} entries for request {request_id}"
    return found[0]


def new_user(server: Server, role: str = "user") -> tuple[str, str]:
    name = f"u-{uuid.uuid4().hex[:8]}"
    r = requests.post(f"{server.url}/api/2.0/compliance/users/create", auth=server.auth,
                      json={"name": name, "password": PASSWORD, "role": role}, timeout=30)
    assert r.status_code == 200, r.text
    return name, PASSWORD


def verify_cli(server: Server) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, "audit", "verify", "--home", str(server.home), "--database-url", server.audit_url()],
        capture_output=True, text=True, timeout=300,
    )


def test_parallel_clients_leave_exactly_one_entry_per_request(
    any_server: Server, log: AuditLog
) -> None:
    clients, each = 8, 20
    who = new_user(any_server)
    answers: list[tuple[str, int]] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        with requests.Session() as session:
            for i in range(each):
                if (n + i) % 2:  # allowed
                    r = session.post(f"{any_server.url}/api/2.0/mlflow/experiments/search",
                                     json={"max_results": 5}, auth=who, timeout=60)
                else:  # denied: user administration is admin-only
                    r = session.get(f"{any_server.url}/api/2.0/compliance/users/list",
                                    auth=who, timeout=60)
                with lock:
                    answers.append((r.headers["x-request-id"], r.status_code))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(s for _, s in answers) == [200] * 80 + [403] * 80
    logged = log.search(principal=who[0], limit=1000)
    assert len(logged) == clients * each
    assert {(e.request_id, e.status) for e in logged} == set(answers)
    assert {e.action for e in logged} == {"experiment.search", "user.list"}
    done = verify_cli(any_server)
    assert done.returncode == 0, done.stdout + done.stderr


def test_an_entry_names_who_what_which_resource_and_the_outcome(
    any_server: Server, log: AuditLog
) -> None:
    url, auth = any_server.url, any_server.auth
    run = requests.post(f"{url}/api/2.0/mlflow/runs/create", json={"experiment_id": "0"},
                        auth=auth, timeout=30).json()["run"]["info"]["run_id"]
    r = requests.get(f"{url}/api/2.0/mlflow/runs/get", params={"run_id": run}, auth=auth,
                     timeout=30)
    entry = by_request(log, r.headers["x-request-id"])
    assert (entry.principal, entry.auth_method, entry.action, entry.status) == (
        "admin", "basic", "run.read", 200)
    assert entry.resources_dict() == {"run_id": run}
    assert entry.client == "127.0.0.1" and entry.method == "GET"
    assert entry.route == "/api/2.0/mlflow/runs/get"
    assert entry.bytes_out == len(r.content) and entry.duration_us > 0
    r = requests.post(f"{url}/api/2.0/mlflow/runs/log-batch", auth=auth, timeout=30,
                      json={"run_id": run, "params": [{"key": "k", "value": "v"}]})
    entry = by_request(log, r.headers["x-request-id"])
    assert entry.action == "run.batch.log" and entry.resources_dict() == {"run_id": run}
    assert entry.bytes_in == len(r.request.body or b"")

    # Denied: bad credentials (no identity is taken from the claimed name), then a
    # user without a grant.
    r = requests.get(f"{url}/api/2.0/mlflow/runs/get", params={"run_id": run},
                     auth=("admin", "wrong password!"), timeout=30)
    entry = by_request(log, r.headers["x-request-id"])
    assert (entry.principal, entry.auth_method, entry.status) == ("anonymous", "rejected", 401)
    assert entry.action == "run.read" and entry.resources_dict() == {"run_id": run}
    stranger = new_user(any_server)
    r = requests.get(f"{url}/api/2.0/mlflow/runs/get", params={"run_id": run}, auth=stranger,
                     timeout=30)
    entry = by_request(log, r.headers["x-request-id"])
    # Not readable answers like not found (404): the entry still names who and what.
    assert (entry.principal, entry.status, entry.action) == (stranger[0], 404, "run.read")
    assert entry.resources_dict() == {"run_id": run}


def test_model_registry_actions_name_model_and_version(server: Server) -> None:
    url, auth = server.url, server.auth
    name = f"model-{uuid.uuid4().hex[:6]}"
    record = [{"key": k, "value": v} for k, v in MINIMUM_RECORD.items()]
    run = requests.post(f"{url}/api/2.0/mlflow/runs/create", auth=auth, timeout=30,
                        json={"experiment_id": "0", "tags": record}).json()["run"]["info"]
    requests.post(f"{url}/api/2.0/mlflow/registered-models/create", json={"name": name},
                  auth=auth, timeout=30).raise_for_status()
    requests.post(f"{url}/api/2.0/mlflow/model-versions/create", auth=auth, timeout=30,
                  json={"name": name, "source": run["artifact_uri"] + "/model",
                        "run_id": run["run_id"]}).raise_for_status()
    r = requests.post(f"{url}/api/2.0/mlflow/registered-models/alias", auth=auth, timeout=30,
                      json={"name": name, "alias": "candidate", "version": "1"})
    assert r.status_code == 200, r.text
    with reader(server) as log:
        entry = by_request(log, r.headers["x-request-id"])
    assert entry.action == "model_version.alias.set"
    assert entry.resources_dict() == {"name": name, "version": "1", "alias": "candidate"}


def test_artifact_transfers_are_logged_with_their_sizes(server: Server) -> None:
    url, auth = server.url, server.auth
    run = requests.post(f"{url}/api/2.0/mlflow/runs/create", json={"experiment_id": "0"},
                        auth=auth, timeout=30).json()["run"]["info"]["run_id"]
    payload = os.urandom(300_000)
    path = f"/api/2.0/mlflow-artifacts/artifacts/0/{run}/artifacts/data/blob.bin"
    up = requests.put(url + path, data=payload, auth=auth, timeout=60)
    down = requests.get(url + path, auth=auth, timeout=60)
    assert up.status_code == 200 and down.content == payload
    with reader(server) as log:
        upload = by_request(log, up.headers["x-request-id"])
        download = by_request(log, down.headers["x-request-id"])
    assert (upload.action, upload.bytes_in) == ("artifact.upload", len(payload))
    assert (download.action, download.bytes_out) == ("artifact.download", len(payload))
    assert download.resources_dict() == {"artifact_path": f"0/{run}/artifacts/data/blob.bin"}


def test_secrets_and_bodies_never_reach_the_log(server: Server) -> None:
    url, auth = server.url, server.auth
    name, password = f"s-{uuid.uuid4().hex[:6]}", "sekrit-" + uuid.uuid4().hex
    requests.post(f"{url}/api/2.0/compliance/users/create", auth=auth, timeout=30,
                  json={"name": name, "password": password, "role": "admin"}).raise_for_status()
    token = requests.post(f"{url}/api/2.0/compliance/tokens/create", auth=auth, timeout=30,
                          json={"name": name}).json()["token"]
    run = requests.post(f"{url}/api/2.0/mlflow/runs/create", json={"experiment_id": "0"},
                        auth=(name, password), timeout=30).json()["run"]["info"]["run_id"]
    param = "param-value-" + uuid.uuid4().hex
    requests.post(f"{url}/api/2.0/mlflow/runs/log-batch", timeout=30,
                  headers={"Authorization": f"Bearer {token}"},
                  json={"run_id": run, "params": [{"key": "p", "value": param}]})
    requests.get(f"{url}/api/2.0/mlflow/runs/get", params={"run_id": run},
                 auth=(name, password + "x"), timeout=30)  # a wrong password, logged as 401
    stored = b"".join(p.read_bytes() for p in server.home.glob("audit.db*"))
    assert name.encode() in stored  # the log holds the principal...
    for secret in (password, token, token.removeprefix("mlc_"), param):
        assert secret.encode() not in stored  # ...never a password, token or body


def test_audit_search_is_for_admins_and_auditors_and_is_itself_logged(server: Server) -> None:
    url = server.url
    auditor, user = new_user(server, "auditor"), new_user(server)
    search = f"{url}/api/2.0/compliance/audit/search"
    r = requests.get(search, params={"principal": user[0]}, auth=user, timeout=30)
    assert r.status_code == 403 and r.json()["error_code"] == "PERMISSION_DENIED"
    r = requests.get(search, params={"principal": user[0], "action": "audit.*"}, auth=auditor,
                     timeout=30)
    assert r.status_code == 200, r.text
    found = r.json()["entries"]
    assert [(e["principal"], e["action"], e["status"]) for e in found] == [
        (user[0], "audit.search", 403)]
    r = requests.get(search, params={"principal": auditor[0], "since": "2020-01-01T00:00:00Z"},
                     auth=auditor, timeout=30)
    assert [e["action"] for e in r.json()["entries"]] == ["audit.search"]
    r = requests.get(search, params={"until": "2020-01-01T00:00:00Z"}, auth=auditor, timeout=30)
    assert r.json() == {"entries": []}
    r = requests.get(search, params={"since": "yesterday"}, auth=auditor, timeout=30)
    assert r.status_code == 400 and r.json()["message"].startswith("since: ")
    r = requests.get(search, params={"max_results": "0"}, auth=auditor, timeout=30)
    assert r.status_code == 400 and r.json()["message"].startswith("max_results: ")


def test_audit_search_command(server: Server) -> None:
    auditor = new_user(server, "auditor")
    env = {**os.environ, "MLFLOW_TRACKING_URI": server.url,
           "MLFLOW_TRACKING_USERNAME": auditor[0], "MLFLOW_TRACKING_PASSWORD": auditor[1]}
    done = subprocess.run([CLI, "audit", "search", "--action", "user.create", "--format", "json"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert auditor[0] in done.stdout  # the admin's creation of this auditor
    bad = subprocess.run([CLI, "audit", "search", "--until", "soon"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert bad.returncode == 2 and bad.stderr.startswith("Error: until: ")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_sigkill_under_load_loses_no_entry_of_an_answered_request(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    uri = request.getfixturevalue("pg_database") if backend == "postgresql" else None
    server = start_compliance_server(tmp_path / "home", workers=2, backend_store_uri=uri)
    answered: list[str] = []
    stop = threading.Event()

    def client() -> None:
        with requests.Session() as session:
            while not stop.is_set():
                try:
                    r = session.post(f"{server.url}/api/2.0/mlflow/runs/create",
                                     json={"experiment_id": "0"}, auth=server.auth, timeout=30)
                except requests.RequestException:
                    return  # the server is gone
                if r.status_code == 200:
                    answered.append(r.headers["x-request-id"])

    threads = [threading.Thread(target=client) for _ in range(6)]
    for t in threads:
        t.start()
    try:
        while len(answered) < 60:
            time.sleep(0.05)
        os.killpg(server.process.pid, signal.SIGKILL)
    finally:
        stop.set()
        for t in threads:
            t.join()
        server.stop()
    log = reader(server)
    try:
        logged = {e.request_id for e in log.entries()}
    finally:
        log.close()
    missing = set(answered) - logged
    assert len(answered) >= 60 and not missing, f"{len(missing)} answered requests not logged"
    done = verify_cli(server)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_broken_audit_store_withholds_the_answer(tmp_path: Path) -> None:
    server = start_compliance_server(tmp_path / "home")
    try:
        with sqlite3.connect(server.home / "audit.db") as db:
            db.execute("ALTER TABLE compliance_audit_entries RENAME TO moved_away")
        r = requests.post(f"{server.url}/api/2.0/mlflow/experiments/search",
                          json={"max_results": 5}, auth=server.auth, timeout=30)
        assert r.status_code == 503
        assert r.json()["error_code"] == "TEMPORARILY_UNAVAILABLE"
        with sqlite3.connect(server.home / "audit.db") as db:
            db.execute("ALTER TABLE moved_away RENAME TO compliance_audit_entries")
        r = requests.post(f"{server.url}/api/2.0/mlflow/experiments/search",
                          json={"max_results": 5}, auth=server.auth, timeout=30)
        assert r.status_code == 200
    finally:
        server.stop()


def test_access_logging_false_turns_it_off_loudly_and_is_logged(tmp_path: Path) -> None:
    server = start_compliance_server(tmp_path / "home", env={"MLFLOW_ACCESS_LOGGING": "false"})
    try:
        r = requests.post(f"{server.url}/api/2.0/mlflow/experiments/search",
                          json={"max_results": 5}, auth=server.auth, timeout=30)
        assert r.status_code == 200 and "x-request-id" not in r.headers
    finally:
        server.stop()
    assert "ACCESS LOGGING IS OFF" in server.log.read_text()
    log = reader(server)
    try:
        entries = list(log.entries())
    finally:
        log.close()
    assert [(e.action, e.resources_dict()) for e in entries] == [
        ("server.start", {"access_logging": "off", "artifact_encryption": "on"})]


@pytest.mark.parametrize(
    ("name", "value", "allowed"),
    [("MLFLOW_ACCESS_LOGGING", "maybe", "true, false"),
     ("MLFLOW_COMPLIANCE_AUDIT_SYNC", "sometimes", "normal, full")],
)
def test_an_audit_switch_with_a_bad_value_is_refused(
    tmp_path: Path, name: str, value: str, allowed: str
) -> None:
    env = {**os.environ, name: value}
    done = subprocess.run([CLI, "server", "--home", str(tmp_path / "h")], capture_output=True,
                          text=True, timeout=60, env=env)
    assert done.returncode == 2
    assert done.stderr == f"Error: {name}: {value!r} is not allowed; allowed: {allowed}\n"
    assert not (tmp_path / "h").exists()  # refused before anything was created
