"""Filtered searches page as if the hidden items did not exist: no oracle in the tokens.

Against a real server: the two page-token oracles of the penetration test (hidden
experiment and model names; tag values of personal-data runs), and paging through
visible and hidden items of every filtered search. In process, against a stand-in for
MLflow: the answer equals MLflow's over the visible items only, page by page, and the
token is sealed.
"""

from __future__ import annotations

import base64
import json
import random
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

import anyio
import pytest
import requests
from cryptography.fernet import Fernet

from mlflow_compliance.identity.principal import SCOPE_KEY, Principal, Role
from mlflow_compliance.server.authorization import paging
from mlflow_compliance.server.authorization.paging import (
    InvalidPageToken,
    PageTokens,
    Search,
    answer_visible,
)
from mlflow_compliance.testing import MINIMUM_RECORD, Server

PASSWORD = "correct horse battery"
PERSONAL = {"key": "compliance.gdpr.personal_data", "value": "true"}
# A run's minimum record (versions are registered from it); personal runs keep PERSONAL.
RECORD = [{"key": k, "value": v} for k, v in MINIMUM_RECORD.items()]
RISK = [t for t in RECORD if t["key"] != PERSONAL["key"]]

# --- on a real server -----------------------------------------------------------------


def api(server: Server, method: str, path: str, who: Any, body: Any = None) -> requests.Response:
    if method == "GET":
        return requests.get(server.url + path, params=body, auth=who, timeout=60)
    return requests.request(method, server.url + path, json=body, auth=who, timeout=60)


def ok(r: requests.Response) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    return r.json() if r.content else {}


@dataclass
class World:
    """Visible and hidden items of every filtered search, for one reader."""

    prefix: str
    reader: tuple[str, str]
    experiment_id: str  # readable; its runs and logged models mix personal and not
    visible_experiments: set[str]
    visible_runs: set[str]
    visible_logged_models: set[str]
    visible_models: set[str]
    visible_versions: set[tuple[str, str]]


def _user(server: Server) -> tuple[str, str]:
    name = f"pager-{uuid.uuid4().hex[:6]}"
    ok(api(server, "POST", "/api/2.0/compliance/users/create", server.auth,
           {"name": name, "password": PASSWORD, "role": "user", "clearances": []}))
    return name, PASSWORD


def _grant(server: Server, who: tuple[str, str], kind: str, target: str) -> None:
    ok(api(server, "POST", "/api/2.0/compliance/grants/set", server.auth,
           {"name": who[0], "kind": kind, "target": target, "permission": "read"}))


# Visible (v) and hidden (h) items, interleaved in MLflow's order.
PATTERN = "vhhvhvvhhhv"


@pytest.fixture(scope="module")
def world(server: Server) -> World:
    admin, p = server.auth, f"pg{uuid.uuid4().hex[:6]}"
    reader = _user(server)
    experiments: set[str] = set()
    for i, kind in enumerate(PATTERN):
        eid = ok(api(server, "POST", "/api/2.0/mlflow/experiments/create", admin,
                     {"name": f"{p}-exp-{i:02d}"}))["experiment_id"]
        if kind == "v":
            _grant(server, reader, "experiment", eid)
            experiments.add(eid)
    for i in range(2):  # matched by `LIKE '{p}-secret%'`, never readable
        ok(api(server, "POST", "/api/2.0/mlflow/experiments/create", admin,
               {"name": f"{p}-secret-{i}"}))
    eid = ok(api(server, "POST", "/api/2.0/mlflow/experiments/create", admin,
                 {"name": f"{p}-mixed"}))["experiment_id"]
    _grant(server, reader, "experiment", eid)
    runs, logged = set(), set()
    for i, kind in enumerate(PATTERN):
        tags = [{"key": "x", "value": f"zeta-{i}" if kind == "v" else f"alpha-{i}"}]
        tags += RECORD if kind == "v" else [PERSONAL, *RISK]
        run = ok(api(server, "POST", "/api/2.0/mlflow/runs/create", admin,
                     {"experiment_id": eid, "start_time": 1_000 + i, "tags": tags}))
        model = ok(api(server, "POST", "/api/2.0/mlflow/logged-models", admin,
                       {"experiment_id": eid, "name": f"lm-{i:02d}",
                        "tags": [] if kind == "v" else [PERSONAL]}))
        if kind == "v":
            runs.add(run["run"]["info"]["run_id"])
            logged.add(model["model"]["info"]["model_id"])
    source_run = sorted(runs)[0]
    models, versions = set(), set()
    for i, kind in enumerate(PATTERN):
        name = f"{p}-rm-{i:02d}"
        ok(api(server, "POST", "/api/2.0/mlflow/registered-models/create", admin,
               {"name": name}))
        if kind == "v":
            _grant(server, reader, "model", name)
            models.add(name)
    for i in range(2):
        ok(api(server, "POST", "/api/2.0/mlflow/registered-models/create", admin,
               {"name": f"{p}-secret-{i}"}))
    # Versions: of a readable model (personal or not) and of an unreadable one.
    readable, unreadable = f"{p}-rm-00", f"{p}-rm-01"
    for i, kind in enumerate(PATTERN):
        hidden_by = "personal" if i % 2 else "grant"
        name = readable if kind == "v" or hidden_by == "personal" else unreadable
        mv = ok(api(server, "POST", "/api/2.0/mlflow/model-versions/create", admin,
                    {"name": name, "source": f"runs:/{source_run}/model", "run_id": source_run,
                     "tags": [] if kind == "v" else [PERSONAL]}))["model_version"]
        if kind == "v":
            versions.add((mv["name"], mv["version"]))
    return World(p, reader, eid, experiments, runs, logged, models, versions)


