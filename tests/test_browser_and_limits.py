"""Regression tests for the browser protections (server/browser.py) and the bounds on work
before authentication (server/anonymous.py) and in searches (server/search_limits.py),
on real servers."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import sqlalchemy
from mlflow.store.db.utils import create_sqlalchemy_engine

from mlflow_compliance.server.anonymous import AnonymousLimits
from mlflow_compliance.server.browser import BrowserProtection
from mlflow_compliance.server.search_limits import evaluate_regexp_with_re2
from mlflow_compliance.testing import Server, start_compliance_server

EVIL = "https://evil.example"


def users(server: Server) -> set[str]:
    r = requests.get(server.url + "/api/2.0/compliance/users/list", auth=server.auth, timeout=30)
    assert r.status_code == 200, r.text
    return {u["name"] for u in r.json()["users"]}


def new_user() -> dict[str, str]:
    return {"name": f"csrf-{uuid.uuid4().hex[:8]}", "password": "pw-" + uuid.uuid4().hex,
            "role": "admin"}


def refused(r: requests.Response, status: int, starts: str) -> None:
    assert r.status_code == status, r.text
    assert set(r.json()) == {"error_code", "message"}
    assert r.json()["message"].startswith(starts), r.json()["message"]


# --- 1. browser protections -------------------------------------------------------------


def test_cross_origin_text_plain_post_cannot_create_an_admin(server: Server) -> None:
    # What a page the admin visits can send without a preflight: the browser adds the
    # admin's cached Basic credentials.
    user = new_user()
    r = requests.post(server.url + "/api/2.0/compliance/users/create", data=json.dumps(user),
                      headers={"Content-Type": "text/plain", "Origin": EVIL},
                      auth=server.auth, timeout=30)
    refused(r, 403, "Origin: 'https://evil.example' may not send POST requests")
    assert user["name"] not in users(server)


def test_text_plain_write_to_our_routes_is_refused_without_origin_too(server: Server) -> None:
    # MLFLOW_SERVER_CORS_ALLOWED_ORIGINS=* lets every origin through; the content type
    # still needs a preflight this server never grants.
    user = new_user()
    r = requests.post(server.url + "/api/2.0/compliance/users/create", data=json.dumps(user),
                      headers={"Content-Type": "text/plain"}, auth=server.auth, timeout=30)
    refused(r, 415, "Content-Type: text/plain is not allowed; allowed: application/json")
    assert user["name"] not in users(server)


def test_json_write_without_origin_works(server: Server) -> None:
    user = new_user()
    r = requests.post(server.url + "/api/2.0/compliance/users/create", json=user,
                      auth=server.auth, timeout=30)
    assert r.status_code == 200, r.text
    assert user["name"] in users(server)
    port = urlsplit(server.url).port
    r = requests.post(server.url + "/api/2.0/compliance/users/delete", json={"name": user["name"]},
                      headers={"Origin": f"http://127.0.0.1:{port}"}, auth=server.auth, timeout=30)
    assert r.status_code == 200, r.text  # the UI's own (localhost) origin, as in MLflow


@pytest.mark.parametrize(
    "path", ["/api/2.0/compliance/users/list", "/api/2.0/mlflow/experiments/search?max_results=1",
             "/api/2.0/compliance/server-info"]
)
def test_foreign_host_is_refused_on_our_and_mlflows_routes(server: Server, path: str) -> None:
    # DNS rebinding: the attacker's name resolves to this server.
    r = requests.get(server.url + path, headers={"Host": "evil.example"}, auth=server.auth,
                     timeout=30)
    refused(r, 403, "Host: 'evil.example' is not allowed")


def test_health_answers_any_host_as_in_mlflow(server: Server) -> None:
    r = requests.get(server.url + "/health", headers={"Host": "evil.example"}, timeout=30)
    assert r.status_code == 200


@pytest.mark.parametrize("path", ["/api/2.0/mlflow/experiments/create", "/graphql"])
def test_cross_origin_writes_to_mlflows_routes_get_the_same_answer(
    server: Server, path: str
) -> None:
    r = requests.post(server.url + path, json={"name": f"x-{uuid.uuid4().hex[:6]}"},
                      headers={"Origin": EVIL}, auth=server.auth, timeout=30)
    refused(r, 403, "Origin:")


def test_our_get_routes_need_no_content_type_and_reads_any_origin(server: Server) -> None:
    for headers in ({}, {"Origin": EVIL}):
        r = requests.get(server.url + "/api/2.0/compliance/users/list", headers=headers,
                         auth=server.auth, timeout=30)
        assert r.status_code == 200, r.text
        assert "access-control-allow-origin" not in r.headers  # the browser hides the answer


async def _call(app: Any, method: str, path: str, headers: dict[str, str],
                chunks: tuple[bytes, ...] = (b"",)) -> int:
    """Drive an ASGI app in-process; the status it answers."""
    pending = list(chunks)
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        if not pending:
            return {"type": "http.disconnect"}
        body = pending.pop(0)
        return {"type": "http.request", "body": body, "more_body": bool(pending)}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    scope = {"type": "http", "method": method, "path": path, "query_string": b"",
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}
    await app(scope, receive, send)
    return statuses[0]


async def _ok(scope: Any, receive: Any, send: Any) -> None:
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


def test_browser_protection_follows_mlflows_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    def status(headers: dict[str, str]) -> int:
        return asyncio.run(_call(BrowserProtection(_ok), "POST", path, headers))

    json_post = {"Host": "mlflow.example.com", "Content-Type": "application/json",
                 "Content-Length": "2", "Origin": "https://app.example.com"}
    path = "/api/2.0/compliance/users/create"
    assert status(json_post) == 403  # MLflow's defaults: localhost and private hosts
    monkeypatch.setenv("MLFLOW_SERVER_ALLOWED_HOSTS", "mlflow.example.com")
    monkeypatch.setenv("MLFLOW_SERVER_CORS_ALLOWED_ORIGINS", "https://app.example.com")
    assert status(json_post) == 200
    monkeypatch.setenv("MLFLOW_SERVER_CORS_ALLOWED_ORIGINS", "*")
    text = {**json_post, "Origin": EVIL, "Content-Type": "text/plain"}
    assert status(text) == 415
    monkeypatch.setenv("MLFLOW_SERVER_DISABLE_SECURITY_MIDDLEWARE", "true")
    anywhere = {**json_post, "Host": "evil.example", "Origin": EVIL}
    assert status(anywhere) == 200
    assert status(text) == 415  # our contract


# --- 2. work before authentication ------------------------------------------------------


def _raw_head(server: Server, head: str) -> int:
    """Send a request head only (no body) and return the status the server answers."""
    url = urlsplit(server.url)
    with socket.create_connection((url.hostname, url.port), timeout=60) as sock:
        sock.sendall(head.replace("\n", "\r\n").encode())
        answer = b""
        while b"\r\n" not in answer:
            chunk = sock.recv(4096)
            assert chunk, "the server closed the connection without an answer"
            answer += chunk
    return int(answer.split()[1])


def test_anonymous_search_is_answered_401_before_its_body_is_read(server: Server) -> None:
    # The seed's GET search read up to 64 MiB before the 401; now the 16 MiB the head
    # announces is never awaited.
    host = urlsplit(server.url).netloc
    status = _raw_head(server, f"GET /api/2.0/mlflow/runs/search HTTP/1.1\nHost: {host}\n"
                               "Content-Type: application/json\nContent-Length: 16777216\n\n")
    assert status == 401


def test_anonymous_body_over_64_kib_to_a_public_route_is_refused_unread(server: Server) -> None:
    host = urlsplit(server.url).netloc
    status = _raw_head(server, f"GET /health HTTP/1.1\nHost: {host}\n"
                               "Content-Length: 1048576\n\n")
    assert status == 413


def test_authenticated_bodies_keep_the_usual_limit(server: Server) -> None:
    eid = requests.post(server.url + "/api/2.0/mlflow/experiments/create",
                        json={"name": f"limits-{uuid.uuid4().hex[:6]}"}, auth=server.auth,
                        timeout=30).json()["experiment_id"]
    body = json.dumps({"experiment_ids": [eid]}) + " " * 200_000
    r = requests.post(server.url + "/api/2.0/mlflow/runs/search", data=body, auth=server.auth,
                      headers={"Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 200, r.text


def test_anonymous_chunked_body_is_counted_as_it_arrives() -> None:
    def status(path: str, chunks: tuple[bytes, ...]) -> int:
        return asyncio.run(_call(AnonymousLimits(_ok), "GET", path, {}, chunks))

    assert status("/health", (b"x" * 40_000, b"x" * 40_000, b"")) == 413
    assert status("/health", (b"x" * 1000,)) == 200
    assert status("/made-up", (b"",)) == 401


# --- 3. bounded searches ----------------------------------------------------------------


def test_regexp_on_mlflows_sqlite_engine_is_re2(tmp_path: Path) -> None:
    engine = create_sqlalchemy_engine(f"sqlite:///{tmp_path / 'm.db'}")
    backreference = sqlalchemy.text(r"select regexp('(a)\1', 'aa'), regexp('^a+!$', 'aaa!')")
    with engine.connect() as c:
        assert tuple(c.execute(backreference).one()) == (1, 1)  # MLflow's: Python's re
    evaluate_regexp_with_re2(engine)
    with engine.connect() as c:
        assert tuple(c.execute(backreference).one()) == (0, 1)  # RE2: no backreferences
    engine.dispose()


@pytest.fixture(scope="module")
def lone_worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of its own with one worker: what one stuck request would stop entirely."""
    s = start_compliance_server(tmp_path_factory.mktemp("home-limits"))
    yield s
    s.stop()


