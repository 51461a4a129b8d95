"""The server refuses an invalid compliance tag on every route that writes tags.

Each door is driven over MLflow's REST API against a real compliance server (SQLite and
PostgreSQL): the answer is a 400 in MLflow's error shape naming the field, and nothing
of the request is stored. A valid value through the same door is stored.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from mlflow_compliance.testing import Server

BAD = ("compliance.gdpr.lawful_basis", "because-we-can")
GOOD = ("compliance.gdpr.lawful_basis", "contract")
ALLOWED = "allowed: one of consent, contract"
# A dataset (a run's dataset input, an evaluation dataset) holds the dataset record.
DATASET_BAD = ("compliance.gdpr.special_categories", "astrology")
DATASET_GOOD = ("compliance.dataset.origin", "Exported from the customer CRM in 2024")
DATASET_ALLOWED = "each item one of racial_or_ethnic_origin"
# The minimum record (MLFLOW_COMPLIANCE_REQUIRED_RECORD's default): the world's run
# holds it, so a model version can be registered from it.
MINIMUM = [{"key": "compliance.gdpr.personal_data", "value": "true"},
           {"key": "compliance.ai_act.risk_class", "value": "minimal"}]


def call(
    server: Server, method: str, path: str, body: Any = None, ajax: bool = False
) -> requests.Response:
    prefix = "/ajax-api" if ajax else "/api"
    return requests.request(
        method, f"{server.url}{prefix}{path}", json=body, timeout=30, auth=server.auth
    )


def ok(server: Server, method: str, path: str, body: Any = None) -> dict[str, Any]:
    r = call(server, method, path, body)
    assert r.status_code == 200, r.text
    return r.json()


@dataclass
class World:
    """One of each thing a tag can be written to."""

    server: Server
    experiment_id: str
    run_id: str
    model: str
    version: str
    logged_model_id: str
    dataset_id: str

    @classmethod
    def make(cls, server: Server) -> World:
        name = uuid.uuid4().hex[:8]
        exp = ok(server, "POST", "/2.0/mlflow/experiments/create", {"name": f"exp-{name}"})
        eid = exp["experiment_id"]
        run = ok(server, "POST", "/2.0/mlflow/runs/create",
                 {"experiment_id": eid, "tags": MINIMUM})
        rid = run["run"]["info"]["run_id"]
        ok(server, "POST", "/2.0/mlflow/registered-models/create", {"name": f"model-{name}"})
        mv = ok(
            server, "POST", "/2.0/mlflow/model-versions/create",
            {"name": f"model-{name}", "source": f"runs:/{rid}/model", "run_id": rid},
        )
        lm = ok(server, "POST", "/2.0/mlflow/logged-models", {"experiment_id": eid})
        ds = ok(server, "POST", "/3.0/mlflow/datasets/create",
                {"name": f"ds-{name}", "experiment_ids": [eid]})
        return cls(
            server, eid, rid, f"model-{name}", mv["model_version"]["version"],
            lm["model"]["info"]["model_id"], ds["dataset"]["dataset_id"],
        )

    def run_tags(self) -> dict[str, str]:
        run = ok(self.server, "GET", f"/2.0/mlflow/runs/get?run_id={self.run_id}")["run"]
        return {t["key"]: t["value"] for t in run["data"].get("tags", [])}

    def run_count(self) -> int:
        found = ok(self.server, "POST", "/2.0/mlflow/runs/search",
                   {"experiment_ids": [self.experiment_id], "max_results": 1000})
        return len(found.get("runs", []))


@pytest.fixture
def world(any_server: Server) -> World:
    return World.make(any_server)


@dataclass
class Door:
    """A tag-writing route: the request, and how to see whether the tag was stored."""

    method: str
    path: Callable[[World], str]
    body: Callable[[World, tuple[str, str]], Any]
    stored: Callable[[World, tuple[str, str]], bool]
    dataset: bool = False  # the tags hold the dataset record

    def tags(self) -> tuple[tuple[str, str], tuple[str, str], str]:
        """A bad tag, a good tag, and what the refusal says is allowed."""
        if self.dataset:
            return DATASET_BAD, DATASET_GOOD, DATASET_ALLOWED
        return BAD, GOOD, ALLOWED


def _kv(tag: tuple[str, str]) -> dict[str, str]:
    return {"key": tag[0], "value": tag[1]}


def _has(tags: Any, tag: tuple[str, str]) -> bool:
    if isinstance(tags, str):  # 3.0 datasets answer with their tags as a JSON string
        tags = json.loads(tags)
    if isinstance(tags, dict):
        return tags.get(tag[0]) == tag[1]
    return any(t.get("key") == tag[0] and t.get("value") == tag[1] for t in tags or [])


def _experiment_by_name(w: World, name: str) -> dict[str, Any] | None:
    r = call(w.server, "GET", f"/2.0/mlflow/experiments/get-by-name?experiment_name={name}")
    return r.json()["experiment"] if r.status_code == 200 else None


def _model_tags(w: World) -> Any:
    return ok(w.server, "GET", f"/2.0/mlflow/registered-models/get?name={w.model}")[
        "registered_model"].get("tags")


def _version_tags(w: World, version: str | None = None) -> Any:
    r = call(w.server, "GET",
             f"/2.0/mlflow/model-versions/get?name={w.model}&version={version or w.version}")
    return r.json()["model_version"].get("tags") if r.status_code == 200 else None


def _logged_model_tags(w: World, model_id: str | None = None) -> Any:
    got = ok(w.server, "GET", f"/2.0/mlflow/logged-models/{model_id or w.logged_model_id}")
    return got["model"]["info"].get("tags")


def _logged_models_with(w: World, tag: tuple[str, str]) -> bool:
    found = ok(w.server, "POST", "/2.0/mlflow/logged-models/search",
               {"experiment_ids": [w.experiment_id]})
    return any(_has(m["info"].get("tags"), tag) for m in found.get("models", []))


def _dataset_tags(w: World) -> Any:
    return ok(w.server, "GET", f"/3.0/mlflow/datasets/{w.dataset_id}")["dataset"].get("tags")


def _datasets_named(w: World, name: str) -> list[Any]:
    found = ok(w.server, "POST", "/3.0/mlflow/datasets/search",
               {"experiment_ids": [w.experiment_id]})
    return [d for d in found.get("datasets", []) if d["name"] == name]


def _run_inputs(w: World) -> list[Any]:
    run = ok(w.server, "GET", f"/2.0/mlflow/runs/get?run_id={w.run_id}")["run"]
    return run.get("inputs", {}).get("dataset_inputs", [])


DOORS: dict[str, Door] = {
    "runs/set-tag": Door(
        "POST", lambda w: "/2.0/mlflow/runs/set-tag",
        lambda w, t: {"run_id": w.run_id, **_kv(t)},
        lambda w, t: _has(w.run_tags(), t),
    ),
    "runs/log-batch": Door(
        "POST", lambda w: "/2.0/mlflow/runs/log-batch",
        lambda w, t: {
            "run_id": w.run_id,
            "metrics": [{"key": "auc", "value": 0.9, "timestamp": 1, "step": 0}],
            "params": [{"key": "p-" + t[1], "value": "1"}],
            "tags": [{"key": "ok", "value": "1"}, _kv(t)],
        },
        # Nothing of a refused batch may land: not the tag, nor its metric or param.
        lambda w, t: (_has(w.run_tags(), t), bool(
            ok(w.server, "GET", f"/2.0/mlflow/runs/get?run_id={w.run_id}")["run"]["data"]
            .get("metrics"))) != (False, False),
    ),
    "runs/create": Door(
        "POST", lambda w: "/2.0/mlflow/runs/create",
        lambda w, t: {"experiment_id": w.experiment_id, "tags": [_kv(t)]},
        lambda w, t: w.run_count() > 1,
    ),
    "runs/log-inputs": Door(
        "POST", lambda w: "/2.0/mlflow/runs/log-inputs",
        lambda w, t: {
            "run_id": w.run_id,
            "datasets": [{
                "tags": [{"key": "mlflow.data.context", "value": "training"}, _kv(t)],
                "dataset": {"name": "customers", "digest": "abc123", "source_type": "local",
                            "source": json.dumps({"uri": "/data/customers.csv"})},
            }],
        },
        lambda w, t: bool(_run_inputs(w)),
        dataset=True,
    ),
    "experiments/create": Door(
        "POST", lambda w: "/2.0/mlflow/experiments/create",
        lambda w, t: {"name": f"exp-{w.run_id}-{t[1]}", "tags": [_kv(t)]},
        lambda w, t: _experiment_by_name(w, f"exp-{w.run_id}-{t[1]}") is not None,
    ),
    "experiments/set-experiment-tag": Door(
        "POST", lambda w: "/2.0/mlflow/experiments/set-experiment-tag",
        lambda w, t: {"experiment_id": w.experiment_id, **_kv(t)},
        lambda w, t: _has(ok(w.server, "GET",
                             f"/2.0/mlflow/experiments/get?experiment_id={w.experiment_id}")
                          ["experiment"].get("tags"), t),
    ),
    "registered-models/create": Door(
        "POST", lambda w: "/2.0/mlflow/registered-models/create",
        lambda w, t: {"name": f"{w.model}-{t[1]}", "tags": [_kv(t)]},
        lambda w, t: call(w.server, "GET",
                          f"/2.0/mlflow/registered-models/get?name={w.model}-{t[1]}"
                          ).status_code == 200,
    ),
    "registered-models/set-tag": Door(
        "POST", lambda w: "/2.0/mlflow/registered-models/set-tag",
        lambda w, t: {"name": w.model, **_kv(t)},
        lambda w, t: _has(_model_tags(w), t),
    ),
    "model-versions/create": Door(
        "POST", lambda w: "/2.0/mlflow/model-versions/create",
        lambda w, t: {"name": w.model, "source": f"runs:/{w.run_id}/model",
                      "run_id": w.run_id, "tags": [_kv(t)]},
        lambda w, t: _version_tags(w, str(int(w.version) + 1)) is not None,
    ),
    "model-versions/set-tag": Door(
        "POST", lambda w: "/2.0/mlflow/model-versions/set-tag",
        lambda w, t: {"name": w.model, "version": w.version, **_kv(t)},
        lambda w, t: _has(_version_tags(w), t),
    ),
    "logged-models (create)": Door(
        "POST", lambda w: "/2.0/mlflow/logged-models",
        lambda w, t: {"experiment_id": w.experiment_id, "tags": [_kv(t)]},
        _logged_models_with,
    ),
    "logged-models/{id}/tags": Door(
        "PATCH", lambda w: f"/2.0/mlflow/logged-models/{w.logged_model_id}/tags",
        lambda w, t: {"tags": [_kv(t)]},
        lambda w, t: _has(_logged_model_tags(w), t),
    ),
    "3.0 datasets/create": Door(
        "POST", lambda w: "/3.0/mlflow/datasets/create",
        lambda w, t: {"name": f"ds-{w.run_id}-{t[1][:8]}", "experiment_ids": [w.experiment_id],
                      "tags": json.dumps({t[0]: t[1]})},
        lambda w, t: bool(_datasets_named(w, f"ds-{w.run_id}-{t[1][:8]}")),
        dataset=True,
    ),
    "3.0 datasets/{id}/tags": Door(
        "PATCH", lambda w: f"/3.0/mlflow/datasets/{w.dataset_id}/tags",
        lambda w, t: {"tags": json.dumps({t[0]: t[1]})},
        lambda w, t: _has(_dataset_tags(w), t),
        dataset=True,
    ),
}


def assert_refused(r: requests.Response, field: str) -> None:
    assert r.status_code == 400, r.text
    error = r.json()
    assert error["error_code"] == "INVALID_PARAMETER_VALUE"
    assert error["message"].startswith(field + ":")
    assert "\n" not in error["message"]


@pytest.mark.parametrize("door", list(DOORS), ids=list(DOORS))
def test_invalid_compliance_tag_is_refused_and_nothing_is_stored(world: World, door: str) -> None:
    d = DOORS[door]
    bad, _, allowed = d.tags()
    r = call(world.server, d.method, d.path(world), d.body(world, bad))
    assert_refused(r, bad[0])
    assert allowed in r.json()["message"]
    assert not d.stored(world, bad)


@pytest.mark.parametrize("door", list(DOORS), ids=list(DOORS))
def test_valid_compliance_tag_is_stored(world: World, door: str) -> None:
    d = DOORS[door]
    _, good, _ = d.tags()
    r = call(world.server, d.method, d.path(world), d.body(world, good))
    assert r.status_code == 200, r.text
    assert d.stored(world, good)


def test_ui_ajax_twin_route_is_validated_too(server: Server) -> None:
    w = World.make(server)
    r = call(server, "POST", "/2.0/mlflow/runs/set-tag", {"run_id": w.run_id, **_kv(BAD)},
             ajax=True)
    assert_refused(r, BAD[0])
    assert BAD[0] not in w.run_tags()


def test_double_encoded_json_body_is_validated_as_mlflow_reads_it(server: Server) -> None:
    # MLflow decodes a JSON string body a second time (older clients); so must we.
    w = World.make(server)
    body = json.dumps(json.dumps({"run_id": w.run_id, **_kv(BAD)}))
    r = requests.post(f"{server.url}/api/2.0/mlflow/runs/set-tag", data=body,
                      headers={"Content-Type": "application/json"}, timeout=30, auth=server.auth)
    assert_refused(r, BAD[0])
    assert BAD[0] not in w.run_tags()


def test_unknown_compliance_key_is_refused(server: Server) -> None:
    w = World.make(server)
    r = call(server, "POST", "/2.0/mlflow/runs/set-tag",
             {"run_id": w.run_id, "key": "compliance.gdpr.lawfull_basis", "value": "consent"})
    assert_refused(r, "compliance.gdpr.lawfull_basis")
    assert "did you mean compliance.gdpr.lawful_basis?" in r.json()["message"]


def test_every_bad_tag_of_a_batch_is_named(server: Server) -> None:
    w = World.make(server)
    r = call(server, "POST", "/2.0/mlflow/runs/log-batch", {"run_id": w.run_id, "tags": [
        {"key": "compliance.ai_act.risk_class", "value": "severe"},
        {"key": "data_privacy", "value": "maybe"},
    ]})
    assert r.status_code == 400
    message = r.json()["message"]
    assert "compliance.ai_act.risk_class: 'severe'" in message
    assert "data_privacy: 'maybe'" in message


def test_non_compliance_tags_pass_untouched(server: Server) -> None:
    w = World.make(server)
    ok(server, "POST", "/2.0/mlflow/runs/set-tag",
       {"run_id": w.run_id, "key": "team", "value": "anything, at all"})
    assert w.run_tags()["team"] == "anything, at all"


def test_mlflow_client_sees_the_refusal_as_an_mlflow_error(tracking: Any) -> None:
    import mlflow
    from mlflow.exceptions import MlflowException

    run = tracking.create_run("0")
    with pytest.raises(MlflowException) as caught:
        tracking.set_tag(run.info.run_id, "compliance.gdpr.personal_data", "perhaps")
    assert caught.value.error_code == "INVALID_PARAMETER_VALUE"
    assert "compliance.gdpr.personal_data: 'perhaps' is not allowed" in str(caught.value)
    assert "compliance.gdpr.personal_data" not in tracking.get_run(run.info.run_id).data.tags
    assert mlflow.get_tracking_uri() == tracking.tracking_uri


@pytest.mark.parametrize(
    "path",
    ["//api/2.0/mlflow/runs/set-tag", "///api/2.0/mlflow/runs/set-tag",
     "/api/2.0/mlflow/runs/set%2Dtag", "/api/2.0/mlflow//runs/set-tag",
     "/api/2.0/mlflow/./runs/set-tag", "/api/2.0/mlflow/x/../runs/set-tag",
     "/api/2.0/mlflow/runs/set-tag/", "/api/2.0/mlflow/runs%2Fset-tag"],
)
def test_path_spellings_do_not_slip_past_validation(server: Server, path: str) -> None:
    w = World.make(server)
    r = requests.post(server.url + path, json={"run_id": w.run_id, **_kv(BAD)}, timeout=30,
                      auth=server.auth)
    assert r.status_code != 200
    assert BAD[0] not in w.run_tags()
