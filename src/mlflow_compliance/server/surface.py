"""Hardening MLflow's surface: requests MLflow would accept but a compliance server must not.

Each check answers a class of MLflow advisories (DESIGN.md) with a 400 or 403 in
MLflow's error shape, before MLflow sees the request:

- artifacts only through the server: an experiment's own ``artifact_location`` (direct
  ``s3://``/``file://`` writes, ``#`` fragments: CVE-2023-6909, CVE-2024-3848) and
  multipart/presigned transfers straight to storage are refused;
- artifact paths never leave their folder, in any encoding (CVE-2023-30172,
  CVE-2023-6831, CVE-2024-1560);
- a model version's ``source`` stays inside its source run's artifacts (CVE-2023-1177);
- webhooks never aim at loopback, private or link-local addresses (CVE-2026-2393);
- a downloaded artifact can never run as a page of this origin (stored XSS through
  uploaded files such as an ``MLmodel`` or ``.html``, CVE-2026-33865): downloads carry
  a sandboxing Content-Security-Policy and ``nosniff``.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from typing import Any
from urllib.parse import unquote, urlsplit

from mlflow.prompt.constants import _PROMPT_SOURCE_PLACEHOLDERS, IS_PROMPT_TAG_KEY
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mlflow_compliance.server.authorization.layer import decided
from mlflow_compliance.server.body import BodyTooLarge, json_body
from mlflow_compliance.server.errors import send_error, send_forbidden, send_too_large

# Routes by the authorization table's path (the layer's decision in the scope), so no
# spelling of a path reaches MLflow without the check its route needs.
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
ARTIFACT_FILE = "/api/2.0/mlflow-artifacts/artifacts/{artifact_path:path}"
DIRECT_TRANSFER = (
    "/api/2.0/mlflow-artifacts/mpu/", "/api/2.0/mlflow-artifacts/presigned/",
    "/api/2.0/mlflow/artifacts/presigned-",
)
EXPERIMENT_CREATE = "/api/2.0/mlflow/experiments/create"
VERSION_CREATE = "/api/2.0/mlflow/model-versions/create"
WEBHOOK_WRITES = {"/api/2.0/mlflow/webhooks", "/api/2.0/mlflow/webhooks/{webhook_id}"}
BODY_CHECKED = {EXPERIMENT_CREATE, VERSION_CREATE, *WEBHOOK_WRITES}
DOWNLOADS = {
    ARTIFACT_FILE, "/get-artifact", "/model-versions/get-artifact",
    "/api/2.0/mlflow/logged-models/{model_id}/artifacts/files",
    "/api/3.0/mlflow/get-trace-artifact", "/api/2.0/mlflow/get-trace-artifact",
}
SANDBOX = [
    (b"content-security-policy", b"sandbox; default-src 'none'"),
    (b"x-content-type-options", b"nosniff"),
]
PATH_QUERY_ROUTES = {
    ARTIFACTS, ARTIFACT_FILE, "/get-artifact", "/model-versions/get-artifact",
    "/api/2.0/mlflow/artifacts/list",
}


def unsafe_path(path: str) -> str | None:
    """Why an artifact path could leave its folder, or None; decodes until stable."""
    seen = path
    for _ in range(5):
        decoded = unquote(seen)
        if decoded == seen:
            break
        seen = decoded
    else:
        return "is percent-encoded too many times"
    if "\x00" in seen or "\\" in seen:
        return "contains a NUL byte or a backslash"
    if seen.startswith("/") or re.match(r"^[A-Za-z]:", seen):
        return "is absolute"
    if any(part in ("..", ".") for part in seen.split("/")):
        return "contains . or .. segments"
    return None


def is_prompt_version(tags: Any) -> bool:
    """Whether MLflow takes this model version for a prompt version: its tags collapse by
    key, the last value winning, and only a true value counts (handlers._is_prompt_request)."""
    if not isinstance(tags, list):
        return False
    values = {t.get("key"): t.get("value") for t in tags if isinstance(t, dict)}
    value = values.get(IS_PROMPT_TAG_KEY)
    return isinstance(value, str) and value.lower() == "true"


def source_problem(
    source: Any, run_id: Any, model_id: Any = None, tags: Any = None
) -> str | None:
    """Why a model version's source is not inside its run's or logged model's artifacts,
    or None. Which run or model it names is authorized by the authorization layer. A
    prompt version has no artifacts: MLflow takes only its placeholder source."""
    if not isinstance(source, str) or not source:
        return None  # MLflow itself refuses a missing source
    if source in _PROMPT_SOURCE_PLACEHOLDERS and is_prompt_version(tags):
        return None  # names no storage; MLflow accepts nothing else for a prompt
    if "#" in source or "?" in source:
        return "source: a fragment or query is not allowed"
    if problem := unsafe_path(source.split(":/", 1)[-1].lstrip("/")):
        return f"source: {problem}"
    if re.match(r"^models:/m-[0-9a-f]+(/|$)", source):
        return None  # a logged model, resolved by MLflow inside its experiment
    if isinstance(model_id, str) and re.match(
        rf"^mlflow-artifacts:/\d+/models/{re.escape(model_id)}/artifacts(/|$)", source
    ):
        return None  # the logged model's own artifact location (create_model_version)
    if not isinstance(run_id, str) or not run_id:
        return "source: must be inside a run's artifacts (runs:/<run_id>/...); give run_id"
    if source.startswith(f"runs:/{run_id}/") or source == f"runs:/{run_id}":
        return None
    if re.match(rf"^mlflow-artifacts:/\d+/{re.escape(run_id)}/artifacts(/|$)", source):
        return None
    return f"source: must be inside the artifacts of run {run_id} (runs:/{run_id}/...)"


def webhook_problem(url: Any) -> str | None:
    """Why a webhook URL may not be called, or None."""
    if not isinstance(url, str):
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "url: must be an http(s) URL with a host"
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, None)}
    except OSError:
        return f"url: host {parts.hostname!r} does not resolve"
    for address in addresses:
        ip = ipaddress.ip_address(str(address).split("%")[0])
        if not ip.is_global:
            return f"url: {parts.hostname} resolves to a non-public address ({ip})"
    return None


class SurfaceHardening:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        found = decided(scope)
        route = found.route.path
        if route.startswith(DIRECT_TRANSFER):
            await send_forbidden(
                send, "direct transfers to storage are off: artifacts go through the server"
            )
            return
        problem = self._path_problem(scope, route, found.params, found.query)
        if problem is None and scope["method"] in ("POST", "PATCH", "PUT") and (
            route in BODY_CHECKED
        ):
            try:
                payload, receive = await json_body(scope, receive)
            except BodyTooLarge:
                await send_too_large(send)
                return
            problem = self._body_problem(route, payload)
        if problem is not None:
            await send_error(send, 400, "INVALID_PARAMETER_VALUE", problem)
            return
        if scope["method"] == "GET" and route in DOWNLOADS:
            send = _sandboxed(send)
        await self.app(scope, receive, send)

    @staticmethod
    def _path_problem(
        scope: Scope, route: str, params: dict[str, str], query: dict[str, list[str]]
    ) -> str | None:
        candidates: list[tuple[str, str]] = []
        if route == ARTIFACT_FILE:
            raw_path = scope.get("raw_path") or b""
            candidates.append(("artifact path", params.get("artifact_path", "")))
            candidates.append(("artifact path", raw_path.decode("latin-1")))
        if route in PATH_QUERY_ROUTES:
            candidates += [("path", p) for p in query.get("path", [])]
        for name, value in candidates:
            if name == "artifact path" and value.startswith("/"):
                value = value.split("/mlflow-artifacts/artifacts/", 1)[-1]
            if reason := unsafe_path(value):
                return f"{name}: {reason}"
        return None

    @staticmethod
    def _body_problem(path: str, payload: Any) -> str | None:
        data = payload if isinstance(payload, dict) else {}
        if path == EXPERIMENT_CREATE and data.get("artifact_location"):
            return (
                "artifact_location: not allowed; the server stores every experiment's "
                "artifacts itself (mlflow-artifacts:/)"
            )
        if path == VERSION_CREATE:
            return source_problem(data.get("source"), data.get("run_id"), data.get("model_id"),
                                  data.get("tags"))
        if path in WEBHOOK_WRITES and "url" in data:
            return webhook_problem(data.get("url"))
        return None


def _sandboxed(send: Send) -> Send:
    async def send_sandboxed(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [
                (k, v)
                for k, v in message.get("headers", [])
                if k.lower() not in (b"content-security-policy", b"x-content-type-options")
            ]
            message = {**message, "headers": [*headers, *SANDBOX]}
        await send(message)

    return send_sandboxed
