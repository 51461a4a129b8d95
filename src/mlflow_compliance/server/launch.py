"""Starting the compliance server: ``mlflow server --app-name compliance`` on a home."""

from __future__ import annotations

import os
import sys

from mlflow_compliance.identity.bootstrap import bootstrap_admin
from mlflow_compliance.identity.store import IdentityStore
from mlflow_compliance.settings import HOME_ENV, Settings

SEED_SWITCHES = ("MLFLOW_ARTIFACT_ENCRYPTION", "MLFLOW_ACCESS_LOGGING")


def mlflow_server_command(settings: Settings, host: str, port: int, workers: int) -> list[str]:
    """The ``mlflow server`` command line this server is, for these settings."""
    return [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--app-name",
        "compliance",
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--backend-store-uri",
        settings.store_uri,
        "--registry-store-uri",
        settings.store_uri,
        # Artifacts only through the server (proxied), never direct to storage.
        "--serve-artifacts",
        "--artifacts-destination",
        settings.artifacts_uri,
        "--default-artifact-root",
        "mlflow-artifacts:/",
    ]


def not_yet_honoured_switches() -> list[str]:
    """The seed's switches that are set but that this version does not act on yet."""
    return [name for name in SEED_SWITCHES if os.environ.get(name)]


def prepare_identities(settings: Settings) -> str | None:
    """Create the identity tables and the first admin; its generated password, if any."""
    store = IdentityStore.connect(settings.store_uri)
    try:
        return bootstrap_admin(store, settings.home)
    finally:
        store.engine.dispose()


def exec_server(settings: Settings, host: str, port: int, workers: int) -> None:
    """Replace this process with the MLflow server, so signals reach it directly."""
    os.environ[HOME_ENV] = str(settings.home)
    command = mlflow_server_command(settings, host, port, workers)
    os.execv(command[0], command)