def test_hidden_experiment_and_model_names_leave_no_page_token(
    server: Server, world: World
) -> None:
    for path, method in [("/api/2.0/mlflow/experiments/search", "POST"),
                         ("/api/2.0/mlflow/experiments/search", "GET"),
                         ("/api/2.0/mlflow/registered-models/search", "GET")]:
        hidden = ok(api(server, method, path, world.reader,
                        {"filter": f"name LIKE '{world.prefix}-secret%'", "max_results": 1}))
        nothing = ok(api(server, method, path, world.reader,
                         {"filter": f"name LIKE '{world.prefix}-nothing%'", "max_results": 1}))
        assert hidden == nothing == {}, (path, method, hidden)


def test_tag_values_of_personal_runs_leave_no_page_token(server: Server, world: World) -> None:
    def search(pattern: str) -> dict[str, Any]:
        return ok(api(server, "POST", "/api/2.0/mlflow/runs/search", world.reader,
                      {"experiment_ids": [world.experiment_id], "max_results": 1,
                       "filter": f"tags.x LIKE '{pattern}'"}))

    assert search("alpha%") == search("omega%") == {}  # only personal runs say alpha
    first = search("zeta%")  # the visible runs still page
    assert len(first["runs"]) == 1 and first["next_page_token"]


@dataclass(frozen=True)
class Case:
    path: str
    method: str
    items: str
    request: dict[str, Any]


def _cases(w: World) -> dict[str, Case]:
    return {
        "runs": Case("/api/2.0/mlflow/runs/search", "POST", "runs",
                     {"experiment_ids": [w.experiment_id],
                      "order_by": ["attributes.start_time ASC"]}),
        "experiments": Case("/api/2.0/mlflow/experiments/search", "POST", "experiments",
                            {"filter": f"name LIKE '{w.prefix}-exp-%'",
                             "order_by": ["name ASC"]}),
        "experiments via GET": Case("/api/2.0/mlflow/experiments/search", "GET",
                                    "experiments",
                                    {"filter": f"name LIKE '{w.prefix}-exp-%'"}),
        "registered models": Case("/api/2.0/mlflow/registered-models/search", "GET",
                                  "registered_models",
                                  {"filter": f"name LIKE '{w.prefix}-rm-%'"}),
        "model versions": Case("/api/2.0/mlflow/model-versions/search", "GET",
                               "model_versions",
                               {"filter": f"name LIKE '{w.prefix}-rm-%'",
                                "order_by": ["version_number ASC"]}),
        "logged models": Case("/api/2.0/mlflow/logged-models/search", "POST", "models",
                              {"experiment_ids": [w.experiment_id],
                               "order_by": [{"field_name": "name", "ascending": True}]}),
    }


def _key(items: str, item: dict[str, Any]) -> Any:
    if items == "runs":
        return item["info"]["run_id"]
    if items == "experiments":
        return item["experiment_id"]
    if items == "models":
        return item["info"]["model_id"]
    if items == "registered_models":
        return item["name"]
    return item["name"], item["version"]


def _visible(w: World, items: str) -> set[Any]:
    return {
        "runs": w.visible_runs, "experiments": w.visible_experiments,
        "models": w.visible_logged_models, "registered_models": w.visible_models,
        "model_versions": w.visible_versions,
    }[items]


