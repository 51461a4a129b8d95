"""``mlflow-compliance server``."""

from __future__ import annotations

import click
from rich.console import Console
from sqlalchemy.engine import make_url

from mlflow_compliance.audit.signing import KeyProblem
from mlflow_compliance.checks.packs import load_rules
from mlflow_compliance.cli.errors import InputError
from mlflow_compliance.cli.options import audit_database
from mlflow_compliance.encryption.keys.errors import KeyringError
from mlflow_compliance.identity.bootstrap import PASSWORD_ENV
from mlflow_compliance.identity.store import IdentityError
from mlflow_compliance.server.authorization.defaults import Defaults
from mlflow_compliance.server.launch import (
    exec_server,
    mlflow_artifacts_destination,
    prepare_audit,
    prepare_identities,
    prepare_keys,
)
from mlflow_compliance.settings import (
    ACCESS_LOGGING_ENV,
    ARTIFACT_ENCRYPTION_ENV,
    GATE_RULES_ENV,
    SettingProblem,
    Settings,
    access_logging,
    artifact_encryption,
    audit_sync,
    check_compliance_settings,
    gate_rules,
    keyring_provider,
    protected_aliases,
)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--home",
    type=click.Path(file_okay=False),
    help="Folder for the database and artifacts [default: ./.mlflow-compliance, "
    "or MLFLOW_COMPLIANCE_HOME].",
)
@click.option("--workers", default=4, show_default=True, type=click.IntRange(1, 64))
@click.option(
    "--backend-store-uri",
    help="Tracking and registry database (e.g. postgresql://...) instead of the home's SQLite.",
)
@click.option(
    "--artifacts-destination",
    help="Artifact storage (e.g. s3://bucket/path) instead of the home's artifact folder.",
)
@audit_database()
def server(
    host: str,
    port: int,
    home: str | None,
    workers: int,
    backend_store_uri: str | None,
    artifacts_destination: str | None,
    audit_database_url: str | None,
) -> None:
    """Run the compliance server: `mlflow server --app-name compliance` on a home."""
    settings = Settings.from_env(
        home,
        backend_store_uri=backend_store_uri,
        artifacts_destination=artifacts_destination,
        audit_database_url=audit_database_url,
    )
    try:
        logging_on = access_logging()
        sync = audit_sync()
        encryption_on = artifact_encryption()
        keyring_provider()
        destination = mlflow_artifacts_destination(settings, encryption_on)
        load_rules(gate_rules())
        Defaults.from_env()
        check_compliance_settings()
    except SettingProblem as e:
        raise InputError(str(e)) from None
    except ValueError as e:  # an unknown pack or a bad rule file for the promotion gate
        raise InputError(f"{GATE_RULES_ENV}: {e}") from None
    settings.create_home()
    try:
        password = prepare_identities(settings)
    except IdentityError as e:
        raise InputError(f"{PASSWORD_ENV}: {e}") from None
    keys = None
    if encryption_on:
        try:
            keys = prepare_keys(settings)
        except KeyringError as e:
            raise InputError(str(e)) from None
    try:
        prepare_audit(settings, logging_on, encryption_on)
    except KeyProblem as e:
        raise InputError(str(e)) from None
    console = Console(stderr=True, soft_wrap=True)
    store = make_url(settings.store_uri).render_as_string(hide_password=True)
    console.print(f"mlflow-compliance: home {settings.home}")
    console.print(f"mlflow-compliance: tracking, registry and users {store}")
    console.print(
        f"mlflow-compliance: artifacts {settings.artifacts_uri} (served through the server)"
    )
    if keys is not None:
        holder = settings.key_file if keys.provider == "local" else "AWS KMS"
        console.print(
            f"mlflow-compliance: artifact encryption on: AES-256-GCM, a data key per run, "
            f"wrapped by key-encryption key {keys.kek_id} ({holder})"
        )
        if keys.key_file_created:
            console.print(
                f"[bold]mlflow-compliance: created the key file {settings.key_file} (mode "
                "0600). Back it up apart from the artifacts: if it is lost, every "
                "encrypted artifact is lost with it.[/]"
            )
    else:
        console.print(
            f"[bold red]mlflow-compliance: WARNING: {ARTIFACT_ENCRYPTION_ENV}=false: "
            "ARTIFACT ENCRYPTION IS OFF. New artifacts are stored in plaintext (GDPR "
            "Art. 32); existing encrypted artifacts cannot be read in this mode.[/]"
        )
    if password is not None:
        console.print(
            f"[bold]mlflow-compliance: created user admin with password {password}[/] "
            f"(also in {settings.home / 'admin-password'}, mode 0600; shown only this once)"
        )
    console.print("mlflow-compliance: authentication required on every route but /health")
    console.print("mlflow-compliance: compliance tag validation on every tag write")
    console.print(
        f"mlflow-compliance: promotion gate: aliases {', '.join(sorted(protected_aliases()))} "
        f"and stage Production need {', '.join(gate_rules())} and a sign-off"
    )
    audit = make_url(settings.audit_url).render_as_string(hide_password=True)
    if logging_on:
        console.print(
            f"mlflow-compliance: access logging on: every request in the audit log {audit}, "
            f"signed with {settings.home / 'audit-signing.key'} (SQLite sync: {sync})"
        )
    else:
        console.print(
            f"[bold red]mlflow-compliance: WARNING: {ACCESS_LOGGING_ENV}=false: ACCESS "
            "LOGGING IS OFF. Requests to this server are NOT recorded in the audit log "
            "(GDPR Art. 5(1)(f), 32(1)(b); AI Act Art. 17(1)(k)). The start with logging "
            "off is itself logged.[/]"
        )
    exec_server(settings, host, port, workers, destination)
