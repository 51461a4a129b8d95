"""What an audit entry names, and that it always stays one readable, well-formed entry:
resources are valid JSON under their limit whatever the request sent; no control or
line-separator character reaches any field; create routes name what they created;
trace routes name their traces and experiments; only canonical field spellings are
read. The server tests read the log back as an auditor does: the REST search, the CLI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import unicodedata
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
import requests
from starlette.types import Message, Receive, Scope, Send

from mlflow_compliance.audit.entry import (
    BIDI,
    CONTROL,
    MAX_RESOURCES,
    Entry,
    clean,
    link,
)
from mlflow_compliance.audit.writer import GroupWriter
from mlflow_compliance.server import audit as layer
from mlflow_compliance.server.authorization.table import ROUTES, find
from mlflow_compliance.testing import BIN, MINIMUM_RECORD, Server

CLI = str(BIN / "mlflow-compliance")
PASSWORD = "a long enough password"
SEARCH = "/api/2.0/compliance/audit/search"
# Every character a reader could take for the end of a line.
LINE_BREAKS = "\n\x0b\x0c\r\x1c\x1d\x1e\x85\u2028\u2029"


# --- the entry itself ---------------------------------------------------------------


def sample(**fields: Any) -> Entry:
    values: dict[str, Any] = {
        "time_us": 1, "request_id": "r", "principal": "p", "auth_method": "basic",
        "client": "127.0.0.1", "method": "GET", "route": "/x", "action": "run.read",
        "resources": "{}", "status": 200, "bytes_in": 0, "bytes_out": 0, "duration_us": 1,
    }
    return Entry(**{**values, **fields})


@pytest.mark.parametrize(
    "named",
    [
        {name: "x" * 5000 for name in ("run_id", "version", "alias", "key", "stage", "path")},
        {"trace_ids": ["tr-" + "f" * 2000] * 10_000},
        {f"key-{i}-" + "k" * 2000: "v" * 2000 for i in range(500)},
        {"quotes": '"\\' * 3000, "controls": "\x00\n\x85\u2028" * 2000},
        {"nested": {"a": [[["deep"]]], "b": {"c": {"d": 1}}}, "nan": float("nan")},
        {"mixed": [1, 2.5, True, None, "s", {"k": "v"}] * 1000, 7: "an int key"},
    ],
)
def test_resources_are_valid_json_under_the_limit_whatever_the_values(
    named: dict[Any, Any],
) -> None:
    text = Entry.resources_json(named)
    assert len(text) <= MAX_RESOURCES
    parsed = json.loads(text)  # always a JSON object, never JSON cut mid-way
    assert isinstance(parsed, dict) and parsed
    assert text.isprintable() and not set(map(ord, text)) & CONTROL
    assert text == json.dumps(parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def test_long_values_are_cut_but_short_ones_survive_whole() -> None:
    run_id = uuid.uuid4().hex
    parsed = json.loads(Entry.resources_json({"run_id": run_id, "path": "p" * 5000,
                                              "trace_ids": ["t" * 40] * 150}))
    assert parsed["run_id"] == run_id
    assert parsed["path"].startswith("ppp") and len(parsed["path"]) < 5000
    assert 0 < len(parsed["trace_ids"]) < 150


def test_every_control_and_line_separator_character_is_replaced() -> None:
    every = [chr(c) for c in range(sys.maxunicode + 1)
             if unicodedata.category(chr(c)) in ("Cc", "Zl", "Zp")
             or len(f"a{chr(c)}b".splitlines()) > 1]
    every += [chr(c) for c in sorted(BIDI)]
    assert {ord(c) for c in every} == CONTROL  # C0, DEL, C1, U+2028, U+2029, bidi
    dirty = "".join(every)
    assert clean(dirty, len(dirty)) == "\ufffd" * len(every)
    for name in ("principal", "client", "route", "method", "resources", "request_id"):
        value = getattr(sample(**{name: f"a{dirty}b"}), name)
        assert value == "a" + "\ufffd" * len(every) + "b", name
    assert Entry.resources_json({f"k{LINE_BREAKS}": f"v{LINE_BREAKS}"}) == (
        '{"k' + "\ufffd" * 10 + '":"v' + "\ufffd" * 10 + '"}')
    assert clean("ok \u00e9\u4e2d\U0001f600") == "ok \u00e9\u4e2d\U0001f600"  # text stays


def test_an_entry_read_back_keeps_the_text_its_hash_commits_to() -> None:
    # An entry stored by an earlier version with a raw U+2028 is read back as stored,
    # so its fields still match its hash (and an export of it still checks).
    stored = sample(principal="eve").canonical().replace("eve", "eve\u2028x")
    chain_hash = link("0" * 64, stored)
    entry = Entry.from_record(stored, chain_hash)
    assert entry.principal == "eve\u2028x"
    assert entry.canonical() == stored and entry.chained("0" * 64) == chain_hash


def test_resources_cut_mid_json_by_an_earlier_version_still_read() -> None:
    cut = '{"alias":"aaaa","run_id":"xx'
    assert sample(resources=cut).resources_dict() == {"unparsed": cut}
    assert sample(resources=cut).as_dict()["resources"] == {"unparsed": cut}
    assert sample(resources='{"run_id":"r"}').resources_dict() == {"run_id": "r"}


def test_the_audit_layer_names_only_actions_of_the_route_table() -> None:
    actions = {r.action for r in ROUTES}
    assert set(layer.CREATED) <= actions
    assert set(layer.TRACE_BODIES) <= actions
    assert all(a.startswith(layer.TRACE_ACTIONS) for a in layer.TRACE_BODIES)


# --- the ASGI layer, with a stand-in app and writer ---------------------------------


class Recorder:
    """A writer that commits at once, and one timeline of commits and sends."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.entries: list[Entry] = []

    async def append(self, entry: Entry) -> None:
        self.events.append("commit")
        self.entries.append(entry)


