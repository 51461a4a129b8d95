"""``keys status|rotate|shred``: the envelope keys of encrypted artifacts.

Run on the server's machine (its home holds the local key file) against its tracking
database; each operation is an entry in the server's audit log (``local:<account>``),
which must be there: a key operation is refused rather than logged nowhere.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
import sqlalchemy.exc
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
from rich.table import Table
from sqlalchemy.engine import make_url

from mlflow_compliance.audit.local import local_entry
from mlflow_compliance.audit.log import AuditLog
from mlflow_compliance.cli.audit import logged, open_log
from mlflow_compliance.cli.errors import InputError
from mlflow_compliance.cli.options import audit_database
from mlflow_compliance.encryption.keys.configure import open_keyring
from mlflow_compliance.encryption.keys.errors import KeyringError
from mlflow_compliance.encryption.keys.keyring import Keyring
from mlflow_compliance.encryption.scope import dataset_scope, model_scope, run_scope
from mlflow_compliance.settings import KEYRING_PROVIDERS, SettingProblem, Settings

err = Console(stderr=True)


def where(command: Any) -> Any:
    command = audit_database(old_name=False)(command)
    command = click.option(
        "--backend-store-uri",
        help="The tracking database holding the data keys (e.g. postgresql://...) "
        "[default: the home's mlflow.db].",
    )(command)
    return click.option(
        "--home",
        type=click.Path(file_okay=False),
        help="The server's home: its key file and audit log [default: ./.mlflow-compliance, "
        "or MLFLOW_COMPLIANCE_HOME].",
    )(command)


@contextmanager
def opened(
    home: str | None,
    backend_store_uri: str | None,
    audit_database_url: str | None,
    provider: str | None = None,
) -> Iterator[tuple[Keyring, Settings, AuditLog]]:
    settings = Settings.from_env(home, backend_store_uri=backend_store_uri,
                                 audit_database_url=audit_database_url)
    if not settings.home.is_dir():
        raise InputError(f"--home: {settings.home} is not a compliance server's home")
    log = open_log(settings)  # before any key is touched: no key operation goes unlogged
    try:
        keyring = open_keyring(settings, provider)
    except (SettingProblem, KeyringError) as e:
        log.close()
        raise InputError(str(e)) from None
    except sqlalchemy.exc.SQLAlchemyError as e:
        log.close()
        reason = str(e.orig if isinstance(e, sqlalchemy.exc.DBAPIError) else e).splitlines()[0]
        raise InputError(f"--backend-store-uri: cannot open the data keys ({reason})") from None
    try:
        yield keyring, settings, log
    except KeyringError as e:
        raise InputError(str(e)) from None
    finally:
        keyring.store.close()
        log.close()


def audited(log: AuditLog, action: str, resources: dict[str, Any], status: int) -> None:
    """Put the key operation in the audit log; say so if it cannot be."""
    logged(log, local_entry(action, resources, status))


@click.group()
def keys() -> None:
    """Envelope keys of encrypted artifacts: status, rotation, crypto-shredding."""


@keys.command()
@where
@click.option("--format", "form", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
def status(
    home: str | None, backend_store_uri: str | None, audit_database_url: str | None, form: str
) -> None:
    """What is encrypted under which key-encryption key, and what was shredded."""
    with opened(home, backend_store_uri, audit_database_url) as (keyring, _, log):
        keks = keyring.store.keks()
        counts = keyring.store.counts()
        audited(log, "keys.status", {}, 0)
    rows: list[dict[str, Any]] = []
    for kek in keks:
        under = {kind: n for (kek_id, kind), n in counts.items() if kek_id == kek.id}
        rows.append({
            "key_encryption_key": kek.id, "provider": kek.provider, "state": kek.state,
            "created": kek.created_at.isoformat(), "data_keys": under,
        })
    shredded = {kind: n for (kek_id, kind), n in counts.items() if kek_id is None}
    if form == "json":
        click.echo(json.dumps({"key_encryption_keys": rows, "shredded": shredded}, indent=2))
        return
    table = Table("key-encryption key", "provider", "state", "created", "data keys")
    for row in rows:
        table.add_row(row["key_encryption_key"], row["provider"], row["state"],
                      row["created"][:19], _kinds(row["data_keys"]))
    Console().print(table)
    Console().print(f"shredded data keys: {_kinds(shredded)}")


def _kinds(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())) or "none"


@keys.command()
@where
@click.option("--provider", type=click.Choice(KEYRING_PROVIDERS),
              help="Where the new key-encryption key is made [default: "
              "MLFLOW_COMPLIANCE_KEYRING, or local].")
def rotate(
    home: str | None,
    backend_store_uri: str | None,
    audit_database_url: str | None,
    provider: str | None,
) -> None:
    """A new key-encryption key; every data key re-wrapped, no artifact re-encrypted.

    Servers keep running; the old key is destroyed only after every data key moved.
    """
    with opened(home, backend_store_uri, audit_database_url, provider) as (keyring, _, log):
        live = sum(n for (kek_id, _), n in keyring.store.counts().items() if kek_id)
        with Progress("re-wrapping", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                      console=err, transient=True) as bar:
            task = bar.add_task("data keys", total=live)
            rotation = keyring.rotate(provider, lambda n: bar.advance(task, n))
        audited(log, "keys.rotate", {"key_encryption_key": rotation.new_kek,
                                          "retired": ",".join(rotation.retired),
                                          "rewrapped": str(rotation.moved)}, 0)
    retired = ", ".join(rotation.retired) or "none"
    click.echo(f"rotated: {rotation.moved} data keys now under {rotation.new_kek}; "
               f"retired: {retired}")


@keys.command()
@where
@click.option("--run", "run_id", help="Shred a run: its data key, its datasets' and its "
              "logged models'.")
@click.option("--dataset", help="Shred one dataset folder of a run: RUN_ID/NAME.")
@click.option("--model-id", help="Shred one logged model (m-...).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def shred(
    home: str | None,
    backend_store_uri: str | None,
    audit_database_url: str | None,
    run_id: str | None,
    dataset: str | None,
    model_id: str | None,
    yes: bool,
) -> None:
    """Crypto-shredding (GDPR Art. 17): destroy data keys, so the artifacts they encrypted
    can never be read again, in backups too. Cannot be undone."""
    chosen = [o for o in (run_id, dataset, model_id) if o]
    if len(chosen) != 1:
        raise InputError("shred: give exactly one of --run, --dataset, --model-id")
    with opened(home, backend_store_uri, audit_database_url) as (keyring, settings, log):
        scopes = _scopes(settings, run_id, dataset, model_id)
        if not yes:
            click.confirm(f"Destroy the keys of {', '.join(scopes)} for good?", abort=True,
                          err=True)
        destroyed: list[str] = []
        for scope in scopes:
            destroyed += keyring.shred(scope, by=local_entry("keys.shred", {}, 0).principal)
        audited(log, "keys.shred", {"scopes": ",".join(destroyed),
                                    "requested": ",".join(scopes)}, 0)
    if not destroyed:  # nothing to do is not a failure: the keys are gone either way
        click.echo(f"nothing to shred: no live data key for {', '.join(scopes)}")
        return
    click.echo(f"shredded {len(destroyed)} data keys: {', '.join(destroyed)}")


def _scopes(
    settings: Settings, run_id: str | None, dataset: str | None, model_id: str | None
) -> list[str]:
    if model_id:
        return [model_scope(model_id)]
    if dataset:
        run, _, name = dataset.partition("/")
        if not run or not name or "/" in name:
            raise InputError(f"--dataset: {dataset!r} is not RUN_ID/NAME")
        return [dataset_scope(run, name)]
    assert run_id is not None
    return [run_scope(run_id), *(model_scope(m) for m in _models_of(settings, run_id))]


def _models_of(settings: Settings, run_id: str) -> list[str]:
    """The logged models whose source is the run: they were made from its data."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    if not re.fullmatch(r"[0-9A-Za-z_-]{1,64}", run_id):
        raise InputError(f"--run: {run_id!r} is not a run id (letters, digits, _ and -)")
    client = MlflowClient(tracking_uri=settings.store_uri)
    try:
        experiment = client.get_run(run_id).info.experiment_id
    except MlflowException:
        shown = make_url(settings.store_uri).render_as_string(hide_password=True)
        raise InputError(f"--run: no run {run_id} in {shown}") from None
    models = client.search_logged_models(
        experiment_ids=[experiment], filter_string=f"source_run_id = '{run_id}'"
    )
    return [m.model_id for m in models]