def _pages(server: Server, case: Case, who: Any, size: int) -> list[list[Any]]:
    pages, token = [], None
    while True:
        request = {**case.request, "max_results": size} | ({"page_token": token} if token else {})
        answer = ok(api(server, case.method, case.path, who, request))
        pages.append([_key(case.items, i) for i in answer.get(case.items, [])])
        token = answer.get("next_page_token")
        if not token:
            return pages
        assert len(pages) < 50, "paging does not end"


@pytest.mark.parametrize("size", [1, 2, 3])
@pytest.mark.parametrize("name", ["runs", "experiments", "experiments via GET",
                                  "registered models", "model versions", "logged models"])
def test_paging_shows_every_visible_item_once_and_no_hidden_one(
    server: Server, world: World, name: str, size: int
) -> None:
    case = _cases(world)[name]
    everything = ok(api(server, case.method, case.path, server.auth,
                        {**case.request, "max_results": 1000}))[case.items]
    visible = _visible(world, case.items)
    expected = [k for k in (_key(case.items, i) for i in everything) if k in visible]
    assert set(expected) == visible  # the admin sees all, in MLflow's order

    pages = _pages(server, case, world.reader, size)

    assert [k for page in pages for k in page] == expected
    assert all(len(page) == size for page in pages[:-1])
    assert 1 <= len(pages[-1]) <= size  # MLflow's +1 rule: no empty last page


def _a_token(server: Server, world: World) -> tuple[Case, str]:
    case = _cases(world)["runs"]
    answer = ok(api(server, case.method, case.path, world.reader,
                    {**case.request, "max_results": 1}))
    return case, answer["next_page_token"]


def _refused(r: requests.Response) -> None:
    assert r.status_code == 400, r.text
    assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert r.json()["message"].startswith("Invalid page token")


def test_a_token_that_is_not_ours_for_this_search_is_refused(
    server: Server, world: World
) -> None:
    case, token = _a_token(server, world)
    offset_token = base64.b64encode(json.dumps({"offset": 3}).encode()).decode()
    flipped = token[:20] + ("A" if token[20] != "A" else "B") + token[21:]
    other = _user(server)
    _grant(server, other, "experiment", world.experiment_id)
    for who, request in [
        (world.reader, {**case.request, "page_token": offset_token}),  # MLflow's own format
        (world.reader, {**case.request, "pageToken": offset_token}),  # its JSON alias
        (world.reader, {**case.request, "page_token": flipped}),
        (world.reader, {**case.request, "page_token": token, "filter": "tags.x LIKE 'z%'"}),
        (other, {**case.request, "page_token": token}),  # another caller
    ]:
        _refused(api(server, case.method, case.path, who, {**request, "max_results": 1}))
    # A token from the reader's GET search does not continue another search either.
    answer = ok(api(server, "GET", "/api/2.0/mlflow/registered-models/search", world.reader,
                    {"filter": f"name LIKE '{world.prefix}-rm-%'", "max_results": 1}))
    _refused(api(server, "GET", "/api/2.0/mlflow/experiments/search", world.reader,
                 {"max_results": 1, "page_token": answer["next_page_token"]}))


def test_max_results_beyond_what_mlflow_accepts_is_refused(
    server: Server, world: World
) -> None:
    r = api(server, "GET", "/api/2.0/mlflow/registered-models/search", world.reader,
            {"max_results": 1001})
    assert r.status_code == 400 and r.json()["error_code"] == "INVALID_PARAMETER_VALUE"


# --- in process, against a stand-in for MLflow -------------------------------------------

ITEMS = "runs"
SMALL = Search(ITEMS, default=3, most=7)
KEY = Fernet.generate_key()


