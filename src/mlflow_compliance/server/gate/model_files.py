"""The files behind a model version and a run, read through the server's own artifact
repository (blocking: call in a thread).

For a sign-off's evidence, every file of the version's model is hashed (SHA-256) as a
client downloads it: through the encrypting repository when artifacts are encrypted,
so the digest is of the plaintext and a swapped file shows, whatever its ciphertext.
The version's source (``runs:/...`` or ``models:/m-...``) is resolved to its artifact
root the way the encrypted downloads do (encrypted_downloads._stored_root).
"""

from __future__ import annotations

import hashlib
import posixpath
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

from mlflow.server.handlers import (
    _get_artifact_repo_mlflow_artifacts,
    _get_model_registry_store,
    _get_proxied_run_artifact_destination_path,
    _get_workspace_scoped_repo_path_if_enabled,
    _is_servable_proxied_run_artifact_root,
)
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

from mlflow_compliance.checks.references import listing_lookup
from mlflow_compliance.server.encrypted_downloads import _stored_root

CHUNK = 1024 * 1024


def _repository(root: str) -> tuple[Any, str]:
    """The repository holding ``root`` and the path of ``root`` inside it."""
    if _is_servable_proxied_run_artifact_root(root):
        path = _get_workspace_scoped_repo_path_if_enabled(
            _get_proxied_run_artifact_destination_path(proxied_artifact_root=root))
        return _get_artifact_repo_mlflow_artifacts(), str(path or "")
    return get_artifact_repository(root), ""


def _files(repository: Any, path: str) -> Iterator[str]:
    for info in repository.list_artifacts(path or None):
        if info.is_dir:
            yield from _files(repository, info.path)
        else:
            yield info.path


def _sha256(repository: Any, path: str) -> str:
    digest = hashlib.sha256()
    opener = getattr(repository, "open_artifact", None)
    if opener is not None:  # the encrypting repository: decrypted as it streams
        artifact = opener(path)
        try:
            for chunk in artifact.chunks():
                digest.update(chunk)
        finally:
            artifact.close()
        return digest.hexdigest()
    with tempfile.TemporaryDirectory() as scratch:
        local = repository.download_artifacts(path, scratch)
        with open(local, "rb") as f:
            while chunk := f.read(CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


def model_file_digests(name: str, version: str) -> dict[str, str]:
    """Path (below the model's root) -> SHA-256 of every file of the version's model."""
    uri = str(_get_model_registry_store().get_model_version_download_uri(name, version))
    repository, root = _repository(_stored_root(uri))
    found = {}
    for path in _files(repository, root):
        relative = posixpath.relpath(path, root) if root else path
        found[relative] = _sha256(repository, path)
    return found


def artifact_exists(artifact_uri: str) -> Callable[[str], bool]:
    """Whether a path exists among a run's artifacts (for ``artifact:`` references); a
    listing that fails raises, so the reference counts as not resolved."""
    repository, root = _repository(artifact_uri)

    def list_dir(parent: str) -> list[str]:
        full = posixpath.join(root, parent) if root and parent else (root or parent)
        return [posixpath.relpath(info.path, root) if root else info.path
                for info in repository.list_artifacts(full or None)]

    return listing_lookup(list_dir)
