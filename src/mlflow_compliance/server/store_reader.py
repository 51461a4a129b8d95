"""The server's own stores, read the way the documents read an MlflowClient.

The documents of a version (reports/) are written from what an MlflowClient answers.
Inside the server there is no client: MLflow's handlers read the tracking and registry
stores directly, and so does this reader, with the methods (and errors) the documents
use. The model's files are read through the server's own artifact repository, so
encrypted files are decrypted as they stream (gate/model_files.py finds the root).
Blocking: call in a worker thread.
"""

from __future__ import annotations

import math
import posixpath
from collections.abc import Callable
from typing import Any

from mlflow.entities import Metric, Run
from mlflow.entities.model_registry import ModelVersion, RegisteredModel


def _tracking() -> Any:
    from mlflow.server.handlers import _get_tracking_store

    return _get_tracking_store()


def _registry() -> Any:
    from mlflow.server.handlers import _get_model_registry_store

    return _get_model_registry_store()


class StoreReader:
    """The reading methods of an MlflowClient the documents call, on the stores."""

    def get_registered_model(self, name: str) -> RegisteredModel:
        return _registry().get_registered_model(name)

    def get_model_version(self, name: str, version: str) -> ModelVersion:
        return _registry().get_model_version(name, version)

    def search_model_versions(self, filter_string: str | None = None,
                              max_results: int = 10000,
                              page_token: str | None = None) -> Any:
        return _registry().search_model_versions(
            filter_string=filter_string, max_results=max_results, page_token=page_token)

    def get_model_version_download_uri(self, name: str, version: str) -> str:
        return str(_registry().get_model_version_download_uri(name, version))

    def get_run(self, run_id: str) -> Run:
        return _tracking().get_run(run_id)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        return list(_tracking().get_metric_history(run_id, key))

    def metric_histories(self, run_id: str) -> dict[str, list[tuple[int, float]]]:
        """Every metric of the run, key -> (step, value) of each value logged, in one
        query: MLflow's per-key history builds an entity per value, which for 100
        metrics of 1,000 steps took seconds."""
        from mlflow.store.tracking.dbmodels.models import SqlMetric

        store = _tracking()
        if not hasattr(store, "ManagedSessionMaker"):  # not a SQL store: key by key
            return {}
        found: dict[str, list[tuple[int, float]]] = {}
        with store.ManagedSessionMaker() as session:
            rows = session.query(SqlMetric.key, SqlMetric.step, SqlMetric.value,
                                 SqlMetric.is_nan).filter(SqlMetric.run_uuid == run_id)
            for key, step, value, is_nan in rows:
                found.setdefault(key, []).append(
                    (int(step), math.nan if is_nan else float(value)))
        return found


def server_model_files(name: str, version: str) -> Callable[[str], str]:
    """A reader of the version's model files through the server's artifact repository
    (decrypting when artifacts are encrypted)."""
    import tempfile
    from pathlib import Path

    from mlflow_compliance.server.encrypted_downloads import _stored_root
    from mlflow_compliance.server.gate.model_files import _repository

    uri = str(_registry().get_model_version_download_uri(name, version))
    repository, root = _repository(_stored_root(uri))

    def read(file: str) -> str:
        with tempfile.TemporaryDirectory() as folder:
            path = posixpath.join(root, file) if root else file
            return Path(repository.download_artifacts(path, folder)).read_text()

    return read
