"""The signed-in user, for MLflow's UI: MLflow's basic-auth "current user" routes.

MLflow's UI asks ``users/current`` on every page to show who is signed in, and
``users/update-password`` from its "change password" dialog. Plain ``mlflow server``
does not serve them; mlflow-compliance answers them itself, for the caller only:
identity comes from authentication, never from the body, and a password changes only
with the current one, as MLflow's own self-service requires.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from mlflow_compliance.identity.principal import SCOPE_KEY, Principal, Role
from mlflow_compliance.identity.store import GrantKind, IdentityError, IdentityStore
from mlflow_compliance.server.authorization.layer import decided_route
from mlflow_compliance.server.errors import error_response

CURRENT = "/api/2.0/mlflow/users/current"
PERMISSIONS = "/api/3.0/mlflow/users/current/permissions"
UPDATE_PASSWORD = "/api/2.0/mlflow/users/update-password"
# Our levels in MLflow's words (mlflow.server.auth.permissions).
MLFLOW_PERMISSION = {1: "READ", 2: "EDIT", 3: "MANAGE"}
MLFLOW_RESOURCE = {GrantKind.EXPERIMENT: "experiment",
                   GrantKind.REGISTERED_MODEL: "registered_model"}


def _invalid(message: str) -> JSONResponse:
    return error_response(400, "INVALID_PARAMETER_VALUE", message)


class Account:
    """ASGI layer inside authorization: answers the three routes, hands the rest on."""

    def __init__(self, app: ASGIApp, store: IdentityStore) -> None:
        self.app = app
        self.store = store
        self.answers = {CURRENT: self.current, PERMISSIONS: self.permissions,
                        UPDATE_PASSWORD: self.update_password}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        answer = self.answers.get(decided_route(scope) or "")
        if answer is None:
            await self.app(scope, receive, send)
            return
        who: Principal = scope[SCOPE_KEY]
        response = await answer(who, Request(scope, receive))
        await response(scope, receive, send)

    async def current(self, who: Principal, request: Request) -> JSONResponse:
        return JSONResponse({
            # MLflow's numeric user id has no counterpart here; the name is the identity.
            "user": {"id": 0, "username": who.name, "is_admin": who.role is Role.ADMIN},
            # The UI offers "change password" and its Basic sign-out only for Basic.
            "is_basic_auth": who.method == "basic",
        })

    async def permissions(self, who: Principal, request: Request) -> JSONResponse:
        grants = await run_in_threadpool(self.store.grants_of, who.name)
        rows = [
            {"role_id": 0, "role_name": f"__user_{who.name}__", "workspace": "default",
             "resource_type": MLFLOW_RESOURCE.get(kind, kind), "resource_pattern": target,
             "permission": MLFLOW_PERMISSION[int(level)]}
            for (kind, target), level in sorted(grants.items())
        ]
        return JSONResponse({"is_admin": who.role is Role.ADMIN, "permissions": rows})

    async def update_password(self, who: Principal, request: Request) -> JSONResponse:
        try:
            data: Any = await request.json()
        except ValueError:
            return _invalid("body: not JSON; expected username, password, current_password")
        if not isinstance(data, dict):
            return _invalid("body: expected a JSON object")
        fields = {}
        for name in ("username", "password", "current_password"):
            value = data.get(name)
            if not isinstance(value, str) or not value:
                return _invalid(f"{name}: required, a non-empty string")
            fields[name] = value
        if fields["username"] != who.name:
            return error_response(
                403, "PERMISSION_DENIED",
                "account.password.change: username: only your own password can be changed "
                "here; an administrator sets others' (users set-password)",
            )
        if who.method != "basic":
            return error_response(
                403, "PERMISSION_DENIED",
                f"account.password.change: you signed in by {who.method}; only a password "
                "user changes a password",
            )
        problem = await run_in_threadpool(self._change, who.name, fields["current_password"],
                                          fields["password"])
        return _invalid(problem) if problem else JSONResponse({})

    def _change(self, name: str, current: str, new: str) -> str | None:
        try:
            self.store.change_password(name, current, new)
        except IdentityError as e:  # WrongPassword included: the message names the field
            # MLflow's dialog calls the new password "password"
            return str(e).replace("new_password:", "password:", 1)
        return None
