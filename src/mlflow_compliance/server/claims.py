"""Identity overrides claims: a run's user and a version's registrar are the
authenticated principal.

MLflow stores whatever ``user_id`` and ``mlflow.user`` tag a client sends, even with
authentication on. This layer sets both from the principal on ``runs/create`` and
refuses a later write of the ``mlflow.user`` tag. Likewise it sets the model version
tag ``mlflow.compliance.registered_by`` from the principal on ``model-versions/create``
(a value the client sends is replaced) and refuses any later write or delete of it:
four-eyes release (server/gate) reads who trained and who registered from these.
The tag ``compliance.gdpr.trained_on_erased_data`` is the server's too: only an erasure
sets it (GDPR Art. 17, subjects/erasure/flags.py), so no client may set it (at
registration or later) or delete it.
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from mlflow_compliance.identity.principal import ANONYMOUS, SCOPE_KEY, Principal
from mlflow_compliance.record.tags import TRAINED_ON_ERASED_DATA_TAG
from mlflow_compliance.server.authorization.layer import decided_route
from mlflow_compliance.server.body import BodyTooLarge, json_body, with_body
from mlflow_compliance.server.errors import send_error, send_too_large
from mlflow_compliance.server.validation import tags_in

USER_TAG = "mlflow.user"
REGISTERED_BY_TAG = "mlflow.compliance.registered_by"
RUN_CREATE = "/api/2.0/mlflow/runs/create"
TAG_WRITES = {"/api/2.0/mlflow/runs/set-tag", "/api/2.0/mlflow/runs/log-batch"}
VERSION_CREATE = "/api/2.0/mlflow/model-versions/create"
VERSION_TAG_ROUTES = {("POST", "/api/2.0/mlflow/model-versions/set-tag"),
                      ("DELETE", "/api/2.0/mlflow/model-versions/delete-tag")}
SERVER_SET = "set by the server from the authenticated user"
ERASURE_SET = ("set by the server when data a version was trained on is erased (GDPR Art. "
               "17); it cannot be set or deleted")


class IdentityClaims:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = decided_route(scope)
        method = scope.get("method")
        if (method, path) in VERSION_TAG_ROUTES or (method == "POST" and path == VERSION_CREATE):
            await self._registrar(scope, receive, send, str(path))
            return
        if method != "POST" or (path != RUN_CREATE and path not in TAG_WRITES):
            await self.app(scope, receive, send)
            return
        try:
            payload, receive = await json_body(scope, receive)
        except BodyTooLarge:
            await send_too_large(send)
            return
        who: Principal = scope.get(SCOPE_KEY, ANONYMOUS)
        if path in TAG_WRITES:
            if any(key == USER_TAG for key, _ in tags_in(payload)):
                await send_error(send, 400, "INVALID_PARAMETER_VALUE",
                                 f"{USER_TAG}: {SERVER_SET}")
                return
            await self.app(scope, receive, send)
            return
        scope, receive = with_body(scope, receive, _claimed(payload, who.name))
        await self.app(scope, receive, send)

    async def _registrar(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        try:
            payload, receive = await json_body(scope, receive)
        except BodyTooLarge:
            await send_too_large(send)
            return
        if any(key == TRAINED_ON_ERASED_DATA_TAG for key, _ in tags_in(payload)) or (
                isinstance(payload, dict) and payload.get("key") == TRAINED_ON_ERASED_DATA_TAG):
            await send_error(send, 400, "INVALID_PARAMETER_VALUE",
                             f"{TRAINED_ON_ERASED_DATA_TAG}: {ERASURE_SET}")
            return
        if path != VERSION_CREATE:
            if isinstance(payload, dict) and payload.get("key") == REGISTERED_BY_TAG:
                await send_error(send, 400, "INVALID_PARAMETER_VALUE",
                                 f"{REGISTERED_BY_TAG}: {SERVER_SET}; it cannot be changed")
                return
            await self.app(scope, receive, send)
            return
        who: Principal = scope.get(SCOPE_KEY, ANONYMOUS)
        scope, receive = with_body(scope, receive, _registered(payload, who.name))
        await self.app(scope, receive, send)


def _registered(payload: Any, user: str) -> dict[str, Any]:
    data = dict(payload) if isinstance(payload, dict) else {}
    tags = [t for t in data.get("tags") or []
            if isinstance(t, dict) and t.get("key") != REGISTERED_BY_TAG]
    data["tags"] = [*tags, {"key": REGISTERED_BY_TAG, "value": user}]
    return data


def _claimed(payload: Any, user: str) -> dict[str, Any]:
    data = dict(payload) if isinstance(payload, dict) else {}
    data["user_id"] = user
    tags = [t for t in data.get("tags") or [] if isinstance(t, dict) and t.get("key") != USER_TAG]
    data["tags"] = [*tags, {"key": USER_TAG, "value": user}]
    return data
