"""Starting the compliance server: ``mlflow server --app-name compliance`` on a home."""

from __future__ import annotations

import os
import sys

from mlflow_compliance.audit.local import local_entry
from mlflow_compliance.audit.log import AuditLog
from mlflow_compliance.audit.signing import Signer
from mlflow_compliance.identity.bootstrap import bootstrap_admin
from mlflow_compliance.identity.store import IdentityStore
from mlflow_compliance.settings import AUDIT_DATABASE_ENV, HOME_ENV, Settings

SEED_SWITCHES = ("MLFLOW_ARTIFACT_ENCRYPTION",)


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


def prepare_audit(settings: Settings, logging_on: bool) -> None:
    """Create the signing key and the audit tables; log the start and the switch's state.

    An auditor reading the log later sees when access logging was on and when it was
    turned off, and by whom on which machine.
    """
    log = AuditLog(settings.audit_url, settings.home, Signer.load_or_create(settings.home))
    try:
        log.create()
        state = "on" if logging_on else "off"
        log.append([local_entry("server.start", {"access_logging": state}, 0)])
    finally:
        log.close()


def exec_server(settings: Settings, host: str, port: int, workers: int) -> None:
    """Replace this process with the MLflow server, so signals reach it directly."""
    os.environ[HOME_ENV] = str(settings.home)
    if settings.audit_database_url:
        os.environ[AUDIT_DATABASE_ENV] = settings.audit_database_url
    command = mlflow_server_command(settings, host, port, workers)
    os.execv(command[0], command)
