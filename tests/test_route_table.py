"""Every MLflow route that can write tags is either validated or known not to need it.

The routes are enumerated from the installed MLflow at test time, so a tag-writing
route added by a new MLflow release fails this test instead of slipping past validation.
"""

from __future__ import annotations

import re

from mlflow_compliance.server.routes import TAG_WRITE_METHODS, TAG_WRITES
from mlflow_compliance.testing import mlflow_routes

# Routes that look like tag writes but do not carry the compliance record, and why.
NOT_RECORD_TAGS = {
    "/api/2.0/mlflow/experiments/delete-experiment-tag": "deletes, writes no value",
    "/api/2.0/mlflow/runs/delete-tag": "deletes, writes no value",
    "/api/2.0/mlflow/model-versions/transition-stage": "'stage', not 'tag': writes no tags",
    "/api/2.0/mlflow/traces": "traces are not described by the compliance record",
    "/api/2.0/mlflow/traces/x/tags": "traces are not described by the compliance record",
    "/api/3.0/mlflow/traces": "traces are not described by the compliance record",
    "/api/3.0/mlflow/traces/x/tags": "traces are not described by the compliance record",
    "/v1/traces": "OpenTelemetry trace ingest, not described by the compliance record",
    "/api/3.0/mlflow/gateway/endpoints/set-tag": "AI gateway endpoints, not ML assets",
    "/api/3.0/mlflow/gateway/endpoints/create": "AI gateway endpoints, not ML assets",
    "/api/3.0/mlflow/gateway/endpoints/bindings/create": "AI gateway, no tags",
    "/api/3.0/mlflow/gateway/budgets/create": "AI gateway, no tags",
    "/api/3.0/mlflow/gateway/guardrails/create": "AI gateway, no tags",
    "/api/3.0/mlflow/gateway/model-definitions/create": "AI gateway, no tags",
    "/api/3.0/mlflow/gateway/secrets/create": "AI gateway, no tags",
    "/api/3.0/mlflow/label-schemas/create": "labelling schemas, no tags",
    "/api/3.0/mlflow/mcp-servers/x/tags": "MCP server registry, not ML assets",
    "/api/3.0/mlflow/mcp-servers/x/versions/x/tags": "MCP server registry, not ML assets",
    "/api/3.0/mlflow/review-queues/create": "review queues, no tags",
    "/api/3.0/mlflow/review-queues/get-or-create-user": "review queues, no tags",
}


def _looks_like_tag_write(path: str) -> bool:
    return bool(
        "tag" in path
        or re.search(r"/(create|log-batch|log-inputs|logged-models|traces)$", path)
    )


def _write_routes() -> set[str]:
    return {path for method, path in mlflow_routes() if method in TAG_WRITE_METHODS | {"PUT"}}


def test_every_tag_writing_route_is_validated_or_explained() -> None:
    unexplained = sorted(
        path
        for path in _write_routes()
        if _looks_like_tag_write(path)
        and not TAG_WRITES.match(path)
        and path.replace("/ajax-api/", "/api/") not in NOT_RECORD_TAGS
    )
    assert unexplained == [], (
        "MLflow has tag-writing routes that compliance validation does not cover: "
        f"{unexplained}; add them to routes.TAG_WRITES or explain them in NOT_RECORD_TAGS"
    )


def test_fastapi_native_routes_are_enumerated_too() -> None:
    routes = mlflow_routes()
    assert ("PUT", "/api/2.0/mlflow-artifacts/artifacts/x") in routes
    assert ("POST", "/api/3.0/mlflow/mcp-servers/x/tags") in routes
    assert ("POST", "/api/2.0/mlflow/runs/set-tag") in routes


def test_the_routes_validation_covers_exist_in_mlflow() -> None:
    routes = _write_routes()
    covered = [p for p in routes if TAG_WRITES.match(p)]
    assert len({p.replace("/ajax-api/", "/api/") for p in covered}) == 14
    assert "/api/2.0/mlflow/runs/set-tag" in covered
    assert "/ajax-api/2.0/mlflow/runs/set-tag" in covered
