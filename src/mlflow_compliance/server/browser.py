"""Browser protections for every route, ours and MLflow's: MLflow's own checks, applied
outside MLflow's app, and JSON-only writes to our own API.

MLflow guards its routes with middleware inside its app (``fastapi_security``: the
DNS-rebinding Host check, the refusal of cross-origin writes). Our
``/api/2.0/compliance/`` routes are answered outside that app, so a page the admin
visits could post a ``text/plain`` form (a CORS "simple request": no preflight) to
``users/create``, and the browser would attach the admin's cached Basic credentials.
This layer applies MLflow's configuration and functions to every request:

- the Host header must be allowed (MLFLOW_SERVER_ALLOWED_HOSTS; by default localhost and
  private addresses), except on MLflow's health routes;
- a POST/PUT/PATCH/DELETE that carries an Origin must come from an allowed origin
  (MLFLOW_SERVER_CORS_ALLOWED_ORIGINS; localhost origins pass, as in MLflow);
- a write with a body to our own routes must be ``Content-Type: application/json``,
  which a browser sends cross-origin only after a preflight this server never grants:
  that also holds when MLFLOW_SERVER_CORS_ALLOWED_ORIGINS=* lets every origin through.

MLFLOW_SERVER_DISABLE_SECURITY_MIDDLEWARE=true turns the first two off, as it does in
MLflow; the third is our API's contract and stays.
"""

from __future__ import annotations

from mlflow.environment_variables import MLFLOW_SERVER_DISABLE_SECURITY_MIDDLEWARE
from mlflow.server.fastapi_security import get_allowed_hosts, get_allowed_origins
from mlflow.server.security_utils import (
    STATE_CHANGING_METHODS,
    is_allowed_host_header,
    is_health_endpoint,
    should_block_cors_request,
)
from starlette.types import ASGIApp, Receive, Scope, Send

from mlflow_compliance.server.authorization.table import OWN_PREFIX
from mlflow_compliance.server.errors import send_error, send_forbidden
from mlflow_compliance.server.routes import normalized

OWN_ROUTES = (OWN_PREFIX, "/ajax-" + OWN_PREFIX[1:])


def _headers(scope: Scope, name: bytes) -> list[str]:
    return [v.decode("latin-1") for k, v in scope["headers"] if k == name]


class BrowserProtection:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.enforced = MLFLOW_SERVER_DISABLE_SECURITY_MIDDLEWARE.get() != "true"
        hosts = get_allowed_hosts()
        self.hosts = None if "*" in hosts else hosts  # None: every host, as in MLflow
        self.origins = get_allowed_origins()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.enforced and (problem := self._foreign(scope)):
            await send_forbidden(send, problem)
            return
        if (
            scope["method"] in STATE_CHANGING_METHODS
            and normalized(scope["path"]).startswith(OWN_ROUTES)
            and _has_body(scope)
        ):
            types = _headers(scope, b"content-type")
            if [t.split(";")[0].strip().lower() for t in types] != ["application/json"]:
                await send_error(send, 415, "INVALID_PARAMETER_VALUE",
                                 f"Content-Type: {', '.join(types) or 'missing'} is not "
                                 "allowed; allowed: application/json")
                return
        await self.app(scope, receive, send)

    def _foreign(self, scope: Scope) -> str | None:
        """Why MLflow's checks refuse this Host or Origin, or None."""
        if self.hosts is not None and not is_health_endpoint(scope["path"]):
            for host in _headers(scope, b"host") or [""]:
                if not is_allowed_host_header(self.hosts, host):
                    return (f"Host: {host!r} is not allowed; allowed: MLFLOW_SERVER_ALLOWED_HOSTS"
                            " (default: localhost and private addresses)")
        for origin in _headers(scope, b"origin"):
            if should_block_cors_request(origin, scope["method"], self.origins):
                return (f"Origin: {origin!r} may not send {scope['method']} requests; allowed: "
                        "localhost and MLFLOW_SERVER_CORS_ALLOWED_ORIGINS")
        return None


def _has_body(scope: Scope) -> bool:
    if _headers(scope, b"transfer-encoding"):
        return True
    return any(length.strip() not in ("", "0") for length in _headers(scope, b"content-length"))
