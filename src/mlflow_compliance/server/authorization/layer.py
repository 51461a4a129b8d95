"""Authorization layer: may the caller do what this request asks? Deny by default.

One decision per request, on the object MLflow touches: the route table names the
action and where the request names its resource; the request is read as MLflow reads
it (``reading``: any other spelling of an identifying field is refused); the resolver
finds the experiment or registered model behind it and every further object the body
names (``named``); the policy decides. Searches are narrowed to what the caller may
read. The route and the request as read are left in the scope (``Decision``) for every
inner layer, so no inner layer matches paths or parses the request again.
"""

from __future__ import annotations

import json
from collections.abc import Container
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import anyio.to_thread
from starlette.types import ASGIApp, Receive, Scope, Send

from mlflow_compliance.identity.principal import ANONYMOUS, SCOPE_KEY, Principal, Role
from mlflow_compliance.identity.store import GrantKind, IdentityStore
from mlflow_compliance.server.audit import note
from mlflow_compliance.server.authorization import (
    filters,
    graphql_answer,
    graphql_query,
    otlp,
    ownership,
)
from mlflow_compliance.server.authorization.defaults import Defaults, Grants
from mlflow_compliance.server.authorization.graphql_query import Plan
from mlflow_compliance.server.authorization.messages import canonical, message_of
from mlflow_compliance.server.authorization.named import named_in_body
from mlflow_compliance.server.authorization.policy import (
    Refusal,
    by_grants,
    by_role,
    forbidden,
    not_found,
)
from mlflow_compliance.server.authorization.reading import spelling_problem, values
from mlflow_compliance.server.authorization.resources import Resolver
from mlflow_compliance.server.authorization.table import (
    Permission,
    Resource,
    Route,
    Source,
    find,
)
from mlflow_compliance.server.body import BodyTooLarge, json_body, read_body, replay, with_body
from mlflow_compliance.server.capture import rewrite_json_answer
from mlflow_compliance.server.errors import send_error, send_too_large, send_unauthenticated
from mlflow_compliance.server.routes import normalized

# Searches over several experiments: narrowed to the readable ones instead of refused,
# by the body field that lists them; none readable answers what MLflow answers a search
# that finds nothing (an empty message: {}).
NARROWED = {
    ("POST", "/api/2.0/mlflow/runs/search"): "experiment_ids",
    ("POST", "/api/2.0/mlflow/logged-models/search"): "experiment_ids",
    ("POST", "/api/2.0/mlflow/experiments/search-datasets"): "experiment_ids",
    ("POST", "/api/3.0/mlflow/traces/search"): "locations",
    ("POST", "/api/3.0/mlflow/traces/metrics"): "experiment_ids",
    ("POST", "/api/3.0/mlflow/traces/calculate-filter-correlation"): "experiment_ids",
    ("POST", "/api/3.0/mlflow/datasets/search"): "experiment_ids",
}
DECISION_KEY = "mlflow_compliance.decision"


@dataclass(frozen=True)
class Decision:
    """What the authorization layer read and allowed, for the layers inside it."""

    route: Route
    params: dict[str, str]
    query: dict[str, list[str]]
    payload: Any  # the JSON body as MLflow reads it, when the route has one that matters


def decision(scope: Scope) -> Decision | None:
    found: Decision | None = scope.get(DECISION_KEY)
    return found


class Undecided(RuntimeError):
    """An HTTP request reached a layer inside authorization without its decision: the
    stack is assembled wrongly. Raised (a 500, logged), never passed on unchecked."""


def decided(scope: Scope) -> Decision:
    """The decision on this HTTP request; Undecided if there is none."""
    found = decision(scope)
    if found is None:
        raise Undecided(f"{scope.get('method')} {scope.get('path')}: no authorization decision")
    return found


def decided_route(scope: Scope) -> str | None:
    """The table's path of the route this HTTP request was allowed on (``/api/...`` for
    its ``/ajax-api/`` twin too); None for other scopes (lifespan); Undecided if missing."""
    return decided(scope).route.path if scope["type"] == "http" else None


def _reads_body(route: Route) -> bool:
    """Whether the decision needs the JSON body (besides every protobuf route's, which is
    read to put it in its message's spelling: the routes whose bodies name further
    objects, ``named``, are all protobuf routes)."""
    return (
        route.resource is Resource.GRAPHQL
        or any(w.source is Source.JSON for w in route.where)
        or route.permission is Permission.CREATE
    )


