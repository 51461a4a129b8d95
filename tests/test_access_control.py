"""Access control on a real compliance server: who may do what, through every door."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pytest
import requests

from mlflow_compliance.identity.principal import Role
from mlflow_compliance.identity.store import IdentityStore
from mlflow_compliance.server.authentication.credentials import (
    Authenticator,
    VerifiedCredentials,
)
from mlflow_compliance.testing import Server, mlflow_routes

PASSWORD = "correct horse battery"


def api(server: Server, method: str, path: str, who: Any, body: Any = None,
        **kwargs: Any) -> requests.Response:
    auth = who if isinstance(who, tuple) else None
    headers = {"Authorization": f"Bearer {who}"} if isinstance(who, str) else {}
    if method == "GET":
        return requests.get(server.url + path, params=body, auth=auth, headers=headers,
                            timeout=30, **kwargs)
    return requests.request(method, server.url + path, json=body, auth=auth, headers=headers,
                            timeout=30, **kwargs)


def ok(r: requests.Response) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    return r.json() if r.content else {}


def denied(r: requests.Response, needs: str | None = None) -> None:
    assert r.status_code == 403, r.text
    assert r.json()["error_code"] == "PERMISSION_DENIED"
    if needs:
        assert needs in r.json()["message"], r.json()["message"]


def hidden(r: requests.Response, names: str | None = None) -> None:
    """What the caller may not read answers like what does not exist (404, one wording)."""
    assert r.status_code == 404, r.text
    assert r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert "does not exist (or you may not read it)" in r.json()["message"], r.text
    if names:
        assert names in r.json()["message"], r.json()["message"]


@dataclass
class People:
    alice: tuple[str, str]
    bob: tuple[str, str]
    carol: tuple[str, str]  # auditor
    dave: tuple[str, str]  # user with the personal-data clearance


@pytest.fixture(scope="module")
def people(server: Server) -> People:
    suffix = uuid.uuid4().hex[:6]
    made = {}
    for who, role, clearances in [
        ("alice", "user", []), ("bob", "user", []), ("carol", "auditor", []),
        ("dave", "user", ["personal-data"]),
    ]:
        name = f"{who}-{suffix}"
        ok(api(server, "POST", "/api/2.0/compliance/users/create", server.auth,
               {"name": name, "password": PASSWORD, "role": role, "clearances": clearances}))
        made[who] = (name, PASSWORD)
    return People(**made)


@dataclass
class AliceData:
    experiment_id: str
    run_id: str
    personal_run_id: str
    personal_logged_model_id: str
    model: str


@pytest.fixture(scope="module")
def alice_data(server: Server, people: People) -> AliceData:
    a = people.alice
    eid = ok(api(server, "POST", "/api/2.0/mlflow/experiments/create", a,
                 {"name": f"alice-{uuid.uuid4().hex[:6]}"}))["experiment_id"]
    run = ok(api(server, "POST", "/api/2.0/mlflow/runs/create", a, {"experiment_id": eid}))
    run_id = run["run"]["info"]["run_id"]
    ok(api(server, "POST", "/api/2.0/mlflow/runs/log-metric", a,
           {"run_id": run_id, "key": "auc", "value": 0.9, "timestamp": 1}))
    ok(api(server, "PUT", f"/api/2.0/mlflow-artifacts/artifacts/{eid}/{run_id}/artifacts/a.txt",
           a, data=b"alice's secret"))
    personal = ok(api(server, "POST", "/api/2.0/mlflow/runs/create", a, {
        "experiment_id": eid,
        "tags": [{"key": "compliance.gdpr.personal_data", "value": "true"}],
    }))["run"]["info"]["run_id"]
    logged = ok(api(server, "POST", "/api/2.0/mlflow/logged-models", a, {
        "experiment_id": eid,
        "tags": [{"key": "compliance.gdpr.personal_data", "value": "true"}],
    }))["model"]["info"]["model_id"]
    model = f"alice-model-{uuid.uuid4().hex[:6]}"
    ok(api(server, "POST", "/api/2.0/mlflow/registered-models/create", a, {"name": model}))
    return AliceData(eid, run_id, personal, logged, model)


def test_no_route_answers_without_credentials_except_health(server: Server) -> None:
    answered = []
    for method, path in sorted(mlflow_routes()):
        r = requests.request(method, server.url + path.replace("/x", "/1"), timeout=30)
        if path == "/health":
            assert r.status_code == 200
        elif r.status_code != 401:
            answered.append((method, path, r.status_code))
        else:
            assert r.headers["www-authenticate"].startswith("Basic")
    assert answered == []


def test_administration_api_needs_credentials_too(server: Server) -> None:
    r = requests.get(server.url + "/api/2.0/compliance/users/list", timeout=30)
    assert r.status_code == 401


@pytest.mark.parametrize(
    "header",
    [
        "Basic " + base64.b64encode(b"admin:wrong password").decode(),
        "Basic " + base64.b64encode(b"nobody:whatever").decode(),
        "Basic not-base64!",
        "Bearer mlc_bogus",
        "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
        "Digest something",
    ],
)
def test_bad_credentials_get_401(server: Server, header: str) -> None:
    r = requests.post(server.url + "/api/2.0/mlflow/experiments/search",
                      json={"max_results": 10}, headers={"Authorization": header}, timeout=30)
    assert r.status_code == 401
    assert r.json()["error_code"] == "UNAUTHENTICATED"


def test_route_outside_the_table_is_refused_even_for_admin(server: Server) -> None:
    r = api(server, "GET", "/api/2.0/mlflow/made-up-route", server.auth)
    denied(r, "refused by default")


def test_users_cannot_see_each_others_data_by_any_route(
    server: Server, people: People, alice_data: AliceData
) -> None:
    bob, d = people.bob, alice_data
    eid, rid = d.experiment_id, d.run_id
    hidden(api(server, "GET", "/api/2.0/mlflow/experiments/get", bob, {"experiment_id": eid}),
           "experiment.read: experiment")
    hidden(api(server, "GET", "/api/2.0/mlflow/runs/get", bob, {"run_id": rid}))
    hidden(api(server, "GET", "/api/2.0/mlflow/metrics/get-history", bob,
               {"run_id": rid, "metric_key": "auc"}))
    hidden(api(server, "GET", f"/api/2.0/mlflow-artifacts/artifacts/{eid}/{rid}/artifacts/a.txt",
               bob))
    hidden(api(server, "GET", "/get-artifact", bob, {"run_id": rid, "path": "a.txt"}))
    hidden(api(server, "GET", "/api/2.0/mlflow/artifacts/list", bob, {"run_id": rid}))
    hidden(api(server, "GET", "/api/2.0/mlflow/registered-models/get", bob, {"name": d.model}))
    found = ok(api(server, "POST", "/api/2.0/mlflow/runs/search", bob, {"experiment_ids": [eid]}))
    assert found.get("runs", []) == []
    experiments = ok(api(server, "POST", "/api/2.0/mlflow/experiments/search", bob,
                         {"max_results": 1000}))
    assert eid not in {e["experiment_id"] for e in experiments.get("experiments", [])}
    models = ok(api(server, "GET", "/api/2.0/mlflow/registered-models/search", bob, {}))
    assert d.model not in {m["name"] for m in models.get("registered_models", [])}


def test_users_cannot_change_each_others_data(
    server: Server, people: People, alice_data: AliceData
) -> None:
    bob, d = people.bob, alice_data
    hidden(api(server, "POST", "/api/2.0/mlflow/runs/log-metric", bob,
               {"run_id": d.run_id, "key": "auc", "value": 0.1, "timestamp": 2}))
    hidden(api(server, "POST", "/api/2.0/mlflow/runs/set-tag", bob,
               {"run_id": d.run_id, "key": "x", "value": "y"}))
    hidden(api(server, "POST", "/api/2.0/mlflow/runs/delete", bob, {"run_id": d.run_id}))
    hidden(api(server, "POST", "/api/2.0/mlflow/runs/create", bob,
               {"experiment_id": d.experiment_id}))
    hidden(api(server, "PUT",
               f"/api/2.0/mlflow-artifacts/artifacts/{d.experiment_id}/{d.run_id}/artifacts/b",
               bob, data=b"overwrite"))
    hidden(api(server, "DELETE", "/api/2.0/mlflow/registered-models/delete", bob,
               {"name": d.model}))
    hidden(api(server, "POST", "/api/2.0/mlflow/experiments/delete", bob,
               {"experiment_id": d.experiment_id}))
    run = ok(api(server, "GET", "/api/2.0/mlflow/runs/get", people.alice, {"run_id": d.run_id}))
    assert run["run"]["info"]["lifecycle_stage"] == "active"
    assert "x" not in {t["key"] for t in run["run"]["data"].get("tags", [])}


def test_read_grant_allows_reading_only(
    server: Server, people: People, alice_data: AliceData
) -> None:
    d = people.bob
    name = d[0]
    eid, rid = alice_data.experiment_id, alice_data.run_id
    ok(api(server, "POST", "/api/2.0/compliance/grants/set", server.auth,
           {"name": name, "kind": "experiment", "target": eid, "permission": "read"}))
    try:
        ok(api(server, "GET", "/api/2.0/mlflow/runs/get", d, {"run_id": rid}))
        r = api(server, "GET",
                f"/api/2.0/mlflow-artifacts/artifacts/{eid}/{rid}/artifacts/a.txt", d)
        assert r.status_code == 200 and r.content == b"alice's secret"
        found = ok(api(server, "POST", "/api/2.0/mlflow/runs/search", d,
                       {"experiment_ids": [eid]}))
        assert rid in {r["info"]["run_id"] for r in found["runs"]}
        denied(api(server, "POST", "/api/2.0/mlflow/runs/log-metric", d,
                   {"run_id": rid, "key": "auc", "value": 0.1, "timestamp": 2}),
               f"needs edit permission on experiment {eid}")
    finally:
        ok(api(server, "POST", "/api/2.0/compliance/grants/delete", server.auth,
               {"name": name, "kind": "experiment", "target": eid}))
    hidden(api(server, "GET", "/api/2.0/mlflow/runs/get", d, {"run_id": rid}))


def test_personal_data_needs_clearance_even_with_a_grant(
    server: Server, people: People, alice_data: AliceData
) -> None:
    d = alice_data
    eid, personal = d.experiment_id, d.personal_run_id
    for who in (people.bob, people.dave):
        ok(api(server, "POST", "/api/2.0/compliance/grants/set", server.auth,
               {"name": who[0], "kind": "experiment", "target": eid, "permission": "read"}))
    try:
        hidden(api(server, "GET", "/api/2.0/mlflow/runs/get", people.bob, {"run_id": personal}),
               "does not exist")
        bob_sees = ok(api(server, "POST", "/api/2.0/mlflow/runs/search", people.bob,
                          {"experiment_ids": [eid]}))
        assert personal not in {r["info"]["run_id"] for r in bob_sees["runs"]}
        assert alice_data.run_id in {r["info"]["run_id"] for r in bob_sees["runs"]}
        hidden(api(server, "GET", f"/api/2.0/mlflow/logged-models/{d.personal_logged_model_id}",
                   people.bob), "does not exist")
        models = ok(api(server, "POST", "/api/2.0/mlflow/logged-models/search", people.bob,
                        {"experiment_ids": [eid]}))
        assert d.personal_logged_model_id not in {
            m["info"]["model_id"] for m in models.get("models", [])}
        models = ok(api(server, "POST", "/api/2.0/mlflow/logged-models/search", people.dave,
                        {"experiment_ids": [eid]}))
        assert d.personal_logged_model_id in {m["info"]["model_id"] for m in models["models"]}
        ok(api(server, "GET", "/api/2.0/mlflow/runs/get", people.dave, {"run_id": personal}))
        dave_sees = ok(api(server, "POST", "/api/2.0/mlflow/runs/search", people.dave,
                           {"experiment_ids": [eid]}))
        assert personal in {r["info"]["run_id"] for r in dave_sees["runs"]}
    finally:
        for who in (people.bob, people.dave):
            ok(api(server, "POST", "/api/2.0/compliance/grants/delete", server.auth,
                   {"name": who[0], "kind": "experiment", "target": eid}))


def test_auditor_reads_everything_and_writes_nothing(
    server: Server, people: People, alice_data: AliceData
) -> None:
    carol = people.carol
    ok(api(server, "GET", "/api/2.0/mlflow/runs/get", carol,
           {"run_id": alice_data.personal_run_id}))
    found = ok(api(server, "POST", "/api/2.0/mlflow/experiments/search", carol,
                   {"max_results": 1000}))
    assert alice_data.experiment_id in {e["experiment_id"] for e in found["experiments"]}
    denied(api(server, "POST", "/api/2.0/mlflow/runs/set-tag", carol,
               {"run_id": alice_data.run_id, "key": "x", "value": "y"}), "auditor")
    denied(api(server, "POST", "/api/2.0/mlflow/experiments/create", carol, {"name": "c"}))
    denied(api(server, "GET", "/api/2.0/compliance/users/list", carol), "admin")


def test_user_administration_is_admin_only(server: Server, people: People) -> None:
    denied(api(server, "POST", "/api/2.0/compliance/users/create", people.alice,
               {"name": "mallory", "password": PASSWORD, "role": "admin"}), "admin")
    denied(api(server, "POST", "/api/2.0/compliance/grants/set", people.alice,
               {"name": people.alice[0], "kind": "experiment", "target": "0",
                "permission": "manage"}))


def test_identity_comes_from_authentication_not_from_the_client(
    server: Server, people: People
) -> None:
    bob = people.bob
    eid = ok(api(server, "POST", "/api/2.0/mlflow/experiments/create", bob,
                 {"name": f"bob-{uuid.uuid4().hex[:6]}"}))["experiment_id"]
    run = ok(api(server, "POST", "/api/2.0/mlflow/runs/create", bob, {
        "experiment_id": eid, "user_id": "mallory",
        "tags": [{"key": "mlflow.user", "value": "mallory"}],
    }))["run"]
    assert run["info"]["user_id"] == bob[0]
    tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
    assert tags["mlflow.user"] == bob[0]
    r = api(server, "POST", "/api/2.0/mlflow/runs/set-tag", bob,
            {"run_id": run["info"]["run_id"], "key": "mlflow.user", "value": "mallory"})
    assert r.status_code == 400 and "mlflow.user" in r.json()["message"]


def test_mlflow_client_with_a_token_and_the_creator_manages(
    server: Server, people: People, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = ok(api(server, "POST", "/api/2.0/compliance/tokens/create", server.auth,
                  {"name": people.alice[0]}))
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME")
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD")
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", made["token"])
    client = mlflow.MlflowClient(server.url)
    eid = client.create_experiment(f"token-{uuid.uuid4().hex[:6]}")
    run = client.create_run(eid)
    client.log_metric(run.info.run_id, "loss", 0.5)
    assert client.get_run(run.info.run_id).info.user_id == people.alice[0]
    client.delete_experiment(eid)  # the creator manages what it created
    ok(api(server, "POST", "/api/2.0/compliance/tokens/revoke", server.auth, {"id": made["id"]}))
    r = api(server, "POST", "/api/2.0/mlflow/experiments/search", made["token"],
            {"max_results": 10})
    assert r.status_code == 401


def test_expired_token_is_refused(server: Server, people: People) -> None:
    made = ok(api(server, "POST", "/api/2.0/compliance/tokens/create", server.auth,
                  {"name": people.bob[0], "expires_at": "2020-01-01T00:00:00+00:00"}))
    r = api(server, "POST", "/api/2.0/mlflow/experiments/search", made["token"],
            {"max_results": 10})
    assert r.status_code == 401


def test_password_change_ends_cached_basic_credentials(server: Server) -> None:
    name = f"erin-{uuid.uuid4().hex[:6]}"
    ok(api(server, "POST", "/api/2.0/compliance/users/create", server.auth,
           {"name": name, "password": PASSWORD}))
    old = (name, PASSWORD)
    for _ in range(3):  # verified once, then served from the cache
        ok(api(server, "POST", "/api/2.0/mlflow/experiments/search", old, {"max_results": 10}))
    ok(api(server, "POST", "/api/2.0/compliance/users/set-password", server.auth,
           {"name": name, "password": "a brand new passphrase"}))
    r = api(server, "POST", "/api/2.0/mlflow/experiments/search", old, {"max_results": 10})
    assert r.status_code == 401
    ok(api(server, "POST", "/api/2.0/mlflow/experiments/search",
           (name, "a brand new passphrase"), {"max_results": 10}))


@pytest.fixture
def identities(tmp_path: Path) -> Iterator[IdentityStore]:
    store = IdentityStore.connect(f"sqlite:///{tmp_path / 'identities.db'}")
    yield store
    store.engine.dispose()


def test_basic_cache_holds_no_password_and_respects_versions(identities: IdentityStore) -> None:
    identities.create_user("frank", PASSWORD, Role.USER)
    authenticator = Authenticator(identities)
    header = "Basic " + base64.b64encode(f"frank:{PASSWORD}".encode()).decode()
    first = authenticator.authenticate(header)
    assert first is not None and first.name == "frank" and first.method == "basic"
    assert len(authenticator.cache) == 1
    (key,) = authenticator.cache._entries
    assert PASSWORD.encode() not in key and len(key) == 32
    assert authenticator.authenticate(header) == first
    identities.set_password("frank", "another long passphrase")
    assert authenticator.authenticate(header) is None
    identities.delete_user("frank")
    header2 = "Basic " + base64.b64encode(b"frank:another long passphrase").decode()
    assert authenticator.authenticate(header2) is None


def test_basic_cache_is_bounded_and_expires() -> None:
    cache = VerifiedCredentials(max_entries=3, ttl_seconds=60)
    keys = [cache.key(f"u{i}:p".encode()) for i in range(5)]
    for i, key in enumerate(keys):
        cache.put(key, f"u{i}", 1)
    assert len(cache) == 3
    assert cache.get(keys[0]) is None and cache.get(keys[4]) == ("u4", 1)
    short = VerifiedCredentials(ttl_seconds=-1)
    short.put(keys[0], "u0", 1)
    assert short.get(keys[0]) is None
