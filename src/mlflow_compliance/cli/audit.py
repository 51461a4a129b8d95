"""``audit verify|export|head|purge`` on the log itself, ``audit search`` on a server.

The local commands open the log named by ``--home`` (its ``audit.db`` and keys) or by
``--audit-database-url`` (a PostgreSQL log; keys still from the home). Each of them is
itself an entry in the log: reading the audit log is logged.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import click
import sqlalchemy.exc
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
from sqlalchemy.engine import make_url

from mlflow_compliance.audit.entry import GENESIS, HASHED, Entry, iso_time, time_us_of
from mlflow_compliance.audit.local import local_entry
from mlflow_compliance.audit.log import AuditLog
from mlflow_compliance.audit.signing import KeyProblem, Signer, Verifier, read_head_file
from mlflow_compliance.audit.verify import verify as verify_log
from mlflow_compliance.cli.errors import InputError
from mlflow_compliance.cli.options import audit_database, list_format, show
from mlflow_compliance.cli.remote import call
from mlflow_compliance.settings import SettingProblem, Settings, retention_days

err = Console(stderr=True)
EXPORTED = ["seq", "time", *[n for n in HASHED if n != "seq"], "prev_hash", "hash"]


def where(command: Any) -> Any:
    command = audit_database()(command)
    return click.option(
        "--home",
        type=click.Path(file_okay=False),
        help="The server's home: audit.db and the signing keys [default: ./.mlflow-compliance, "
        "or MLFLOW_COMPLIANCE_HOME].",
    )(command)


def open_log(settings: Settings) -> AuditLog:
    """The server's audit log, to append to; an InputError if it is not there, so that
    nothing is logged to a new, empty log by mistake (a wrong --audit-database-url)."""
    shown = settings.audit_url
    try:
        signer = Signer.load(settings.home)
        url = make_url(settings.audit_url)
        shown = url.render_as_string(hide_password=True)
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:") \
                and not Path(url.database).is_file():
            raise InputError(f"{shown}: there is no audit log there; give the server's "
                             "--audit-database-url (or MLFLOW_COMPLIANCE_AUDIT_DATABASE_URL)")
        log = AuditLog(settings.audit_url, settings.home, signer)
    except KeyProblem as e:
        raise InputError(str(e)) from None
    except (sqlalchemy.exc.ArgumentError, ValueError) as e:
        raise InputError(f"--audit-database-url: not a database URL ({e})") from None
    try:
        log.tip()
    except LookupError as e:
        log.close()
        raise InputError(f"{shown}: {e}") from None
    except sqlalchemy.exc.SQLAlchemyError as e:
        log.close()
        reason = str(e.orig if isinstance(e, sqlalchemy.exc.DBAPIError) else e).splitlines()[0]
        raise InputError(f"audit database {shown}: cannot read it ({reason})") from None
    return log


@contextmanager
def opened(
    home: str | None, audit_database_url: str | None
) -> Iterator[tuple[AuditLog, Settings]]:
    settings = Settings.from_env(home, audit_database_url=audit_database_url)
    if not settings.home.is_dir():
        raise InputError(f"--home: {settings.home} is not a compliance server's home")
    log = open_log(settings)
    try:
        yield log, settings
    finally:
        log.close()


@click.group()
def audit() -> None:
    """The tamper-evident audit log of every request (admins and auditors)."""


@audit.command()
@where
def verify(home: str | None, audit_database_url: str | None) -> None:
    """Check the chain and signatures; exit 0 intact, 1 tampered (naming the first bad entry)."""
    with opened(home, audit_database_url) as (log, settings):
        try:
            verifier = Verifier.load(settings.home)
            outside = read_head_file(settings.home)
        except KeyProblem as e:
            raise InputError(str(e)) from None
        with Progress(
            "verifying", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
            console=err, transient=True,
        ) as bar:
            task = bar.add_task("entries", total=None)
            report = verify_log(
                log, verifier, outside, lambda done, total: bar.update(task, completed=done,
                                                                       total=total)
            )
        if report.intact:
            click.echo(
                f"intact: {report.entries} entries ({report.first_seq}..{report.last_seq}), "
                f"chain and signatures verify"
            )
        else:
            click.echo(f"TAMPERED: {report.problem}")
        result = "intact" if report.intact else "tampered"
        logged(log, local_entry("audit.verify", {"result": result}, 0 if report.intact else 1))
    if not report.intact:
        sys.exit(1)


def logged(log: AuditLog, entry: Entry) -> None:
    """Append the command's own entry; a log too damaged to extend is said, not hidden."""
    try:
        log.append([entry])
    # The append goes through the database driver itself, whose errors share no base
    # class (sqlite3.Error, psycopg.Error): a tampered log may well refuse the entry.
    except Exception as e:
        cause = e.orig if isinstance(e, sqlalchemy.exc.DBAPIError) else e
        reason = (str(cause).splitlines() or [type(cause).__name__])[0]
        err.print(f"warning: this {entry.action} could not be added to the audit log ({reason})")


