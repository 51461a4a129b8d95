"""Regression tests for the MLflow advisory classes of DESIGN.md, on a real server."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests

from mlflow_compliance.server.surface import source_problem, unsafe_path, webhook_problem
from mlflow_compliance.testing import MINIMUM_RECORD, Server


def post(server: Server, path: str, body: Any) -> requests.Response:
    return requests.post(server.url + path, json=body, auth=server.auth, timeout=30)


@pytest.fixture(scope="module")
def run(server: Server) -> dict[str, str]:
    eid = post(server, "/api/2.0/mlflow/experiments/create",
               {"name": f"surface-{uuid.uuid4().hex[:6]}"}).json()["experiment_id"]
    # The minimum record, so a version's refusal can only be its source.
    record = [{"key": k, "value": v} for k, v in MINIMUM_RECORD.items()]
    rid = post(server, "/api/2.0/mlflow/runs/create",
               {"experiment_id": eid, "tags": record}).json()["run"]["info"]["run_id"]
    r = requests.put(f"{server.url}/api/2.0/mlflow-artifacts/artifacts/{eid}/{rid}/artifacts/a",
                     data=b"inside", auth=server.auth, timeout=30)
    assert r.status_code == 200, r.text
    return {"experiment_id": eid, "run_id": rid}


@pytest.mark.parametrize(
    "location", ["file:///etc", "s3://bucket/x", "mlflow-artifacts:/x#/etc", "/tmp/direct"]
)
def test_experiment_with_its_own_artifact_location_is_refused(server: Server, location: str):
    # CVE-2023-6909, CVE-2024-3848 and direct writes past encryption and audit.
    name = f"direct-{uuid.uuid4().hex[:6]}"
    r = post(server, "/api/2.0/mlflow/experiments/create",
             {"name": name, "artifact_location": location})
    assert r.status_code == 400
    assert r.json()["message"].startswith("artifact_location:")
    r = requests.get(f"{server.url}/api/2.0/mlflow/experiments/get-by-name",
                     params={"experiment_name": name}, auth=server.auth, timeout=30)
    assert r.status_code == 404


@pytest.mark.parametrize(
    "route", ["/api/2.0/mlflow-artifacts/mpu/create/1/x/artifacts/f",
              "/api/2.0/mlflow/artifacts/presigned-upload-url"]
)
def test_direct_transfers_to_storage_are_off_even_for_admin(server: Server, route: str):
    r = post(server, route, {"path": "f", "run_id": "x"})
    assert r.status_code == 403
    assert "direct transfers" in r.json()["message"]


@pytest.mark.parametrize(
    "tail",
    ["../../../../etc/passwd", "%2e%2e/%2e%2e/etc/passwd", "%252e%252e/%252e%252e/etc/passwd",
     "..%2f..%2fetc%2fpasswd", "%25252e%25252e%25252fetc", "a/..\\..\\etc", "%00x"],
)
def test_path_traversal_is_refused_in_every_encoding(
    server: Server, run: dict[str, str], tail: str
) -> None:
    # CVE-2023-30172, CVE-2023-6831, CVE-2024-1560 (double-encoded)
    base = f"{run['experiment_id']}/{run['run_id']}/artifacts/"
    for method in ("GET", "PUT"):
        url = f"{server.url}/api/2.0/mlflow-artifacts/artifacts/{base}{tail}"
        r = requests.request(method, url, data=b"x" if method == "PUT" else None,
                             auth=server.auth, timeout=30)
        assert r.status_code in (400, 403, 404), (method, r.status_code, r.text)
        assert b"root:" not in r.content
    r = requests.get(f"{server.url}/get-artifact", params={"run_id": run["run_id"], "path": tail},
                     auth=server.auth, timeout=30)
    assert r.status_code == 400 and b"root:" not in r.content
    r = requests.get(f"{server.url}/api/2.0/mlflow-artifacts/artifacts",
                     params={"path": base + tail}, auth=server.auth, timeout=30)
    assert r.status_code == 400


def test_a_safe_artifact_still_downloads(server: Server, run: dict[str, str]) -> None:
    r = requests.get(f"{server.url}/api/2.0/mlflow-artifacts/artifacts/"
                     f"{run['experiment_id']}/{run['run_id']}/artifacts/a",
                     auth=server.auth, timeout=30)
    assert r.status_code == 200 and r.content == b"inside"


@pytest.mark.parametrize(
    "source",
    ["/etc", "file:///etc/passwd", "runs:/{other}/model", "runs:/{run}/../../../etc",
     "mlflow-artifacts:/1/{run}/artifacts#/etc", "http://example.com/model", "{home}"],
)
def test_model_version_source_stays_inside_its_run(
    server: Server, run: dict[str, str], source: str
) -> None:
    # CVE-2023-1177 and its bypasses: a version pointing at server files.
    model = f"m-{uuid.uuid4().hex[:6]}"
    assert post(server, "/api/2.0/mlflow/registered-models/create", {"name": model}).ok
    body = {"name": model, "run_id": run["run_id"],
            "source": source.format(run=run["run_id"], other="0" * 32, home=server.home)}
    r = post(server, "/api/2.0/mlflow/model-versions/create", body)
    assert r.status_code == 400, r.text
    assert r.json()["message"].startswith("source:")
    ok = post(server, "/api/2.0/mlflow/model-versions/create",
              {**body, "source": f"runs:/{run['run_id']}/model"})
    assert ok.status_code == 200, ok.text


def test_host_header_of_another_site_is_refused(server: Server) -> None:
    # DNS rebinding (CVE-2025-14279): MLflow's host check stays in the stack.
    r = requests.post(server.url + "/api/2.0/mlflow/experiments/search", json={},
                      auth=server.auth, headers={"Host": "attacker.example"}, timeout=30)
    assert r.status_code in (400, 403)


def test_webhooks_are_admin_only_and_never_aim_inside(server: Server) -> None:
    r = post(server, "/api/2.0/mlflow/webhooks", {
        "name": "w", "url": "http://127.0.0.1:5000/hook", "events": [
            {"entity": "model_version", "action": "created"}]})
    assert r.status_code == 400 and "non-public address" in r.json()["message"]


@pytest.mark.parametrize("url", ["http://127.0.0.1/", "http://10.1.2.3/", "http://[::1]/",
                                 "http://169.254.169.254/latest", "ftp://example.com/"])
def test_webhook_targets_inside_are_refused(url: str) -> None:
    assert webhook_problem(url) is not None


def test_path_checks() -> None:
    assert unsafe_path("model/MLmodel") is None
    assert unsafe_path("100%.txt") is None
    assert unsafe_path("%2e%2e/x") is not None
    assert source_problem("runs:/abc/model", "abc") is None
    assert source_problem("models:/m-0123abcd", None) is None
    assert source_problem("runs:/abc/model", "def") is not None


@pytest.mark.parametrize("name", ["page.html", "MLmodel"])
def test_downloaded_artifacts_cannot_run_as_pages_of_this_origin(
    server: Server, run: dict[str, str], name: str
) -> None:
    # Stored XSS through uploaded files (CVE-2026-33865 and the classic .html artifact).
    payload = b"artifact_path: model\nflavors: {}\n<script>alert(document.cookie)</script>\n"
    base = f"{run['experiment_id']}/{run['run_id']}/artifacts/{name}"
    r = requests.put(f"{server.url}/api/2.0/mlflow-artifacts/artifacts/{base}", data=payload,
                     auth=server.auth, timeout=30)
    assert r.status_code == 200
    for url, params in [
        (f"{server.url}/api/2.0/mlflow-artifacts/artifacts/{base}", None),
        (f"{server.url}/ajax-api/2.0/mlflow-artifacts/artifacts/{base}", None),
        (f"{server.url}/get-artifact", {"run_id": run["run_id"], "path": name}),
    ]:
        r = requests.get(url, params=params, auth=server.auth, timeout=30)
        assert r.status_code == 200 and r.content == payload
        assert r.headers["content-security-policy"] == "sandbox; default-src 'none'"
        assert r.headers["x-content-type-options"] == "nosniff"