def call(server: Server, method: str, path: str, body: Any = None, **kw: Any) -> Any:
    return requests.request(method, server.url + path, json=body, auth=server.auth,
                            timeout=kw.pop("timeout", 60), **kw)


def experiment_with_trace(server: Server, tag: str) -> tuple[str, str]:
    eid = call(server, "POST", "/api/2.0/mlflow/experiments/create",
               {"name": f"limits-{uuid.uuid4().hex[:8]}"}).json()["experiment_id"]
    trace_id = "tr-" + uuid.uuid4().hex
    r = call(server, "POST", "/api/3.0/mlflow/traces", {"trace": {"trace_info": {
        "trace_id": trace_id, "request_time": "2026-01-01T00:00:00Z", "state": "OK",
        "trace_location": {"type": "MLFLOW_EXPERIMENT",
                           "mlflow_experiment": {"experiment_id": eid}},
        "tags": {"x": tag},
    }}})
    assert r.status_code == 200, r.text
    return eid, trace_id


def search_traces(server: Server, eid: str, text: str, **kw: Any) -> requests.Response:
    return call(server, "POST", "/api/3.0/mlflow/traces/search", {
        "locations": [{"type": "MLFLOW_EXPERIMENT",
                       "mlflow_experiment": {"experiment_id": eid}}],
        "filter": text,
    }, **kw)