class FakeMlflow:
    """MLflow's paging over a list: offset tokens that also name the search (as logged
    models' do), max_results + 1 fetched to decide the token, the cap refused."""

    def __init__(self, items: list[dict[str, Any]], most: int = SMALL.most) -> None:
        self.items, self.most, self.calls = items, most, 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.calls += 1
        body = (await receive())["body"]
        if scope["method"] == "GET":
            request: dict[str, Any] = dict(parse_qsl(scope["query_string"].decode()))
        else:
            request = json.loads(body)
        size = int(request.get("max_results", SMALL.default))
        offset = 0
        if request.get("page_token"):
            token = json.loads(base64.b64decode(request["page_token"]))
            if token["filter"] != request.get("filter"):
                return await _reply(send, 400, {"error_code": "INVALID_PARAMETER_VALUE"})
            offset = token["offset"]
        if not 1 <= size <= self.most:
            return await _reply(send, 400, {"error_code": "INVALID_PARAMETER_VALUE"})
        found = self.items[offset: offset + size + 1]
        answer: dict[str, Any] = {ITEMS: found[:size]} if found else {}
        if len(found) > size:
            token = {"offset": offset + size, "filter": request.get("filter")}
            answer["next_page_token"] = base64.b64encode(json.dumps(token).encode()).decode()
        await _reply(send, 200, answer)


async def _reply(send: Any, status: int, data: dict[str, Any]) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": json.dumps(data).encode()})


def _ask(app: Any, request: dict[str, Any], who: str = "reader", method: str = "POST",
         search: Search = SMALL) -> tuple[int, dict[str, Any]]:
    """One request through answer_visible, hiding the items marked hidden."""
    body = b"" if method == "GET" else json.dumps(request).encode()
    scope = {"type": "http", "method": method, "path": "/api/2.0/mlflow/runs/search",
             "headers": [(b"content-type", b"application/json")],
             "query_string": urlencode(request).encode() if method == "GET" else b"",
             SCOPE_KEY: Principal(who, Role.USER, method="basic")}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    def view(item: dict[str, Any]) -> dict[str, Any] | None:
        return None if item["hidden"] else item

    anyio.run(answer_visible, app, scope, receive, send, search, view, PageTokens(KEY))
    return sent[0]["status"], json.loads(sent[1]["body"])


