"""Authorization layer: may the caller do what this request asks? Deny by default.

The route table names the action and where the request names its resource; the
resolver finds the experiment or registered model behind it; the policy decides.
Searches are narrowed to what the caller may read, and the creator of an experiment
or registered model is granted ``manage`` on it.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs

import anyio.to_thread
from starlette.types import ASGIApp, Receive, Scope, Send

from mlflow_compliance.identity.principal import ANONYMOUS, SCOPE_KEY, Principal, Role
from mlflow_compliance.identity.store import GrantKind, IdentityStore, Level
from mlflow_compliance.server.audit import note
from mlflow_compliance.server.authorization import filters
from mlflow_compliance.server.authorization.policy import by_grants, by_role
from mlflow_compliance.server.authorization.resources import Resolver, values
from mlflow_compliance.server.authorization.table import (
    Permission,
    Resource,
    Route,
    Source,
    find,
)
from mlflow_compliance.server.body import BodyTooLarge, json_body, with_body
from mlflow_compliance.server.capture import rewrite_json_answer
from mlflow_compliance.server.errors import send_error, send_forbidden, send_unauthenticated
from mlflow_compliance.server.routes import normalized

# Searches over several experiments: narrowed to the readable ones instead of refused.
NARROWED = {
    "/api/2.0/mlflow/runs/search": "runs",
    "/api/2.0/mlflow/logged-models/search": "models",
}
# Routes that also read a second resource: the run a model version is registered from.
SOURCE_RUN = {"/api/2.0/mlflow/model-versions/create"}
CREATED = {
    "/api/2.0/mlflow/experiments/create": (GrantKind.EXPERIMENT, ("experiment_id",)),
    "/api/2.0/mlflow/registered-models/create": (
        GrantKind.REGISTERED_MODEL,
        ("registered_model", "name"),
    ),
}


class Authorization:
    def __init__(self, app: ASGIApp, store: IdentityStore, resolver: Resolver | None = None):
        self.app = app
        self.store = store
        self.resolver = resolver or Resolver()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        found = find(scope["method"], normalized(scope["path"]))
        if found is None:
            await send_forbidden(
                send,
                f"{scope['method']} {scope['path']}: not a route this "
                "server allows (refused by default)",
            )
            return
        route, params = found
        note(scope, route=route, params=params)
        who: Principal = scope.get(SCOPE_KEY, ANONYMOUS)
        if route.permission is not Permission.PUBLIC and not who.authenticated:
            await send_unauthenticated(send, "authentication required")
            return
        payload: Any = None
        if any(w.source is Source.JSON for w in route.where):
            # Parsed for every caller, admins too: the audit log names what they touched.
            try:
                payload, receive = await json_body(scope, receive)
            except BodyTooLarge:
                await send_error(send, 413, "RESOURCE_EXHAUSTED", "request body: too large")
                return
            note(scope, payload=payload)
        verdict = by_role(who, route)
        if isinstance(verdict, str):
            await send_forbidden(send, verdict)
            return
        if verdict is None:
            query = parse_qs(scope.get("query_string", b"").decode())
            note(scope, query=query)
            named = values(route.where, params, query, payload)
            if route.path in NARROWED:
                readable = await anyio.to_thread.run_sync(
                    self.store.readable, who.name, GrantKind.EXPERIMENT
                )
                ids = [i for i in (named[1] if named else []) if i in readable]
                if not ids:
                    await _send_json(send, {})
                    return
                narrowed = {**(payload or {}), "experiment_ids": ids}
                scope, receive = with_body(scope, receive, narrowed)
            elif named is None:
                await send_forbidden(send, f"{route.action}: the request names no resource")
                return
            else:
                reason = await anyio.to_thread.run_sync(
                    self._check, who, route, named[1], payload, query
                )
                if reason:
                    await send_forbidden(send, reason)
                    return
        answer_filter, applies = filters.BY_PATH.get(route.path, (None, None))
        created = CREATED.get(route.path) if who.role is Role.USER else None
        if answer_filter is not None and applies is not None and applies(who):
            keep = answer_filter

            def change(status: int, data: Any) -> Any:
                return keep(self.store, who, data) if status == 200 else data

            await rewrite_json_answer(self.app, scope, receive, send, change)
        elif created is not None:
            kind, key_path = created

            def grant_creator(status: int, data: Any) -> Any:
                if status == 200:
                    target = data
                    for part in key_path:
                        target = target[part]
                    self.store.grant(who.name, kind, str(target), Level.MANAGE)
                return data

            await rewrite_json_answer(self.app, scope, receive, send, grant_creator)
        else:
            await self.app(scope, receive, send)

    def _check(
        self,
        who: Principal,
        route: Route,
        ids: list[str],
        payload: Any,
        query: dict[str, list[str]],
    ) -> str | None:
        """Why the user may not do this, or None. Unknown resources are refused too."""
        target = self.resolver.resolve(route.resource, ids, _extra(payload, query))
        if target.missing:
            return (
                f"{route.action}: {route.resource.value} {', '.join(ids)} does not exist "
                "or is not where the request says"
            )
        reason = by_grants(self.store, who, route, target)
        if reason is None and route.path in SOURCE_RUN:
            # Registering a version from a run also reads that run.
            run_id = payload.get("run_id") if isinstance(payload, dict) else None
            if run_id:
                source = self.resolver.resolve(Resource.RUN, [str(run_id)], {})
                reading = replace(route, permission=Permission.READ)
                if source.missing:
                    return f"{route.action}: source run {run_id} does not exist"
                reason = by_grants(self.store, who, reading, source)
        return reason


def _extra(payload: Any, query: dict[str, list[str]]) -> dict[str, Any]:
    version = (payload or {}).get("version") if isinstance(payload, dict) else None
    if version is None and query.get("version"):
        version = query["version"][0]
    return {"version": version}


async def _send_json(send: Send, data: Any) -> None:
    body = json.dumps(data).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
