"""Artifact downloads decrypted as they stream, never through a plaintext temp file.

MLflow serves a repository without a local path by downloading the whole artifact to a
temp folder and streaming that file: for encrypted artifacts, a plaintext copy on the
server's disk and a full decryption before the first byte. This layer answers
``GET .../mlflow-artifacts/artifacts/<path>`` and the UI's ``/get-artifact``,
``/model-versions/get-artifact`` and logged-model file routes itself when the
artifact destination is the encrypting repository: it reads the header and finds the
key first (so a missing, erased or undecryptable artifact is an error in MLflow's
shape, never a 200), then streams authenticated segments. A segment that fails
authentication mid-way aborts the response: the client sees a broken transfer, short of
its Content-Length, never a complete-looking file.
"""

from __future__ import annotations

import asyncio
import os
import posixpath
import re
from collections.abc import Callable

from mlflow.exceptions import MlflowException
from mlflow.server import ARTIFACTS_DESTINATION_ENV_VAR
from mlflow.server.artifact_router import _get_workspace_scoped_path
from mlflow.server.handlers import (
    _content_disposition_attachment,
    _get_artifact_repo_mlflow_artifacts,
    _get_model_registry_store,
    _get_proxied_run_artifact_destination_path,
    _get_tracking_store,
    _get_workspace_scoped_repo_path_if_enabled,
    _is_servable_proxied_run_artifact_root,
)
from mlflow.utils.mime_type_utils import _guess_mime_type
from mlflow.utils.uri import validate_path_is_safe
from starlette.types import ASGIApp, Receive, Scope, Send

from mlflow_compliance.encryption.repository import EncryptedArtifactRepository
from mlflow_compliance.encryption.scope import SCHEME_PREFIX
from mlflow_compliance.server.authorization.layer import Decision, decision
from mlflow_compliance.server.errors import send_mlflow_exception

# Routes by the authorization table's path (its decision in the scope).
DOWNLOAD = "/api/2.0/mlflow-artifacts/artifacts/{artifact_path:path}"
Query = dict[str, str]
Resolver = Callable[[Query, dict[str, str]], tuple[str, str] | None]


def _run_root(query: Query, _: dict[str, str]) -> tuple[str, str] | None:
    run_id = query.get("run_id") or query.get("run_uuid")
    if not run_id or "path" not in query:
        return None
    return _get_tracking_store().get_run(run_id).info.artifact_uri, query["path"]


def _model_version_root(query: Query, _: dict[str, str]) -> tuple[str, str] | None:
    if not {"name", "version", "path"} <= query.keys():
        return None
    uri = _get_model_registry_store().get_model_version_download_uri(
        query["name"], query["version"])
    return _stored_root(str(uri)), query["path"]


def _stored_root(uri: str) -> str:
    """A version's ``runs:/`` or ``models:/m-...`` source as the artifact root it names.

    MLflow's own handler resolves these through a REST client of this very server,
    which inside the server has no tracking URI: every such version answered 500.
    """
    if match := re.match(r"^runs:/(?P<run_id>[^/]+)/?(?P<sub>.*)$", uri):
        root = _get_tracking_store().get_run(match["run_id"]).info.artifact_uri
    elif match := re.match(r"^models:/(?P<model_id>m-[^/]+)/?(?P<sub>.*)$", uri):
        root = _get_tracking_store().get_logged_model(match["model_id"]).artifact_location
    else:
        return uri
    return posixpath.join(root, match["sub"]) if match["sub"] else root


def _logged_model_root(query: Query, params: dict[str, str]) -> tuple[str, str] | None:
    if not query.get("artifact_file_path"):
        return None
    model = _get_tracking_store().get_logged_model(params["model_id"])
    return model.artifact_location, query["artifact_file_path"]


# The UI's artifact routes, each with how MLflow's own handler finds the artifact root
# and the path below it.
UI_ROUTES: dict[str, Resolver] = {
    "/get-artifact": _run_root,
    "/model-versions/get-artifact": _model_version_root,
    "/api/2.0/mlflow/logged-models/{model_id}/artifacts/files": _logged_model_root,
}


def _ui_artifact_path(resolve: Resolver, params: dict[str, str], query: Query) -> str | None:
    """The repository path a UI artifact request names, resolved as MLflow's handler
    does (it reads the stores); None when MLflow should answer (a parameter missing, a
    root it does not proxy)."""
    found = resolve(query, params)
    if found is None or not _is_servable_proxied_run_artifact_root(found[0]):
        return None
    root, relative = found
    return str(_get_workspace_scoped_repo_path_if_enabled(
        _get_proxied_run_artifact_destination_path(
            proxied_artifact_root=root, relative_path=validate_path_is_safe(relative))))


class EncryptedDownloads:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.encrypted = os.environ.get(ARTIFACTS_DESTINATION_ENV_VAR, "").startswith(
            SCHEME_PREFIX
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not (self.encrypted and scope["type"] == "http" and scope["method"] == "GET"):
            await self.app(scope, receive, send)
            return
        found = decision(scope)
        try:
            stored = await self._stored_path(found) if found else None
        except MlflowException as error:
            await send_mlflow_exception(send, error)
            return
        if stored is None:
            await self.app(scope, receive, send)
            return
        repository = _get_artifact_repo_mlflow_artifacts()
        assert isinstance(repository, EncryptedArtifactRepository)
        await self._serve(repository, stored, send)

    @staticmethod
    async def _stored_path(found: Decision) -> str | None:
        """The artifact's path in the repository, or None for requests not ours."""
        route = found.route.path
        if route == DOWNLOAD:
            path = validate_path_is_safe(found.params["artifact_path"])
            return str(_get_workspace_scoped_path(path))
        resolve = UI_ROUTES.get(route)  # every other GET passes without a thread hop
        if resolve is None:
            return None
        query = {k: v[0] for k, v in found.query.items() if v and v[0] != ""}
        return await asyncio.to_thread(_ui_artifact_path, resolve, found.params, query)

    async def _serve(self, repository: EncryptedArtifactRepository, path: str, send: Send) -> None:
        try:
            artifact = await asyncio.to_thread(repository.open_artifact, path)
        except MlflowException as error:
            await send_mlflow_exception(send, error)
            return
        # One segment is always held back until the next one (or the end of the file)
        # authenticates: the last bytes go out only once the whole file verified, so a
        # truncated or extended file can never arrive complete-looking. The status line
        # waits for the first two, so a short file that fails gets an error answer.
        chunks = artifact.chunks()
        try:
            held = await asyncio.to_thread(next, chunks, None)
            following = await asyncio.to_thread(next, chunks, None)
        except MlflowException as error:
            artifact.close()
            await send_mlflow_exception(send, error)
            return
        name = posixpath.basename(path)
        await send({
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", _guess_mime_type(name).encode()),
                (b"content-length", str(artifact.size).encode()),
                (b"content-disposition", _content_disposition_attachment(name).encode()),
                (b"x-content-type-options", b"nosniff"),
            ],
        })
        try:
            while following is not None:
                await send({"type": "http.response.body", "body": held, "more_body": True})
                held, following = following, await asyncio.to_thread(next, chunks, None)
        finally:
            artifact.close()
        await send({"type": "http.response.body", "body": held or b"", "more_body": False})
