"""One regression test per class of the penetration test's findings on authorization.

Each test names the class; each failed on the code before the fix. A real server on
loopback, users made through the administration API, the HTTP API as a client sends it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from mlflow_compliance.testing import MINIMUM_RECORD, Server

PASSWORD = "correct horse battery"
PERSONAL = "compliance.gdpr.personal_data"


def api(server: Server, method: str, path: str, who: tuple[str, str], body: Any = None,
        **kwargs: Any) -> requests.Response:
    if method == "GET" and "params" not in kwargs:
        return requests.get(server.url + path, params=body, auth=who, timeout=30, **kwargs)
    return requests.request(method, server.url + path, json=body, auth=who, timeout=30,
                            **kwargs)


def ok(r: requests.Response) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    return r.json() if r.content else {}


def refused(r: requests.Response) -> None:
    assert r.status_code in (400, 403, 404), r.text
    assert r.json()["error_code"] in (
        "INVALID_PARAMETER_VALUE", "PERMISSION_DENIED", "RESOURCE_DOES_NOT_EXIST"), r.text


def user(server: Server, clearances: list[str] | None = None) -> tuple[str, str]:
    name = f"u-{uuid.uuid4().hex[:8]}"
    ok(api(server, "POST", "/api/2.0/compliance/users/create", server.auth,
           {"name": name, "password": PASSWORD, "role": "user",
            "clearances": clearances or []}))
    return name, PASSWORD


def grant(server: Server, who: tuple[str, str], kind: str, target: str, level: str) -> None:
    ok(api(server, "POST", "/api/2.0/compliance/grants/set", server.auth,
           {"name": who[0], "kind": kind, "target": target, "permission": level}))


@dataclass
class Side:
    experiment_id: str
    run_id: str
    model_id: str
    model: str


def side(server: Server, personal: str | None = None) -> Side:
    admin = server.auth
    assert admin is not None
    # The minimum record, so versions register from the run; `personal` replaces its value.
    record = {**MINIMUM_RECORD, **({PERSONAL: personal} if personal is not None else {})}
    tags = [{"key": k, "value": v} for k, v in record.items()]
    eid = ok(api(server, "POST", "/api/2.0/mlflow/experiments/create", admin,
                 {"name": f"e-{uuid.uuid4().hex[:8]}"}))["experiment_id"]
    run_id = ok(api(server, "POST", "/api/2.0/mlflow/runs/create", admin,
                    {"experiment_id": eid, "tags": tags}))["run"]["info"]["run_id"]
    ok(api(server, "PUT", f"/api/2.0/mlflow-artifacts/artifacts/{eid}/{run_id}/artifacts/a.txt",
           admin, data=b"secret of " + run_id.encode()))
    model_id = ok(api(server, "POST", "/api/2.0/mlflow/logged-models", admin,
                      {"experiment_id": eid, "source_run_id": run_id}))["model"]["info"]["model_id"]
    ok(api(server, "PUT",
           f"/api/2.0/mlflow-artifacts/artifacts/{eid}/models/{model_id}/artifacts/MLmodel",
           admin, data=b"flavors: {}\n"))
    model = f"m-{uuid.uuid4().hex[:8]}"
    ok(api(server, "POST", "/api/2.0/mlflow/registered-models/create", admin, {"name": model}))
    return Side(eid, run_id, model_id, model)


@pytest.fixture(scope="module")
def mine(server: Server) -> Side:
    return side(server)


@pytest.fixture(scope="module")
def theirs(server: Server) -> Side:
    return side(server)


@pytest.fixture(scope="module")
def mallory(server: Server, mine: Side) -> tuple[str, str]:
    who = user(server)
    grant(server, who, "experiment", mine.experiment_id, "manage")
    grant(server, who, "model", mine.model, "manage")
    return who


# --- 1. the authorization layer and MLflow read different parameters ------------------

@pytest.mark.parametrize("path", [
    "/api/2.0/mlflow/runs/get", "/api/2.0/mlflow/metrics/get-history",
    "/api/2.0/mlflow/artifacts/list", "/get-artifact",
])
def test_bracketed_spelling_beside_the_one_mlflow_reads_is_refused(
    server: Server, mine: Side, theirs: Side, mallory: tuple[str, str], path: str
) -> None:
    query = {"run_id[]": mine.run_id, "run_uuid": theirs.run_id, "metric_key": "m",
             "path": "a.txt"}
    r = api(server, "GET", path, mallory, query)
    refused(r)
    assert theirs.run_id not in r.text
    assert "run_id[]" in r.json()["message"]


def test_duplicated_identifying_query_key_is_refused(
    server: Server, mine: Side, theirs: Side, mallory: tuple[str, str]
) -> None:
    r = api(server, "GET", "/api/2.0/mlflow/runs/get", mallory,
            params=[("run_id", mine.run_id), ("run_id", theirs.run_id)])
    refused(r)
    assert "given 2 times" in r.json()["message"]


def test_proxy_listing_with_bracketed_path_is_refused(
    server: Server, mallory: tuple[str, str], mine: Side
) -> None:
    r = api(server, "GET", "/api/2.0/mlflow-artifacts/artifacts", mallory,
            {"path[]": f"{mine.experiment_id}/{mine.run_id}/artifacts"})
    refused(r)


@pytest.mark.parametrize("route,extra", [
    ("runs/set-tag", {"key": "k", "value": "v"}),
    ("runs/log-parameter", {"key": "p", "value": "v"}),
    ("runs/log-metric", {"key": "m", "value": 1.0, "timestamp": 1}),
    ("runs/update", {"run_name": "renamed"}),
])
def test_camel_case_identifier_beside_the_checked_one_is_refused_and_writes_nothing(
    server: Server, mine: Side, theirs: Side, mallory: tuple[str, str],
    route: str, extra: dict[str, Any]
) -> None:
    # runId is run_id to MLflow (ParseDict), which it reads before run_uuid: the layer
    # reads it the same way and decides on their run.
    r = api(server, "POST", f"/api/2.0/mlflow/{route}", mallory,
            {"run_uuid": mine.run_id, "runId": theirs.run_id, **extra})
    refused(r)
    assert r.status_code == 404, r.text
    assert theirs.run_id in r.json()["message"]
    assert server.auth is not None
    run = ok(api(server, "GET", "/api/2.0/mlflow/runs/get", server.auth,
                 {"run_id": theirs.run_id}))["run"]
    data = run["data"]
    assert "k" not in {t["key"] for t in data.get("tags", [])}
    assert "p" not in {p["key"] for p in data.get("params", [])}
    assert "m" not in {m["key"] for m in data.get("metrics", [])}
    assert run["info"].get("run_name") != "renamed"


def test_camel_case_artifact_location_is_refused(
    server: Server, mallory: tuple[str, str]
) -> None:
    r = api(server, "POST", "/api/2.0/mlflow/experiments/create", mallory,
            {"name": f"x-{uuid.uuid4().hex[:6]}", "artifactLocation": "file:///tmp/plain"})
    refused(r)
    assert "artifact_location: not allowed" in r.json()["message"]


def test_repeated_list_fields_stay_lists(server: Server) -> None:
    assert server.auth is not None
    r = api(server, "GET", "/api/3.0/mlflow/traces/batchGet", server.auth,
            params=[("trace_ids", "tr-1"), ("trace_ids", "tr-2")])
    assert r.status_code != 400 or "given 2 times" not in r.text, r.text


# --- 2. objects named inside a body are authorized -------------------------------------

def test_model_version_from_another_experiments_logged_model_is_refused(
    server: Server, mine: Side, theirs: Side, mallory: tuple[str, str]
) -> None:
    for body in (
        {"source": f"models:/{theirs.model_id}", "model_id": theirs.model_id},
        {"source": f"models:/{theirs.model_id}"},
        {"source": f"runs:/{mine.run_id}/model", "run_id": mine.run_id,
         "model_id": theirs.model_id},
        {"source": f"mlflow-artifacts:/{theirs.experiment_id}/models/{theirs.model_id}"
                   "/artifacts", "model_id": theirs.model_id},
    ):
        r = api(server, "POST", "/api/2.0/mlflow/model-versions/create", mallory,
                {"name": mine.model, **body})
        refused(r)
    assert server.auth is not None
    found = ok(api(server, "GET", "/api/2.0/mlflow/model-versions/search", server.auth,
                   {"filter": f"name = '{mine.model}'"}))
    assert found.get("model_versions", []) == []


def test_model_version_from_own_logged_model_location_is_allowed(
    server: Server, mine: Side, mallory: tuple[str, str]
) -> None:
    source = f"mlflow-artifacts:/{mine.experiment_id}/models/{mine.model_id}/artifacts"
    version = ok(api(server, "POST", "/api/2.0/mlflow/model-versions/create", mallory,
                     {"name": mine.model, "source": source, "model_id": mine.model_id}))
    assert version["model_version"]["source"] == source


def test_metric_into_another_experiments_logged_model_is_refused(
    server: Server, mine: Side, theirs: Side, mallory: tuple[str, str]
) -> None:
    r = api(server, "POST", "/api/2.0/mlflow/runs/log-metric", mallory,
            {"run_id": mine.run_id, "key": "stolen", "value": 1.0, "timestamp": 1,
             "model_id": theirs.model_id})
    refused(r)
    r = api(server, "POST", "/api/2.0/mlflow/runs/log-batch", mallory,
            {"run_id": mine.run_id, "metrics": [
                {"key": "stolen", "value": 1.0, "timestamp": 1, "step": 0,
                 "model_id": theirs.model_id}]})
    refused(r)
    assert server.auth is not None
    model = ok(api(server, "GET", f"/api/2.0/mlflow/logged-models/{theirs.model_id}",
                   server.auth))["model"]
    assert "stolen" not in {m["key"] for m in model.get("data", {}).get("metrics", [])}


# --- 3. need-to-know follows the data --------------------------------------------------

def test_personal_data_follows_lineage_to_models_versions_and_their_files(
    server: Server
) -> None:
    personal = side(server, personal="true ")  # the record's parser reads "true " as true
    reader = user(server)  # no personal-data clearance
    grant(server, reader, "experiment", personal.experiment_id, "read")
    grant(server, reader, "model", personal.model, "read")
    assert server.auth is not None
    ok(api(server, "POST", "/api/2.0/mlflow/model-versions/create", server.auth,
           {"name": personal.model, "source": f"runs:/{personal.run_id}/model",
            "run_id": personal.run_id}))
    for method, path, query in [
        ("GET", "/api/2.0/mlflow/runs/get", {"run_id": personal.run_id}),
        ("GET", f"/api/2.0/mlflow/logged-models/{personal.model_id}", None),
        ("GET", f"/api/2.0/mlflow-artifacts/artifacts/{personal.experiment_id}/models/"
                f"{personal.model_id}/artifacts/MLmodel", None),
        ("GET", f"/api/2.0/mlflow-artifacts/artifacts/{personal.experiment_id}/"
                f"{personal.run_id}/artifacts/a.txt", None),
        ("GET", "/api/2.0/mlflow/model-versions/get", {"name": personal.model, "version": "1"}),
        ("GET", "/api/2.0/mlflow/model-versions/get-download-uri",
         {"name": personal.model, "version": "1"}),
        ("GET", "/model-versions/get-artifact",
         {"name": personal.model, "version": "1", "path": "a.txt"}),
    ]:
        r = api(server, method, path, reader, query)
        assert r.status_code == 404, (path, r.text)
        assert r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
        assert b"secret of" not in r.content
    # ... and searches do not show them either.
    models = ok(api(server, "POST", "/api/2.0/mlflow/logged-models/search", reader,
                    {"experiment_ids": [personal.experiment_id]}))
    assert personal.model_id not in str(models)
    versions = ok(api(server, "GET", "/api/2.0/mlflow/model-versions/search", reader,
                      {"filter": f"name = '{personal.model}'"}))
    assert versions.get("model_versions", []) == []
    registered = ok(api(server, "GET", "/api/2.0/mlflow/registered-models/search", reader,
                        {"filter": f"name = '{personal.model}'"}))
    assert [m["name"] for m in registered["registered_models"]] == [personal.model]
    assert "latest_versions" not in registered["registered_models"][0]


# --- 5. identity is bound to objects, not names ----------------------------------------

def test_grants_on_a_deleted_model_do_not_apply_to_a_new_model_of_that_name(
    server: Server
) -> None:
    assert server.auth is not None
    name = f"reused-{uuid.uuid4().hex[:6]}"
    ok(api(server, "POST", "/api/2.0/mlflow/registered-models/create", server.auth,
           {"name": name}))
    old_reader = user(server)
    grant(server, old_reader, "model", name, "read")
    ok(api(server, "GET", "/api/2.0/mlflow/registered-models/get", old_reader, {"name": name}))
    ok(api(server, "DELETE", "/api/2.0/mlflow/registered-models/delete", server.auth,
           {"name": name}))
    ok(api(server, "POST", "/api/2.0/mlflow/registered-models/create", server.auth,
           {"name": name}))
    r = api(server, "GET", "/api/2.0/mlflow/registered-models/get", old_reader, {"name": name})
    assert r.status_code == 404, r.text
    grants = ok(api(server, "GET", "/api/2.0/compliance/grants/list", server.auth,
                    {"name": old_reader[0]}))["grants"]
    assert grants == []


def test_grants_follow_a_renamed_model(server: Server) -> None:
    assert server.auth is not None
    name, new = f"old-{uuid.uuid4().hex[:6]}", f"new-{uuid.uuid4().hex[:6]}"
    ok(api(server, "POST", "/api/2.0/mlflow/registered-models/create", server.auth,
           {"name": name}))
    reader = user(server)
    grant(server, reader, "model", name, "read")
    ok(api(server, "POST", "/api/2.0/mlflow/registered-models/rename", server.auth,
           {"name": name, "new_name": new}))
    ok(api(server, "GET", "/api/2.0/mlflow/registered-models/get", reader, {"name": new}))


# --- 8. oracles ---------------------------------------------------------------------

def test_missing_and_unreadable_objects_answer_alike(
    server: Server, theirs: Side, mallory: tuple[str, str]
) -> None:
    pairs = [
        ("/api/2.0/mlflow/runs/get", {"run_id": theirs.run_id},
         {"run_id": uuid.uuid4().hex}),
        ("/api/2.0/mlflow/experiments/get", {"experiment_id": theirs.experiment_id},
         {"experiment_id": "987654321"}),
        ("/api/2.0/mlflow/registered-models/get", {"name": theirs.model},
         {"name": f"none-{uuid.uuid4().hex[:6]}"}),
        ("/api/2.0/mlflow/experiments/get-by-name", None, None),
    ]
    for path, hidden, missing in pairs[:3]:
        a = api(server, "GET", path, mallory, hidden)
        b = api(server, "GET", path, mallory, missing)
        assert (a.status_code, a.json()["error_code"]) == (b.status_code, b.json()["error_code"])
        assert a.status_code == 404
        key = next(iter(hidden))
        assert a.json()["message"].replace(str(hidden[key]), "X") == \
            b.json()["message"].replace(str(missing[key]), "X")


def test_get_by_name_of_a_missing_experiment_answers_mlflows_not_found(
    server: Server, mallory: tuple[str, str]
) -> None:
    r = api(server, "GET", "/api/2.0/mlflow/experiments/get-by-name", mallory,
            {"experiment_name": f"none-{uuid.uuid4().hex[:6]}"})
    assert r.status_code == 404
    assert r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


# --- 9. bugs met on the way ----------------------------------------------------------

def test_model_version_files_download_for_runs_and_logged_model_sources(
    server: Server
) -> None:
    made = side(server)
    admin = server.auth
    assert admin is not None
    for source, extra, path, content in [
        (f"runs:/{made.run_id}", {"run_id": made.run_id}, "a.txt",
         b"secret of " + made.run_id.encode()),
        (f"models:/{made.model_id}", {"model_id": made.model_id}, "MLmodel",
         b"flavors: {}\n"),
    ]:
        version = ok(api(server, "POST", "/api/2.0/mlflow/model-versions/create", admin,
                         {"name": made.model, "source": source, **extra}))["model_version"]
        r = api(server, "GET", "/model-versions/get-artifact", admin,
                {"name": made.model, "version": version["version"], "path": path})
        assert r.status_code == 200, r.text
        assert r.content == content


def test_a_burst_of_first_searches_on_a_fresh_server_never_answers_500(
    tmp_path: Path,
) -> None:
    """MLflow's runs/search imports mlflow.server.auth lazily; two threads racing that
    import answered 500 (AttributeError: no attribute 'auth_config'). The server imports
    it before serving, so the first searches of a fresh server all answer."""
    import concurrent.futures

    from mlflow_compliance.testing import start_compliance_server

    fresh = start_compliance_server(tmp_path / "home", workers=1)
    try:
        assert fresh.auth is not None
        eid = ok(api(fresh, "POST", "/api/2.0/mlflow/experiments/create", fresh.auth,
                     {"name": "burst"}))["experiment_id"]

        def search(_: int) -> int:
            return api(fresh, "POST", "/api/2.0/mlflow/runs/search", fresh.auth,
                       {"experiment_ids": [eid]}).status_code

        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(search, range(16)))
        assert statuses == [200] * 16
        assert "has no attribute 'auth_config'" not in fresh.log.read_text()
    finally:
        fresh.stop()


# --- where the layers cannot decide, they refuse --------------------------------------

def test_a_layer_inside_authorization_refuses_a_request_without_a_decision() -> None:
    import asyncio

    from mlflow_compliance.server.authorization.layer import Undecided
    from mlflow_compliance.server.surface import SurfaceHardening

    async def mlflow(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("reached MLflow without an authorization decision")

    scope = {"type": "http", "method": "GET", "path": "/get-artifact", "headers": [],
             "query_string": b"run_id=x&path=a"}
    with pytest.raises(Undecided):
        asyncio.run(SurfaceHardening(mlflow)(scope, None, None))  # type: ignore[arg-type]


def test_camel_case_is_refused_in_lists_of_objects_but_not_in_the_callers_own_maps() -> None:
    from mlflow_compliance.server.authorization.reading import spelling_problem
    from mlflow_compliance.server.authorization.table import find

    found = find("POST", "/api/2.0/mlflow/runs/log-batch")
    assert found is not None
    route = found[0]
    assert spelling_problem(route, {}, {"run_id": "r", "metrics": [{"modelId": "m"}]}) == \
        "modelId: spell it model_id"
    # A map's keys are the caller's (a tag named runId), as MLflow's own check treats them.
    assert spelling_problem(route, {}, {"run_id": "r", "tags": {"runId": "x"}}) is None


def test_a_logged_model_whose_source_run_is_gone_counts_as_personal(server: Server) -> None:
    assert server.auth is not None
    made = side(server)
    gone = uuid.uuid4().hex
    r = api(server, "POST", "/api/2.0/mlflow/logged-models", server.auth,
            {"experiment_id": made.experiment_id, "source_run_id": gone})
    model_id = ok(r)["model"]["info"]["model_id"]
    reader = user(server)  # read on the experiment, no personal-data clearance
    grant(server, reader, "experiment", made.experiment_id, "read")
    assert api(server, "GET", f"/api/2.0/mlflow/logged-models/{model_id}",
               reader).status_code == 404
    ok(api(server, "GET", f"/api/2.0/mlflow/logged-models/{made.model_id}", reader))
    cleared = user(server, ["personal-data"])
    grant(server, cleared, "experiment", made.experiment_id, "read")
    ok(api(server, "GET", f"/api/2.0/mlflow/logged-models/{model_id}", cleared))