def test_catastrophic_rlike_leaves_the_worker_free(lone_worker: Server) -> None:
    # Python's re needs 2^40 steps for this; RE2 one pass.
    eid, trace_id = experiment_with_trace(lone_worker, "a" * 40 + "!")
    attack: list[requests.Response | Exception] = []

    def send_attack() -> None:
        try:
            attack.append(search_traces(lone_worker, eid, "tags.x RLIKE '(a+)+$'", timeout=120))
        except requests.RequestException as e:
            attack.append(e)

    thread = threading.Thread(target=send_attack)
    thread.start()
    health = [requests.get(lone_worker.url + "/health", timeout=60) for _ in range(3)]
    thread.join()
    assert [h.status_code for h in health] == [200, 200, 200]
    answer = attack[0]
    assert isinstance(answer, requests.Response), f"the attack got no answer: {answer}"
    assert answer.status_code == 200, answer.text
    assert answer.json().get("traces", []) == []
    found = search_traces(lone_worker, eid, "tags.x RLIKE '^a+!$'").json()["traces"]
    assert [t["trace_id"] for t in found] == [trace_id]


def test_a_thousand_comparisons_are_refused_while_health_answers(lone_worker: Server) -> None:
    eid = call(lone_worker, "POST", "/api/2.0/mlflow/experiments/create",
               {"name": f"limits-{uuid.uuid4().hex[:8]}"}).json()["experiment_id"]
    text = " AND ".join(f"tags.t{i} = 'v'" for i in range(1000))
    r = call(lone_worker, "POST", "/api/2.0/mlflow/runs/search",
             {"experiment_ids": [eid], "filter": text})
    refused(r, 400, "filter: 19885 characters; allowed: at most 8192")
    assert requests.get(lone_worker.url + "/health", timeout=60).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body", "params", "starts"),
    [
        ("GET", "/api/2.0/mlflow/registered-models/search", None,
         {"filter": " AND ".join(["name LIKE 'a%'"] * 21)},
         "filter: 21 comparisons"),
        # camelCase is MLflow's JSON name of filter_string: read, and named, as filter_string
        ("POST", "/api/3.0/mlflow/datasets/search", {"filterString": r"name RLIKE '(a)\1'"},
         None, "filter_string: RLIKE pattern '(a)\\\\1' is not allowed"),
        ("POST", "/api/2.0/mlflow/experiments/search", {"filter": "name = '" + "x" * 9000 + "'"},
         None, "filter: 9009 characters; allowed: at most 8192"),
        ("PUT", "/api/3.0/mlflow/scorers/online-config",
         {"experiment_id": "0", "name": "s", "sample_rate": 0.5,
          "filter_string": "tags.x RLIKE '^a'"},
         None, "filter_string: RLIKE is not allowed in a stored filter"),
    ],
)
def test_filters_are_bounded_on_every_search_route(
    lone_worker: Server, method: str, path: str, body: Any, params: Any, starts: str
) -> None:
    refused(call(lone_worker, method, path, body, params=params), 400, starts)