def scope_for(method: str, path: str, query: bytes = b"") -> Scope:
    return {"type": "http", "method": method, "path": path, "query_string": query,
            "headers": [], "client": ("127.0.0.1", 1234)}


def run_layer(app: Any, scope: Scope, body: list[bytes] | None = None) -> Recorder:
    import anyio

    recorder = Recorder()
    capture = layer.AuditCapture(app, cast(GroupWriter, recorder))
    messages = [{"type": "http.request", "body": b, "more_body": i < len(body) - 1}
                for i, b in enumerate(body)] if body else [{"type": "http.request"}]

    async def receive() -> Message:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            recorder.events.append("start")
        else:
            recorder.events.append(f"body {message.get('body', b'')!r}")

    anyio.run(capture, scope, receive, send)
    return recorder


def answering(route_path: str, chunks: list[bytes], status: int = 200) -> Any:
    """An app that answers in ``chunks``, as the authorization layer notes the route."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        found = find(scope["method"], route_path)
        assert found is not None
        layer.note(scope, route=found[0], params=found[1])
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json")]})
        for i, chunk in enumerate(chunks):
            await send({"type": "http.response.body", "body": chunk,
                        "more_body": i < len(chunks) - 1})

    return app


def test_a_create_answer_is_copied_not_held_and_its_entry_is_committed_before_the_end() -> None:
    path = "/api/2.0/mlflow/runs/create"
    chunks = [b'{"run": {"info": ', b'{"run_id": "r-42", "experiment_id": "3"}}', b"}"]
    recorder = run_layer(answering(path, chunks), scope_for("POST", path))
    assert recorder.events == [
        "start", f"body {chunks[0]!r}", f"body {chunks[1]!r}", "commit", f"body {chunks[2]!r}"]
    assert recorder.entries[0].resources_dict() == {"run_id": "r-42"}


def test_a_large_create_answer_is_neither_kept_nor_parsed() -> None:
    path = "/api/2.0/mlflow/experiments/create"
    big = b'{"experiment_id": "9", "pad": "' + b"x" * layer.SMALL + b'"}'
    chunks = [big[:10], big[10:], b""]
    recorder = run_layer(answering(path, chunks), scope_for("POST", path))
    assert recorder.events[-2:] == ["commit", "body b''"]
    assert recorder.entries[0].resources_dict() == {}


def test_a_failed_create_names_nothing_created() -> None:
    path = "/api/2.0/mlflow/experiments/create"
    recorder = run_layer(answering(path, [b'{"experiment_id": "9"}'], status=400),
                         scope_for("POST", path))
    assert recorder.entries[0].resources_dict() == {}


def test_a_trace_body_is_read_once_and_handed_on_unchanged() -> None:
    path = "/api/3.0/mlflow/traces/batchGetInfos"
    seen: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        while True:
            seen.append(await receive())
            if not seen[-1].get("more_body"):
                break
        await answering(path, [b"{}"])(scope, receive, send)

    body = [b'{"trace_ids": ["tr-1",', b' "tr-2"], "experimentIds": ["9"]}']
    recorder = run_layer(app, scope_for("POST", path), body)
    assert [m["body"] for m in seen] == body
    entry = recorder.entries[0]
    assert entry.resources_dict() == {"trace_ids": ["tr-1", "tr-2"]}  # never experimentIds
    assert entry.bytes_in == sum(map(len, body))

    seen.clear()
    large = [b'{"trace_ids": ["tr-1"], "pad": "', b"x" * layer.SMALL, b'"}']
    recorder = run_layer(app, scope_for("POST", path), large)
    assert [m["body"] for m in seen] == large  # passed on as it came, not parsed
    assert recorder.entries[0].resources_dict() == {}
    assert recorder.entries[0].bytes_in == sum(map(len, large))


def test_query_fields_are_read_by_their_exact_names_only() -> None:
    path = "/api/2.0/mlflow/runs/get"
    query = b"run_id%5B%5D=bracketed&runId=camel&version=&alias=a1&alias=a2&key=%C2%85k"
    recorder = run_layer(answering(path, [b"{}"]), scope_for("GET", path, query))
    assert recorder.entries[0].resources_dict() == {"alias": ["a1", "a2"], "key": "\ufffdk"}


# --- a real server, read back through the REST search and the CLI -------------------


@pytest.fixture
def since() -> Iterator[str]:
    yield (datetime.now(UTC) - timedelta(seconds=1)).isoformat()


def entry_of(server: Server, response: requests.Response, since: str) -> dict[str, Any]:
    """The entry of ``response``, found through the REST audit search."""
    wanted = response.headers["x-request-id"]
    params: dict[str, Any] = {"since": since, "max_results": 1000}
    while True:
        r = requests.get(server.url + SEARCH, params=params, auth=server.auth, timeout=30)
        assert r.status_code == 200, r.text
        page = r.json()
        for entry in page["entries"]:
            if entry["request_id"] == wanted:
                return cast(dict[str, Any], entry)
        if "next_page_token" not in page:
            raise AssertionError(f"no entry for request {wanted}")
        params["page_token"] = page["next_page_token"]


def cli_search(server: Server, *args: str) -> list[dict[str, Any]]:
    assert server.auth is not None
    env = {**os.environ, "MLFLOW_TRACKING_URI": server.url,
           "MLFLOW_TRACKING_USERNAME": server.auth[0],
           "MLFLOW_TRACKING_PASSWORD": server.auth[1]}
    done = subprocess.run([CLI, "audit", "search", "--format", "json", "--max-results", "1000",
                           *args], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    return cast(list[dict[str, Any]], json.loads(done.stdout)["entries"])


def new_user(server: Server) -> tuple[str, str]:
    name = f"u-{uuid.uuid4().hex[:8]}"
    r = requests.post(f"{server.url}/api/2.0/compliance/users/create", auth=server.auth,
                      json={"name": name, "password": PASSWORD, "role": "user"}, timeout=30)
    assert r.status_code == 200, r.text
    return name, PASSWORD


def test_an_anonymous_request_with_long_parameters_leaves_a_searchable_entry(
    server: Server, since: str
) -> None:
    marker = uuid.uuid4().hex
    params = {name: f"{marker}-{name}-" + "x" * 3000
              for name in ("run_id", "version", "alias", "key", "stage", "path")}
    r = requests.get(f"{server.url}/api/2.0/mlflow/runs/get", params=params, timeout=30)
    assert r.status_code == 401
    entry = entry_of(server, r, since)  # the search answers, with the entry in it
    assert (entry["principal"], entry["action"]) == ("anonymous", "run.read")
    resources = entry["resources"]
    assert set(resources) == set(params)
    assert all(resources[n].startswith(f"{marker}-{n}-") for n in params)
    assert len(json.dumps(resources, separators=(",", ":"))) <= MAX_RESOURCES
    found = cli_search(server, "--resource", marker)
    assert [e["request_id"] for e in found] == [entry["request_id"]]


def test_control_and_line_separator_characters_never_reach_an_entry(
    server: Server, since: str, tmp_path: Path
) -> None:
    marker = uuid.uuid4().hex
    dirty = "".join(chr(c) for c in sorted(CONTROL))
    r1 = requests.get(f"{server.url}/api/2.0/mlflow/runs/get", timeout=30, auth=server.auth,
                      params={"run_id": f"{marker}{dirty}", "alias": f"a{LINE_BREAKS}b"})
    r2 = requests.get(f"{server.url}/api/2.0/mlflow/{marker}/x%C2%85y%E2%80%A8z%E2%80%A9",
                      timeout=30)
    entries = [entry_of(server, r, since) for r in (r1, r2)]
    for entry in entries:
        for name, value in entry.items():
            text = json.dumps(value, ensure_ascii=False) if name == "resources" else str(value)
            assert not set(map(ord, text)) & CONTROL, (name, text)
    assert entries[0]["resources"]["run_id"] == marker + "\ufffd" * len(CONTROL)
    assert entries[0]["resources"]["alias"] == "a" + "\ufffd" * len(LINE_BREAKS) + "b"
    assert entries[1]["route"] == f"/api/2.0/mlflow/{marker}/x\ufffdy\ufffdz\ufffd"
    # An export splits into exactly its lines, whatever splits them.
    out = tmp_path / "audit.jsonl"
    done = subprocess.run([CLI, "audit", "export", "--home", str(server.home), "--database-url",
                           server.audit_url(), "-o", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = out.read_text(encoding="utf-8").splitlines()
    exported = [json.loads(line) for line in lines]  # each line one whole entry
    ours = [e for e in exported if e["request_id"] in {x["request_id"] for x in entries}]
    assert len(ours) == 2


def test_create_routes_name_what_they_created(server: Server, since: str) -> None:
    url, auth = server.url, server.auth
    user = new_user(server)
    created = requests.post(f"{url}/api/2.0/mlflow/experiments/create", auth=user, timeout=30,
                            json={"name": f"e-{uuid.uuid4().hex[:8]}"})
    experiment_id = created.json()["experiment_id"]
    assert entry_of(server, created, since)["resources"] == {"experiment_id": experiment_id}
    record = [{"key": k, "value": v} for k, v in MINIMUM_RECORD.items()]
    run = requests.post(f"{url}/api/2.0/mlflow/runs/create", auth=auth, timeout=30,
                        json={"experiment_id": experiment_id, "tags": record})
    info = run.json()["run"]["info"]
    assert entry_of(server, run, since)["resources"] == {
        "experiment_id": experiment_id, "run_id": info["run_id"]}
    name = f"model-{uuid.uuid4().hex[:8]}"
    model = requests.post(f"{url}/api/2.0/mlflow/registered-models/create", auth=auth,
                          json={"name": name}, timeout=30)
    assert entry_of(server, model, since)["resources"] == {"name": name}
    version = requests.post(f"{url}/api/2.0/mlflow/model-versions/create", auth=auth, timeout=30,
                            json={"name": name, "source": info["artifact_uri"] + "/model",
                                  "run_id": info["run_id"]})
    assert version.status_code == 200, version.text
    assert entry_of(server, version, since)["resources"] == {"name": name, "version": "1"}
    logged = requests.post(f"{url}/api/2.0/mlflow/logged-models", auth=auth, timeout=30,
                           json={"experiment_id": experiment_id, "name": "m"})
    model_id = logged.json()["model"]["info"]["model_id"]
    assert entry_of(server, logged, since)["resources"] == {
        "experiment_id": experiment_id, "model_id": model_id}
    again = requests.post(f"{url}/api/2.0/mlflow/registered-models/create", auth=auth,
                          json={"name": name}, timeout=30)
    assert again.status_code != 200
    assert entry_of(server, again, since)["resources"] == {}  # nothing was created


def test_trace_reads_and_searches_name_their_traces_and_experiments(
    server: Server, since: str
) -> None:
    url, auth = server.url, server.auth
    experiment_id = requests.post(f"{url}/api/2.0/mlflow/experiments/create", auth=auth,
                                  json={"name": f"t-{uuid.uuid4().hex[:8]}"},
                                  timeout=30).json()["experiment_id"]
    trace_id = f"tr-{uuid.uuid4().hex}"
    location: dict[str, Any] = {"type": "MLFLOW_EXPERIMENT",
                                "mlflow_experiment": {"experiment_id": experiment_id}}
    started = requests.post(f"{url}/api/3.0/mlflow/traces", auth=auth, timeout=30, json={
        "trace": {"trace_info": {"trace_id": trace_id, "trace_location": location,
                                 "request_time": "2026-01-01T00:00:00Z", "state": "OK"}}})
    assert started.status_code == 200, started.text
    stranger = new_user(server)
    calls = {
        "trace.start": started,
        "trace.info.read": requests.get(f"{url}/api/3.0/mlflow/traces/{trace_id}", auth=auth,
                                        timeout=30),
        "trace.read": requests.get(f"{url}/api/3.0/mlflow/traces/get", auth=auth, timeout=30,
                                   params={"trace_id": trace_id}),
        "trace.info.batch.read": requests.post(f"{url}/api/3.0/mlflow/traces/batchGetInfos",
                                               auth=auth, json={"trace_ids": [trace_id]},
                                               timeout=30),
        "trace.search": requests.post(f"{url}/api/3.0/mlflow/traces/search", auth=auth,
                                      json={"locations": [location]}, timeout=30),
        "trace.legacy.search": requests.get(f"{url}/api/2.0/mlflow/traces", auth=auth,
                                            params={"experiment_ids": experiment_id},
                                            timeout=30),
        "trace.artifact.download": requests.get(f"{url}/ajax-api/3.0/mlflow/get-trace-artifact",
                                                auth=auth, params={"request_id": trace_id},
                                                timeout=30),
    }
    assert calls["trace.info.read"].status_code == 200, calls["trace.info.read"].text
    assert trace_id in calls["trace.search"].text
    expected = {
        "trace.start": {"trace_id": trace_id, "experiment_id": experiment_id},
        "trace.info.read": {"trace_id": trace_id},
        "trace.read": {"trace_id": trace_id},
        "trace.info.batch.read": {"trace_ids": [trace_id]},
        "trace.search": {"locations": [experiment_id]},
        "trace.legacy.search": {"experiment_ids": experiment_id},
        "trace.artifact.download": {"request_id": trace_id},
    }
    for action, response in calls.items():
        entry = entry_of(server, response, since)
        assert (entry["action"], entry["resources"]) == (action, expected[action])
    # Narrowed to nothing before MLflow read the body (an experiment the stranger may not
    # read finds nothing): the entry still names what was asked for.
    refused = requests.post(f"{url}/api/3.0/mlflow/traces/search", auth=stranger,
                            json={"locations": [location]}, timeout=30)
    assert (refused.status_code, refused.json()) == (200, {})
    entry = entry_of(server, refused, since)
    assert (entry["principal"], entry["resources"]) == (stranger[0], {"locations": [experiment_id]})
    # Who read trace X: one search names every request that touched it.
    found = cli_search(server, "--resource", trace_id, "--since", since)
    assert {e["action"] for e in found} == {a for a, named in expected.items()
                                            if trace_id in json.dumps(named)}


def test_only_the_canonical_spelling_of_a_field_is_named(server: Server, since: str) -> None:
    url, auth = server.url, server.auth
    run_id = requests.post(f"{url}/api/2.0/mlflow/runs/create", json={"experiment_id": "0"},
                           auth=auth, timeout=30).json()["run"]["info"]["run_id"]
    other = uuid.uuid4().hex
    bracketed = requests.get(f"{url}/api/2.0/mlflow/runs/get", params={"run_id[]": run_id},
                             auth=auth, timeout=30)
    camel = requests.post(f"{url}/api/2.0/mlflow/runs/update", auth=auth, timeout=30,
                          json={"runId": run_id, "status": "FINISHED"})
    twice = requests.get(f"{url}/api/2.0/mlflow/runs/get", auth=auth, timeout=30,
                         params=[("run_id", run_id), ("run_id", other)])
    entry = entry_of(server, bracketed, since)
    assert run_id not in json.dumps(entry["resources"]), entry
    # runId is run_id to MLflow's parser: the body is put in that spelling before anyone
    # reads it, so the entry names the run MLflow acted on, as run_id.
    assert camel.status_code == 200, camel.text
    assert entry_of(server, camel, since)["resources"] == {"run_id": run_id}
    assert entry_of(server, twice, since)["resources"] == {"run_id": [run_id, other]}