@audit.command()
@where
@click.option("--format", "form", type=click.Choice(["jsonl", "csv"]), default="jsonl",
              show_default=True)
@click.option("--output", "-o", type=click.File("w"), default="-",
              help="File to write [default: standard output].")
def export(
    home: str | None, audit_database_url: str | None, form: str, output: IO[str]
) -> None:
    """Every entry, oldest first, one per line, with its chain fields (streaming)."""
    with opened(home, audit_database_url) as (log, _):
        logged(log, local_entry("audit.export", {"format": form}, 0))
        anchor = log.latest_anchor()
        previous = anchor.hash if anchor else GENESIS
        writer = csv.DictWriter(output, EXPORTED, lineterminator="\n") if form == "csv" else None
        if writer:
            writer.writeheader()
        for entry in log.entries(after_seq=anchor.seq if anchor else 0):
            row = _exported(entry, previous)
            previous = entry.hash
            if writer:
                writer.writerow(row)
            else:
                output.write(json.dumps(row, ensure_ascii=False) + "\n")


def _exported(entry: Entry, previous: str) -> dict[str, Any]:
    row = asdict(entry)
    return {name: row.get(name) for name in EXPORTED} | {
        "time": iso_time(entry.time_us),
        "prev_hash": previous,
    }


@audit.command()
@where
def head(home: str | None, audit_database_url: str | None) -> None:
    """Print the signed tip (JSON), to keep or publish outside this machine."""
    with opened(home, audit_database_url) as (log, _):
        click.echo(json.dumps(asdict(log.tip())))


@audit.command()
@where
@click.option("--retention-days", "days", type=int,
              help="Keep entries this many days [default: MLFLOW_COMPLIANCE_AUDIT_RETENTION_DAYS,"
              " or 183, the minimum (AI Act Art. 19)].")
def purge(home: str | None, audit_database_url: str | None, days: int | None) -> None:
    """Delete entries older than the retention period; the rest stays verifiable."""
    try:
        days = retention_days(days)
    except SettingProblem as e:
        raise InputError(str(e)) from None
    with opened(home, audit_database_url) as (log, _):
        before = datetime.now(UTC) - timedelta(days=days)
        deleted, anchor = log.purge(time_us_of(before))
        logged(log, local_entry("audit.purge", {"before": before.isoformat(),
                                                 "deleted": str(deleted)}, 0))
    cut = f", anchored at entry {anchor.seq}" if anchor else ""
    click.echo(f"purged {deleted} entries older than {before.isoformat()}{cut}")


@audit.command()
@click.option("--principal", help="Exactly this user.")
@click.option("--action", help="Exactly this action, or a prefix ending in * (run.*).")
@click.option("--resource", help="Text the named resources contain (a run id, a model name).")
@click.option("--since", help="From this ISO 8601 time (with zone), inclusive.")
@click.option("--until", help="Before this ISO 8601 time (with zone).")
@click.option("--max-results", type=click.IntRange(1, 1000), default=100, show_default=True)
@list_format
def search(form: str, **filters: Any) -> None:
    """Search the log on the server (MLFLOW_TRACKING_URI and its credentials)."""
    page = call("GET", "audit/search", {k: v for k, v in filters.items() if v is not None})
    show(form, page, ["seq", "time", "principal", "action", "resources", "status"], lambda: (
        [str(e["seq"]), e["time"], e["principal"], e["action"], json.dumps(e["resources"]),
         str(e["status"])] for e in page["entries"]))
    if form != "json" and page.get("next_page_token"):
        err.print("more entries match: narrow the search or raise --max-results")
