"""Artifact downloads decrypted as they stream, never through a plaintext temp file.

MLflow serves a repository without a local path by downloading the whole artifact to a
temp folder and streaming that file: for encrypted artifacts, a plaintext copy on the
server's disk and a full decryption before the first byte. This layer answers
``GET .../mlflow-artifacts/artifacts/<path>`` itself when the artifact destination is the
encrypting repository: it reads the header and finds the key first (so a missing,
erased or undecryptable artifact is an error in MLflow's shape, never a 200), then
streams authenticated segments. A segment that fails authentication mid-way aborts the
response: the client sees a broken transfer, short of its Content-Length, never a
complete-looking file.
"""

from __future__ import annotations

import asyncio
import os
import posixpath
import re

from mlflow.exceptions import MlflowException
from mlflow.server import ARTIFACTS_DESTINATION_ENV_VAR
from mlflow.server.artifact_router import _get_workspace_scoped_path
from mlflow.server.handlers import (
    _content_disposition_attachment,
    _get_artifact_repo_mlflow_artifacts,
)
from mlflow.utils.mime_type_utils import _guess_mime_type
from mlflow.utils.uri import validate_path_is_safe
from starlette.types import ASGIApp, Receive, Scope, Send

from mlflow_compliance.encryption.repository import EncryptedArtifactRepository
from mlflow_compliance.encryption.scope import SCHEME_PREFIX
from mlflow_compliance.server.routes import normalized

DOWNLOAD = re.compile(r"^/(?:ajax-)?api/2\.0/mlflow-artifacts/artifacts/(?P<path>.+)$")


class EncryptedDownloads:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.encrypted = os.environ.get(ARTIFACTS_DESTINATION_ENV_VAR, "").startswith(
            SCHEME_PREFIX
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = None
        if self.encrypted and scope["type"] == "http" and scope["method"] == "GET":
            match = DOWNLOAD.match(normalized(scope["path"]))
        if match is None:
            await self.app(scope, receive, send)
            return
        repository = _get_artifact_repo_mlflow_artifacts()
        assert isinstance(repository, EncryptedArtifactRepository)
        await self._serve(repository, match["path"], send)

    async def _serve(self, repository: EncryptedArtifactRepository, path: str, send: Send) -> None:
        try:
            path = _get_workspace_scoped_path(validate_path_is_safe(path))
            artifact = await asyncio.to_thread(repository.open_artifact, path)
        except MlflowException as error:
            await _send_mlflow_error(send, error)
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
            await _send_mlflow_error(send, error)
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


async def _send_mlflow_error(send: Send, error: MlflowException) -> None:
    body = error.serialize_as_json().encode()
    await send({
        "type": "http.response.start",
        "status": error.get_http_status_code(),
        "headers": [(b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode())],
    })
    await send({"type": "http.response.body", "body": body})
