"""REST endpoints for users, grants, API tokens and the audit log (``/api/2.0/compliance/``).

The route table marks them ``ADMIN`` (audit search: ``READ`` on the server, so admins
and auditors), so the authorization layer has already refused anyone else. Errors use
MLflow's error shape and name the field.

The ``account/...`` routes are self-service for every signed-in principal (auditors
too): they act on the caller, whose identity comes from authentication and never from
the request, so nobody can reach another user's password or tokens through them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from mlflow_compliance.audit.log import AuditLog
from mlflow_compliance.audit.query import InvalidQuery, parse_query
from mlflow_compliance.audit.query import search as search_audit
from mlflow_compliance.identity.principal import SCOPE_KEY, Principal
from mlflow_compliance.identity.store import (
    GrantKind,
    IdentityError,
    IdentityStore,
    NotFound,
    Token,
    User,
    WrongPassword,
    parse_clearances,
    parse_level,
    parse_role,
)
from mlflow_compliance.server.audit import NOTES_KEY
from mlflow_compliance.server.errors import error_response
from mlflow_compliance.server.query import query_fields

PREFIX = "/api/2.0/compliance/"
KINDS = {"experiment": GrantKind.EXPERIMENT, "model": GrantKind.REGISTERED_MODEL}


def _user(u: User) -> dict[str, Any]:
    return {
        "name": u.name,
        "role": u.role.value,
        "clearances": sorted(c.value for c in u.clearances),
    }


def _token(t: Token) -> dict[str, Any]:
    return {
        "id": t.id,
        "user": t.user_name,
        "created_at": t.created_at.isoformat(),
        "expires_at": t.expires_at.isoformat() if t.expires_at else None,
        "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None,
    }


def _field(data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise IdentityError(f"{name}: required, a non-empty string")
    return value


def _kind(data: dict[str, Any]) -> str:
    kind = _field(data, "kind")
    if kind not in KINDS:
        raise IdentityError(f"kind: {kind!r} is not allowed; allowed: experiment, model")
    return KINDS[kind]


Handler = Callable[[IdentityStore, dict[str, Any]], Any]
AccountHandler = Callable[[IdentityStore, Principal, dict[str, Any]], Any]
# Routes whose answer names what they created: the audit log records its id (a token's).
CREATING = frozenset({"tokens/create", "account/tokens/create"})


def endpoint(
    store: IdentityStore, handler: Handler, creates: bool = False
) -> Callable[[Request], Awaitable[JSONResponse]]:
    async def run(request: Request) -> JSONResponse:
        return await _answer(request, lambda data: handler(store, data), creates)

    return run


def account_endpoint(
    store: IdentityStore, handler: AccountHandler, creates: bool = False
) -> Callable[[Request], Awaitable[JSONResponse]]:
    async def run(request: Request) -> JSONResponse:
        # Authorization let only signed-in principals through; the caller is who acts.
        who: Principal = request.scope[SCOPE_KEY]
        return await _answer(request, lambda data: handler(store, who, data), creates)

    return run


async def _answer(
    request: Request, handle: Callable[[dict[str, Any]], Any], creates: bool
) -> JSONResponse:
    data: dict[str, Any] = query_fields(request.scope)
    if request.method == "POST":
        try:
            data = await request.json()
        except ValueError:
            data = None  # type: ignore[assignment]
        if not isinstance(data, dict):
            return error_response(
                400, "INVALID_PARAMETER_VALUE", "request body: not a JSON object")
    try:
        answer = await run_in_threadpool(handle, data)
    except NotFound as e:
        return error_response(404, "RESOURCE_DOES_NOT_EXIST", str(e))
    except WrongPassword as e:
        return error_response(403, "PERMISSION_DENIED", str(e))
    except (IdentityError, InvalidQuery) as e:
        return error_response(400, "INVALID_PARAMETER_VALUE", str(e))
    if creates:
        notes = request.scope.get(NOTES_KEY)
        if notes is not None:
            notes.decision = {**notes.decision, "id": answer["id"]}
    return JSONResponse(answer)


def create_user(store: IdentityStore, data: dict[str, Any]) -> Any:
    clearances = data.get("clearances") or []
    if not isinstance(clearances, list):
        raise IdentityError("clearances: must be a list")
    sso = data.get("sso") is True
    user = store.create_user(
        _field(data, "name"),
        None if sso else _field(data, "password"),
        parse_role(data.get("role") or "user"),
        parse_clearances(clearances),
    )
    return {"user": _user(user)}


def list_users(store: IdentityStore, data: dict[str, Any]) -> Any:
    return {"users": [_user(u) for u in store.list_users()]}


def delete_user(store: IdentityStore, data: dict[str, Any]) -> Any:
    store.delete_user(_field(data, "name"))
    return {}


def set_password(store: IdentityStore, data: dict[str, Any]) -> Any:
    store.set_password(_field(data, "name"), _field(data, "password"))
    return {}


def set_grant(store: IdentityStore, data: dict[str, Any]) -> Any:
    store.grant(
        _field(data, "name"),
        _kind(data),
        _field(data, "target"),
        parse_level(_field(data, "permission")),
    )
    return {}


def delete_grant(store: IdentityStore, data: dict[str, Any]) -> Any:
    store.revoke(_field(data, "name"), _kind(data), _field(data, "target"))
    return {}


def list_grants(store: IdentityStore, data: dict[str, Any]) -> Any:
    """One user's grants (``name``), or every user's."""
    name = data.get("name") or None
    if name is not None:
        store.user(name)
    kinds = {v: k for k, v in KINDS.items()}
    return {
        "grants": [
            {"user": user, "kind": kinds[kind], "target": target,
             "permission": level.name.lower()}
            for user, kind, target, level in store.list_grants(name)
        ]
    }


def _expiry(data: dict[str, Any]) -> datetime | None:
    expires = data.get("expires_at")
    try:
        expires_at = datetime.fromisoformat(expires) if expires else None
    except (TypeError, ValueError):
        raise IdentityError("expires_at: not an ISO 8601 date-time") from None
    if expires_at is not None and expires_at.tzinfo is None:
        raise IdentityError("expires_at: needs a time zone, e.g. 2027-01-31T00:00:00+00:00")
    return expires_at


def create_token(store: IdentityStore, data: dict[str, Any]) -> Any:
    token, plaintext = store.create_token(_field(data, "name"), _expiry(data))
    return {"token": plaintext, **_token(token)}


def list_tokens(store: IdentityStore, data: dict[str, Any]) -> Any:
    return {"tokens": [_token(t) for t in store.list_tokens(data.get("name") or None)]}


def revoke_token(store: IdentityStore, data: dict[str, Any]) -> Any:
    store.revoke_token(_field(data, "id"))
    return {}


ROUTES: list[tuple[str, str, Handler]] = [
    ("POST", "users/create", create_user),
    ("GET", "users/list", list_users),
    ("POST", "users/delete", delete_user),
    ("POST", "users/set-password", set_password),
    ("POST", "grants/set", set_grant),
    ("POST", "grants/delete", delete_grant),
    ("GET", "grants/list", list_grants),
    ("POST", "tokens/create", create_token),
    ("GET", "tokens/list", list_tokens),
    ("POST", "tokens/revoke", revoke_token),
]


# --- self-service: the caller's own account ------------------------------------------


def _caller_only(data: dict[str, Any]) -> None:
    if "name" in data:
        raise IdentityError(
            "name: account routes act on the signed-in user only; an admin manages "
            "others' (users/..., tokens/...)"
        )


def change_own_password(store: IdentityStore, who: Principal, data: dict[str, Any]) -> Any:
    _caller_only(data)
    store.change_password(who.name, _field(data, "current_password"),
                          _field(data, "new_password"))
    return {}


def create_own_token(store: IdentityStore, who: Principal, data: dict[str, Any]) -> Any:
    _caller_only(data)
    token, plaintext = store.create_token(who.name, _expiry(data))
    return {"token": plaintext, **_token(token)}


def list_own_tokens(store: IdentityStore, who: Principal, data: dict[str, Any]) -> Any:
    _caller_only(data)
    return {"tokens": [_token(t) for t in store.list_tokens(who.name)]}


def revoke_own_token(store: IdentityStore, who: Principal, data: dict[str, Any]) -> Any:
    _caller_only(data)
    store.revoke_token(_field(data, "id"), owner=who.name)
    return {}


ACCOUNT_ROUTES: list[tuple[str, str, AccountHandler]] = [
    ("POST", "account/set-password", change_own_password),
    ("POST", "account/tokens/create", create_own_token),
    ("GET", "account/tokens/list", list_own_tokens),
    ("POST", "account/tokens/revoke", revoke_own_token),
]


def audit_search(log: AuditLog) -> Handler:
    def handler(store: IdentityStore, data: dict[str, Any]) -> Any:
        return search_audit(log, parse_query(data))

    return handler


def server_info(info: dict[str, Any]) -> Handler:
    def handler(store: IdentityStore, data: dict[str, Any]) -> Any:
        return info

    return handler


class Administration:
    """ASGI layer: answers its ``/api/2.0/compliance/...`` routes itself, hands the rest
    on (the promotion gate answers the sign-off routes further in)."""

    def __init__(
        self, app: ASGIApp, store: IdentityStore, audit: AuditLog, info: dict[str, Any]
    ) -> None:
        self.app = app
        routes = [*ROUTES, ("GET", "audit/search", audit_search(audit)),
                  ("GET", "server-info", server_info(info))]
        served = [Route(PREFIX + path, endpoint(store, h, path in CREATING), methods=[m])
                  for m, path, h in routes]
        served += [Route(PREFIX + path, account_endpoint(store, h, path in CREATING),
                         methods=[m])
                   for m, path, h in ACCOUNT_ROUTES]
        self.paths = {route.path for route in served}
        self.router = Router(served)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in self.paths:
            await self.router(scope, receive, send)
            return
        await self.app(scope, receive, send)