def _ask_mlflow(app: FakeMlflow, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """One request straight to the stand-in: MLflow's own answer."""
    scope = {"type": "http", "method": "POST", "query_string": b""}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": json.dumps(request).encode()}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    anyio.run(app, scope, receive, send)
    return sent[0]["status"], json.loads(sent[1]["body"])


def _walk(app: FakeMlflow, size: int, method: str = "POST", search: Search = SMALL,
          mlflow: bool = False) -> list[tuple[list[int], bool]]:
    """Every page of a search: the ids on it, and whether it carried a token."""
    pages, token = [], None
    for _ in range(100):
        request = {"filter": "f", "max_results": size} | ({"page_token": token} if token else {})
        status, answer = (_ask_mlflow(app, request) if mlflow
                          else _ask(app, request, method=method, search=search))
        assert status == 200, answer
        token = answer.get("next_page_token")
        pages.append(([i["id"] for i in answer.get(ITEMS, [])], bool(token)))
        if not token:
            return pages
    raise AssertionError("paging does not end")


def _items(pattern: str) -> list[dict[str, Any]]:
    return [{"id": i, "hidden": c == "h"} for i, c in enumerate(pattern)]


def test_pages_are_mlflows_pages_over_the_visible_items_only() -> None:
    rng = random.Random(20240611)
    for _ in range(300):
        length, share = rng.randint(0, 25), rng.random()
        pattern = "".join("h" if rng.random() < share else "v" for _ in range(length))
        size = rng.randint(1, SMALL.most)
        method = rng.choice(["POST", "GET"])
        items = _items(pattern)
        ours = _walk(FakeMlflow(items), size, method=method)
        theirs = _walk(FakeMlflow([i for i in items if not i["hidden"]]), size, mlflow=True)
        assert ours == theirs, (pattern, size, method)


def test_many_hidden_items_end_the_scan_with_a_token_and_paging_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(paging, "HIDDEN_PER_REQUEST", 4)
    items = _items("v" + "h" * 9 + "v" + "h" * 3 + "v")
    pages = _walk(FakeMlflow(items), 2)
    assert [k for page, _ in pages for k in page] == [0, 10, 14]
    assert pages[0] == ([0], True)  # short, with a token: at least 4 hidden items follow
    # Below the cap, the answer is the visible items' only.
    few = _items("v" + "h" * 3 + "v")
    assert _walk(FakeMlflow(few), 2) == [([0, 4], False)]


def test_a_hidden_run_of_items_costs_a_few_growing_pages() -> None:
    app = FakeMlflow(_items("v" + "h" * 500 + "v"), most=1_000)
    assert _walk(app, 1, search=Search(ITEMS, default=1, most=1_000)) == [
        ([0], True), ([501], False)]
    assert app.calls <= 12


def test_camel_case_paging_fields_are_read_like_mlflow_reads_them() -> None:
    app = FakeMlflow(_items("vhvhv"))
    status, answer = _ask(app, {"filter": "f", "maxResults": 1})
    assert status == 200 and len(answer[ITEMS]) == 1
    token = answer["next_page_token"]
    status, answer = _ask(app, {"filter": "f", "maxResults": 1, "pageToken": token})
    assert status == 200 and [i["id"] for i in answer[ITEMS]] == [2]
    status, answer = _ask(app, {"filter": "f", "max_results": 1, "maxResults": 2})
    assert status == 400 and answer["error_code"] == "INVALID_PARAMETER_VALUE"


def test_max_results_is_mlflows_within_its_cap() -> None:
    app = FakeMlflow(_items("v" * 10))
    status, answer = _ask(app, {"filter": "f"})  # MLflow's default
    assert status == 200 and len(answer[ITEMS]) == SMALL.default
    for bad in (0, -1, SMALL.most + 1, "two", True, 1.5):
        status, answer = _ask(app, {"filter": "f", "max_results": bad})
        assert status == 400 and answer["error_code"] == "INVALID_PARAMETER_VALUE", bad
    status, answer = _ask(app, {"filter": "f", "max_results": "2"}, method="GET")
    assert status == 200 and len(answer[ITEMS]) == 2


def test_mlflows_errors_pass_through() -> None:
    app = FakeMlflow(_items("vv"), most=100)
    status, answer = _ask(app, {"filter": "f", "max_results": 7})  # within ours, not theirs
    assert status == 200
    app = FakeMlflow(_items("vv"), most=2)
    status, answer = _ask(app, {"filter": "f", "max_results": 5})
    assert status == 400 and answer == {"error_code": "INVALID_PARAMETER_VALUE"}


# --- the token ---------------------------------------------------------------------------


def _mlflow_token(offset: int) -> str:
    return base64.b64encode(json.dumps({"offset": offset, "filter": "f"}).encode()).decode()


def test_token_opens_only_for_its_caller_and_search_with_one_error() -> None:
    tokens, bound = PageTokens(KEY), b"s" * 32
    token = tokens.seal(bound, 12, _mlflow_token(40))
    assert tokens.open(token, bound) == (12, _mlflow_token(0))
    raw = bytearray(base64.urlsafe_b64decode(token))
    for i in range(0, len(raw), 7):
        tampered = raw.copy()
        tampered[i] ^= 1
        with pytest.raises(InvalidPageToken):
            tokens.open(base64.urlsafe_b64encode(bytes(tampered)).decode(), bound)
    for wrong in [(token, b"t" * 32), (_mlflow_token(12), bound), ("", bound), (12, bound),
                  (PageTokens(Fernet.generate_key()).seal(bound, 12, _mlflow_token(1)), bound)]:
        with pytest.raises(InvalidPageToken):
            tokens.open(*wrong)


def test_token_length_says_nothing_about_the_offset() -> None:
    tokens, bound = PageTokens(KEY), b"s" * 32
    lengths = {len(tokens.seal(bound, n, _mlflow_token(n))) for n in (1, 9, 10**6, 10**12)}
    assert len(lengths) == 1


def test_a_tampered_token_gets_mlflows_error_shape() -> None:
    app = FakeMlflow(_items("vhvhv"))
    _, first = _ask(app, {"filter": "f", "max_results": 1})
    token = first["next_page_token"]
    for bad in [token[:-6] + "AAAAAA", _mlflow_token(2)]:
        status, answer = _ask(app, {"filter": "f", "max_results": 1, "page_token": bad})
        assert status == 400
        assert answer == {"error_code": "INVALID_PARAMETER_VALUE",
                          "message": "Invalid page token: not one this server gave for "
                                     "this search"}
    status, answer = _ask(app, {"filter": "g", "max_results": 1, "page_token": token})
    assert status == 400  # another search
    status, answer = _ask(app, {"filter": "f", "max_results": 1, "page_token": token}, "eve")
    assert status == 400  # another caller


def test_key_file_is_made_once_and_shared(tmp_path: Any) -> None:
    first = PageTokens.load_or_create(tmp_path)
    second = PageTokens.load_or_create(tmp_path)
    token = first.seal(b"s" * 32, 0, None)
    assert second.open(token, b"s" * 32) == (0, None)
    key = tmp_path / paging.KEY_FILE
    assert key.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [paging.KEY_FILE]