class Authorization:
    def __init__(
        self,
        app: ASGIApp,
        store: IdentityStore,
        resolver: Resolver | None = None,
        defaults: Defaults | None = None,
    ):
        self.app = app
        self.store = store
        self.grants = Grants(store, defaults or Defaults())
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
            await send_error(
                send, 403, "PERMISSION_DENIED",
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
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"),
                         keep_blank_values=True)
        note(scope, query=query)
        payload: Any = None
        message = message_of(route.method, route.path) if route.method != "GET" else None
        if message is not None or _reads_body(route):
            # Parsed for every caller, admins too: the audit log names what they touched.
            try:
                payload, receive = await json_body(scope, receive)
            except BodyTooLarge:
                await send_too_large(send)
                return
            if message is not None:
                fixed, problem = canonical(message, payload)
                if problem:
                    await send_error(send, 400, "INVALID_PARAMETER_VALUE", problem)
                    return
                if fixed != payload:
                    scope, receive = with_body(scope, receive, fixed)
                    payload = fixed
            note(scope, payload=payload)
        if problem := spelling_problem(route, query, payload, message is not None):
            await send_error(send, 400, "INVALID_PARAMETER_VALUE", problem)
            return
        scope[DECISION_KEY] = Decision(route, params, query, payload)
        verdict = by_role(who, route)
        if isinstance(verdict, str):
            await send_error(send, 403, "PERMISSION_DENIED", verdict)
            return
        if verdict is None and route.resource is Resource.GRAPHQL:
            # MLflow reads the JSON body, a GET's too (get_json(force=True)), never the query.
            outcome = await anyio.to_thread.run_sync(self._check_graphql, who, route, payload)
            if isinstance(outcome, Refusal):
                await send_error(send, outcome.status, outcome.error_code, outcome.message)
                return
            if isinstance(outcome, graphql_answer.Hidden):
                await _send_json(send, outcome.answer())
                return
            if outcome.versions_under and who.role is Role.USER:
                await rewrite_json_answer(
                    self.app, scope, receive, send,
                    graphql_answer.versions_filter(
                        outcome, who, self.grants, self.resolver
                    ),
                )
            else:
                await self.app(scope, receive, send)
            return
        if verdict is None and route.resource is Resource.TRACE_EXPORT:
            try:
                raw = await read_body(receive)
            except BodyTooLarge:
                await send_too_large(send)
                return
            receive = replay(raw, receive)
            refusal = await anyio.to_thread.run_sync(
                self._check_export, who, route, _headers(scope), raw
            )
            if refusal:
                await send_error(send, refusal.status, refusal.error_code, refusal.message)
                return
            await self.app(scope, receive, send)
            return
        if verdict is None:
            named = values(route.where, params, query, payload, _headers(scope))
            if (route.method, route.path) in NARROWED:
                readable = await anyio.to_thread.run_sync(
                    self.grants.readable, who.name, GrantKind.EXPERIMENT
                )
                narrowed = _narrowed(payload, NARROWED[(route.method, route.path)], readable)
                if narrowed is None:
                    await _send_json(send, {})
                    return
                scope, receive = with_body(scope, receive, narrowed)
                scope[DECISION_KEY] = Decision(route, params, query, narrowed)
            elif named is None:
                # What MLflow answers a request without the field (a user must name the
                # object; an admin's request reaches MLflow, which may list everything).
                field = route.where[0].name.split(".")[0].removesuffix("[]")
                await send_error(send, 400, "INVALID_PARAMETER_VALUE",
                                 f"Missing value for required parameter '{field}'. See the "
                                 "API docs for more information about request parameters.")
                return
            else:
                refusal = await anyio.to_thread.run_sync(
                    self._check, who, route, named[1], payload, query
                )
                if refusal:
                    await send_error(send, refusal.status, refusal.error_code,
                                     refusal.message)
                    return
        elif who.role is Role.USER and route.permission is Permission.CREATE:
            refusal = await anyio.to_thread.run_sync(
                self._check_named, who, route, payload, query
            )
            if refusal:
                await send_error(send, refusal.status, refusal.error_code, refusal.message)
                return
        change = ownership.after(self.store, who, route, payload)
        search_filter = filters.BY_ROUTE.get((route.method, route.path))
        if search_filter is not None and search_filter.applies(who):
            await search_filter.answer(self.app, scope, receive, send, self.grants, who,
                                       self.resolver)
        elif change is not None:
            await rewrite_json_answer(self.app, scope, receive, send, change)
        else:
            await self.app(scope, receive, send)

    def _check(
        self,
        who: Principal,
        route: Route,
        ids: list[str],
        payload: Any,
        query: dict[str, list[str]],
    ) -> Refusal | None:
        """Why the user may not do this, or None. Unknown resources are refused too."""
        target = self.resolver.resolve(route.resource, ids, _extra(payload, query))
        hidden = not_found(route, route.resource, ids)
        refusal = by_grants(self.grants, who, route.action, route.permission, target, hidden,
                            names_experiment=route.resource is Resource.EXPERIMENT)
        return refusal or self._check_named(who, route, payload, query)

    def _check_export(
        self, who: Principal, route: Route, headers: dict[str, str], raw: bytes
    ) -> Refusal | None:
        """An OTLP export: edit on the header's experiment and run, and on every existing
        trace its spans join (``otlp``)."""
        experiment = headers.get("x-mlflow-experiment-id")
        if not experiment:
            return Refusal(400, "INVALID_PARAMETER_VALUE",
                           "x-mlflow-experiment-id: required header, the experiment id")
        traces = otlp.trace_ids(headers, raw)
        if traces is None:
            return Refusal(400, "INVALID_PARAMETER_VALUE",
                           "body: not an OTLP trace export (application/x-protobuf or "
                           "application/json, optionally gzip or deflate)")
        wanted = [("x-mlflow-experiment-id", Resource.EXPERIMENT, experiment)]
        if run := headers.get("x-mlflow-run-id"):
            wanted.append(("x-mlflow-run-id", Resource.RUN, run))
        for field, resource, resource_id in wanted:
            target = self.resolver.resolve(resource, [resource_id], {})
            hidden = not_found(route, resource, [resource_id])
            refusal = by_grants(self.grants, who, route.action, Permission.EDIT, target,
                                hidden)
            if refusal:
                return Refusal(refusal.status, refusal.error_code, f"{field}: {refusal.message}")
        for trace_id in traces:
            target = self.resolver.resolve(Resource.TRACE, [trace_id], {})
            if target.missing:
                continue  # a new trace: MLflow creates it in the header's experiment
            hidden = not_found(route, Resource.TRACE, [trace_id])
            refusal = by_grants(self.grants, who, route.action, Permission.EDIT, target,
                                hidden)
            if refusal:
                return Refusal(refusal.status, refusal.error_code, f"spans: {refusal.message}")
        return None

    def _check_graphql(
        self, who: Principal, route: Route, body: Any
    ) -> Plan | Refusal | graphql_answer.Hidden:
        """Every object a GraphQL query reads, each like the REST route that reads it."""
        try:
            found = graphql_query.plan(
                body, searches_by_id_only=not who.cleared_for_personal_data,
                admin_searches=who.role is not Role.USER,
            )
        except graphql_query.Malformed as e:
            return Refusal(400, "INVALID_PARAMETER_VALUE", f"{route.action}: {e}")
        except graphql_query.Refused as e:
            return Refusal(403, "PERMISSION_DENIED", f"{route.action}: {e}")
        for read in found.reads:
            for resource_id in read.ids:
                target = self.resolver.resolve(read.resource, [resource_id], {})
                hidden = not_found(route, read.resource, [resource_id])
                refusal = by_grants(self.grants, who, route.action, Permission.READ, target,
                                    hidden)
                if refusal is hidden:  # answered as MLflow's GraphQL answers a missing one
                    return graphql_answer.Hidden(read, resource_id)
                if refusal is not None:
                    return Refusal(refusal.status, refusal.error_code,
                                   f"{read.field}: {refusal.message}")
        return found

    def _check_named(self, who: Principal, route: Route, payload: Any,
                     query: dict[str, list[str]]) -> Refusal | None:
        """Every further object the body names, with the permission it needs."""
        for item in named_in_body(route, payload, query):
            target = self.resolver.resolve(item.resource, [item.id], {})
            hidden = not_found(route, item.resource, [item.id])
            refusal = by_grants(self.grants, who, route.action, item.permission, target, hidden)
            if refusal is not None:
                return Refusal(refusal.status, refusal.error_code,
                               f"{item.field}: {refusal.message}")
        return None


