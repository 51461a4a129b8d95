"""The seed's search, as written: ``curl -X GET .../runs/search -d '{"filter": ...}'``.

MLflow answers GET on ``runs/search`` with 405 and, without ``experiment_ids``, returns
no runs. This layer turns such a GET (JSON body or query string) into MLflow's own POST
over every active experiment. Later layers (authorization) still filter what the caller
may read. A POST is passed on unchanged, so MLflow clients see MLflow's behaviour.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import parse_qsl

import anyio.to_thread
from starlette.types import ASGIApp, Receive, Scope, Send

from mlflow_compliance.server.body import BodyTooLarge, read_body, with_body
from mlflow_compliance.server.errors import send_error, send_too_large
from mlflow_compliance.server.routes import RUNS_SEARCH, normalized


def active_experiment_ids() -> list[str]:
    """Every active experiment of the tracking store this server process serves."""
    from mlflow.entities import ViewType
    from mlflow.server.handlers import _get_tracking_store

    store = _get_tracking_store()
    ids: list[str] = []
    token = None
    while True:
        page = store.search_experiments(
            view_type=ViewType.ACTIVE_ONLY, max_results=1000, page_token=token
        )
        ids.extend(e.experiment_id for e in page)
        token = page.token
        if not token:
            return ids


class SeedSearch:
    """ASGI layer: GET ``runs/search`` with a JSON body searches every experiment."""

    def __init__(
        self, app: ASGIApp, experiment_ids: Callable[[], list[str]] = active_experiment_ids
    ) -> None:
        self.app = app
        self.experiment_ids = experiment_ids

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or not RUNS_SEARCH.match(
            normalized(scope["path"])
        ):
            await self.app(scope, receive, send)
            return
        try:
            body = await read_body(receive)
            query = json.loads(body) if body.strip() else {}
        except BodyTooLarge:
            await send_too_large(send)
            return
        except ValueError:
            query = None
        if not isinstance(query, dict):
            await send_error(
                send,
                400,
                "INVALID_PARAMETER_VALUE",
                "request body: not a JSON object; expected e.g. "
                '{"filter": "tags.compliance = \'GDPR\'"}',
            )
            return
        for key, value in parse_qsl(scope.get("query_string", b"").decode()):
            if key == "experiment_ids":
                query.setdefault(key, []).append(value)
            else:
                query.setdefault(key, value)
        if not query.get("experiment_ids"):
            query["experiment_ids"] = await anyio.to_thread.run_sync(self.experiment_ids)
        post, receive = with_body(
            {**scope, "method": "POST", "query_string": b""}, receive, query
        )
        await self.app(post, receive, send)
