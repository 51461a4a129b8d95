"""Where a run's dataset files are, and reading them whole, on the server.

A dataset logged as files lives in the run's artifact folder ``datasets/<name>/``:
below the server's artifact root, ``<experiment>/<run>/artifacts/datasets/<name>/...``,
each such folder under its own data key (encryption/scope.py), so that one dataset can
be shredded without the rest of the run. The access report (GDPR Art. 15(3)) reads the
person's rows from these files, erasure (Art. 17(1)) rewrites them.
"""

from __future__ import annotations

import posixpath
import shutil
import tempfile
from typing import Any

from mlflow.store.artifact.artifact_repo import ArtifactRepository

from mlflow_compliance.encryption.scope import DATASETS_FOLDER

__all__ = ["DATASETS_FOLDER", "artifact_root", "dataset_folder", "files_in", "read_whole"]


def dataset_folder(experiment_id: str, run_id: str, dataset_name: str) -> str | None:
    """``<exp>/<run>/artifacts/datasets/<name>`` relative to the artifact root; None when
    any part is not one safe path segment (a name could otherwise reach another run)."""
    for part in (experiment_id, run_id, dataset_name):
        if not part or part in (".", "..") or "/" in part or "\\" in part or "\0" in part:
            return None
    return posixpath.join(experiment_id, run_id, "artifacts", DATASETS_FOLDER, dataset_name)


def artifact_root() -> ArtifactRepository:
    """The server's ``--artifacts-destination`` repository (the encrypting one when
    artifact encryption is on)."""
    from mlflow.server.handlers import _get_artifact_repo_mlflow_artifacts

    repository: ArtifactRepository = _get_artifact_repo_mlflow_artifacts()
    return repository


def files_in(repo: ArtifactRepository, folder: str) -> list[str]:
    """Every file below ``folder``, recursively, as root-relative paths, sorted; [] when
    the folder does not exist."""
    found: list[str] = []
    pending = [folder]
    while pending:
        current = pending.pop()
        try:
            infos = repo.list_artifacts(current)
        except (FileNotFoundError, NotADirectoryError):
            continue
        for info in infos:
            path = info.path
            if not path.startswith(current + "/") and path != current:
                path = posixpath.join(current, posixpath.basename(path))
            if info.is_dir:
                pending.append(path)
            elif path != current:
                found.append(path)
    return sorted(found)


def read_whole(repo: ArtifactRepository, path: str) -> bytes:
    """The plaintext of the file at ``path``: decrypted as it streams when the repository
    encrypts, else downloaded to a private scratch folder, read, and removed."""
    opener: Any = getattr(repo, "open_artifact", None)
    if opener is not None:
        artifact = opener(path)
        try:
            return b"".join(artifact.chunks())
        finally:
            artifact.close()
    scratch = tempfile.mkdtemp(prefix="dataset-")  # 0700: the file is personal data
    try:
        local = repo.download_artifacts(path, scratch)
        with open(local, "rb") as file:
            return file.read()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