def test_ordinary_filters_and_simple_rlike_keep_working(any_server: Server) -> None:
    eid, trace_id = experiment_with_trace(any_server, "val-42")
    run = call(any_server, "POST", "/api/2.0/mlflow/runs/create", {
        "experiment_id": eid, "tags": [{"key": "team", "value": "risk"}],
    }).json()["run"]["info"]["run_id"]
    call(any_server, "POST", "/api/2.0/mlflow/runs/log-batch", {
        "run_id": run, "params": [{"key": "lr", "value": "0.1"}],
        "metrics": [{"key": "auc", "value": 0.9, "timestamp": 1, "step": 0}],
    })
    text = ("tags.team = 'risk' AND params.lr = '0.1' AND metrics.auc > 0.5 "
            "AND attributes.status != 'FAILED' AND tags.team LIKE 'r%'")
    r = call(any_server, "POST", "/api/2.0/mlflow/runs/search",
             {"experiment_ids": [eid], "filter": text})
    assert [x["info"]["run_id"] for x in r.json()["runs"]] == [run]
    for pattern in ("^val-[0-9]+$", "val", "(?i)VAL-\\d{2}"):
        found = search_traces(any_server, eid, f"tags.x RLIKE '{pattern}'").json()
        assert [t["trace_id"] for t in found.get("traces", [])] == [trace_id], pattern
    r = call(any_server, "GET", "/api/2.0/mlflow/experiments/search",
             params={"filter": "name LIKE 'limits-%'", "max_results": 1000})
    assert eid in {e["experiment_id"] for e in r.json()["experiments"]}
    refused(search_traces(any_server, eid, r"tags.x RLIKE '(v)\1'"), 400, "filter: RLIKE")
