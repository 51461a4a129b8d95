"""Talking to a running compliance server, through MLflow's own HTTP client.

So every MLflow client variable works here as it does for MLflow: MLFLOW_TRACKING_URI
names the server; MLFLOW_TRACKING_USERNAME/_PASSWORD (Basic; or ~/.mlflow/credentials)
or MLFLOW_TRACKING_TOKEN (Bearer) say who is asking; MLFLOW_TRACKING_INSECURE_TLS,
MLFLOW_TRACKING_SERVER_CERT_PATH and MLFLOW_TRACKING_CLIENT_CERT_PATH set up TLS;
MLFLOW_HTTP_REQUEST_TIMEOUT bounds the wait.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from mlflow_compliance.cli.errors import InputError

if TYPE_CHECKING:
    from mlflow.utils.rest_utils import MlflowHostCreds

PREFIX = "/api/2.0/compliance/"


def tracking_uri() -> str:
    uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    if not uri.startswith(("http://", "https://")):
        raise InputError(
            "MLFLOW_TRACKING_URI: set it to the compliance server, e.g. http://127.0.0.1:5000"
        )
    return uri.rstrip("/")


def host_creds(uri: str) -> MlflowHostCreds:
    from mlflow.utils.credentials import get_default_host_creds

    return get_default_host_creds(uri)


def fetch(creds: MlflowHostCreds, method: str, endpoint: str,
          body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    """One request, no retries (a refused write is not repeated): the status and the JSON
    object answered ({} if none). An unreachable server is an InputError naming why."""
    sent: dict[str, Any] = {"params": body} if method == "GET" else {"json": body or {}}
    r = _request(creds, endpoint, method, **sent)
    try:
        data = r.json()
    except ValueError:
        data = None
    return r.status_code, data if isinstance(data, dict) else {}


def call(method: str, route: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """Call ``/api/2.0/compliance/<route>``; a refusal becomes a one-line InputError."""
    creds = host_creds(tracking_uri())
    if not (creds.username and creds.password) and not creds.token and not creds.auth:
        raise InputError(
            "credentials: set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, "
            "or MLFLOW_TRACKING_TOKEN"
        )
    status, data = fetch(creds, method, PREFIX + route, body)
    if status != 200:
        message = data.get("message") or f"server answered HTTP {status}"
        raise InputError(str(message).splitlines()[0])
    return data


def fetch_file(creds: MlflowHostCreds, endpoint: str, params: dict[str, str]) -> bytes:
    """A GET answered with a file (not JSON): its bytes; a refusal is an InputError with
    the server's one-line message."""
    r = _request(creds, endpoint, "GET", params=params)
    if r.status_code != 200:
        try:
            message = r.json().get("message")
        except (ValueError, AttributeError):
            message = None
        raise InputError(str(message or f"server answered HTTP {r.status_code}")
                         .splitlines()[0])
    return bytes(r.content)


def _request(creds: MlflowHostCreds, endpoint: str, method: str, **sent: Any) -> Any:
    """One request, no retries; an unreachable server is an InputError naming why."""
    from mlflow.exceptions import MlflowException
    from mlflow.utils.rest_utils import http_request

    try:
        return http_request(creds, endpoint, method, max_retries=0, raise_on_status=False,
                            **sent)
    except MlflowException as e:
        cause = e.__cause__ or e.__context__
        reason = type(cause).__name__ if cause else e.message.splitlines()[0]
        raise InputError(f"MLFLOW_TRACKING_URI: cannot reach {creds.host} ({reason})") \
            from None
