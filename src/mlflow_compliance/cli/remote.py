"""Talking to a running compliance server with MLflow's own client variables.

MLFLOW_TRACKING_URI names the server; MLFLOW_TRACKING_USERNAME/_PASSWORD (Basic) or
MLFLOW_TRACKING_TOKEN (Bearer) say who is asking.
"""

from __future__ import annotations

import os
from typing import Any

import requests

from mlflow_compliance.cli.errors import InputError


def _server() -> str:
    uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    if not uri.startswith(("http://", "https://")):
        raise InputError(
            "MLFLOW_TRACKING_URI: set it to the compliance server, e.g. http://127.0.0.1:5000"
        )
    return uri.rstrip("/")


def _auth() -> dict[str, Any]:
    token = os.environ.get("MLFLOW_TRACKING_TOKEN")
    if token:
        return {"headers": {"Authorization": f"Bearer {token}"}}
    user = os.environ.get("MLFLOW_TRACKING_USERNAME")
    password = os.environ.get("MLFLOW_TRACKING_PASSWORD")
    if user and password:
        return {"auth": (user, password)}
    raise InputError(
        "credentials: set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, "
        "or MLFLOW_TRACKING_TOKEN"
    )


def call(method: str, route: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """Call ``/api/2.0/compliance/<route>``; a refusal becomes a one-line InputError."""
    url = f"{_server()}/api/2.0/compliance/{route}"
    try:
        if method == "GET":
            r = requests.get(url, params=body, timeout=60, **_auth())
        else:
            r = requests.post(url, json=body or {}, timeout=60, **_auth())
    except requests.RequestException as e:
        raise InputError(
            f"MLFLOW_TRACKING_URI: cannot reach {_server()} ({type(e).__name__})"
        ) from None
    try:
        data = r.json()
    except ValueError:
        data = {}
    if r.status_code != 200:
        raise InputError(data.get("message") or f"server answered HTTP {r.status_code}")
    return data
