"""Starting the compliance server: ``mlflow server --app-name compliance`` on a home."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from mlflow_compliance.audit.local import local_entry
from mlflow_compliance.audit.log import AuditLog
from mlflow_compliance.audit.signing import Signer
from mlflow_compliance.encryption.keys.configure import open_keyring
from mlflow_compliance.encryption.scope import SCHEME_PREFIX
from mlflow_compliance.identity.bootstrap import bootstrap_admin
from mlflow_compliance.identity.store import IdentityStore
from mlflow_compliance.settings import AUDIT_DATABASE_ENV, HOME_ENV, SettingProblem, Settings

ENCRYPTABLE_SCHEMES = ("file", "s3")


def mlflow_artifacts_destination(settings: Settings, encrypted: bool) -> str:
    """The ``--artifacts-destination`` MLflow gets: the storage, wrapped by the encrypting
    repository unless encryption is off."""
    uri = settings.artifacts_uri
    scheme = urlparse(uri).scheme
    if scheme == "":
        uri, scheme = Path(uri).resolve().as_uri(), "file"
    if not encrypted:
        return uri
    if scheme not in ENCRYPTABLE_SCHEMES:
        raise SettingProblem(
            f"--artifacts-destination: scheme {scheme!r} cannot be encrypted yet; allowed: "
            f"{', '.join(ENCRYPTABLE_SCHEMES)} (or MLFLOW_ARTIFACT_ENCRYPTION=false)"
        )
    if scheme == "file":
        folder = Path(urlparse(uri).path).resolve()
        if settings.key_file.resolve().is_relative_to(folder):
            raise SettingProblem(
                f"MLFLOW_COMPLIANCE_KEY_FILE: {settings.key_file} is inside the artifact "
                f"folder {folder}; keep the key file outside it"
            )
    return SCHEME_PREFIX + uri


def mlflow_server_command(
    settings: Settings, host: str, port: int, workers: int, destination: str
) -> list[str]:
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
        destination,
        "--default-artifact-root",
        "mlflow-artifacts:/",
    ]


@dataclass(frozen=True)
class KeysReady:
    kek_id: str
    provider: str
    key_file_created: bool


def prepare_keys(settings: Settings) -> KeysReady:
    """Make sure a key-encryption key exists (the local key file is created at the first
    start, 0600) and is reachable, before any worker needs it."""
    keyring = open_keyring(settings)
    existed = settings.key_file.exists()
    try:
        kek_id = keyring.ensure_current_kek()
        current = keyring.store.current_kek()
        provider = current.provider if current else keyring.provider_for_new_keys
        return KeysReady(kek_id, provider, not existed and settings.key_file.exists())
    finally:
        keyring.store.close()


def prepare_identities(settings: Settings) -> str | None:
    """Create the identity tables and the first admin; its generated password, if any."""
    store = IdentityStore.connect(settings.store_uri)
    try:
        return bootstrap_admin(store, settings.home)
    finally:
        store.engine.dispose()


def prepare_audit(settings: Settings, logging_on: bool, encryption_on: bool) -> None:
    """Create the signing key and the audit tables; log the start and the switch's state.

    An auditor reading the log later sees when access logging was on and when it was
    turned off, and by whom on which machine.
    """
    log = AuditLog(settings.audit_url, settings.home, Signer.load_or_create(settings.home))
    try:
        log.create()
        switches = {
            "access_logging": "on" if logging_on else "off",
            "artifact_encryption": "on" if encryption_on else "off",
        }
        log.append([local_entry("server.start", switches, 0)])
    finally:
        log.close()


def exec_server(
    settings: Settings, host: str, port: int, workers: int, destination: str
) -> None:
    """Replace this process with the MLflow server, so signals reach it directly."""
    os.environ[HOME_ENV] = str(settings.home)
    if settings.audit_database_url:
        os.environ[AUDIT_DATABASE_ENV] = settings.audit_database_url
    command = mlflow_server_command(settings, host, port, workers, destination)
    os.execv(command[0], command)