def _extra(payload: Any, query: dict[str, list[str]]) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    for name in ("version", "alias"):
        value = payload.get(name) if isinstance(payload, dict) else None
        if value is None and query.get(name):
            value = query[name][0]
        extra[name] = value
    return extra


def _narrowed(payload: Any, field: str, readable: Container[str]) -> dict[str, Any] | None:
    """The search's body with only the readable experiments in ``field``; None if none.

    ``locations`` (trace search) keeps the experiment locations whose experiment may be
    read; every other kind of location is dropped (none is served here)."""
    body: dict[str, Any] = payload if isinstance(payload, dict) else {}
    given = body.get(field)
    items = given if isinstance(given, list) else []
    if field == "locations":
        kept: list[Any] = [
            item for item in items
            if isinstance(item, dict) and isinstance(item.get("mlflow_experiment"), dict)
            and str(item["mlflow_experiment"].get("experiment_id")) in readable
        ]
    else:
        kept = [str(i) for i in items if isinstance(i, str | int) and str(i) in readable]
    return {**body, field: kept} if kept else None


def _headers(scope: Scope) -> dict[str, str]:
    """The request's headers by lowercase name; of a repeated one the first, as
    Starlette's ``headers.get`` (and so FastAPI's ``Header``) reads it."""
    found: dict[str, str] = {}
    for k, v in scope["headers"]:
        found.setdefault(k.decode("latin-1").lower(), v.decode("latin-1"))
    return found


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


__all__ = [
    "DECISION_KEY", "Authorization", "Decision", "Undecided", "decided", "decided_route",
    "decision", "forbidden",
]
