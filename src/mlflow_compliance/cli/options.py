"""What every command spells the same way: the audit database option and list output."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar, cast

import click
from rich.console import Console
from rich.table import Table

from mlflow_compliance.cli.errors import InputError

F = TypeVar("F", bound=Callable[..., Any])

AUDIT_DATABASE_HELP = (
    "The audit log's database (e.g. postgresql://...) [default: "
    "MLFLOW_COMPLIANCE_AUDIT_DATABASE_URL, else the PostgreSQL tracking database, else the "
    "home's audit.db]."
)


def audit_database(old_name: bool = True) -> Callable[[F], F]:
    """``--audit-database-url``, passed as ``audit_database_url``; with ``old_name``,
    ``--database-url`` too (hidden), the name ``audit`` commands had before."""

    def decorate(command: F) -> F:
        @functools.wraps(command)
        def run(*args: Any, audit_database_url: str | None = None,
                database_url: str | None = None, **kwargs: Any) -> Any:
            if audit_database_url and database_url and audit_database_url != database_url:
                raise InputError("--database-url: the old name of --audit-database-url; "
                                 "give one of them")
            return command(*args, audit_database_url=audit_database_url or database_url,
                           **kwargs)

        decorated: Any = run
        if old_name:
            decorated = click.option("--database-url", hidden=True)(decorated)
        return cast(F, click.option("--audit-database-url", help=AUDIT_DATABASE_HELP)(decorated))

    return decorate


def list_format(command: F) -> F:
    """``--format table|json``, passed as ``form``: every list command has it."""
    return click.option(
        "--format", "form", type=click.Choice(["table", "json"]), default="table",
        show_default=True, help="json: the server's answer as it is, for scripts.",
    )(command)


def show(form: str, answer: Any, header: Sequence[str],
         rows: Callable[[], Iterable[Sequence[str]]]) -> None:
    """Print ``answer`` as JSON, or ``rows()`` as a table under ``header``."""
    if form == "json":
        click.echo(json.dumps(answer, indent=2))
        return
    table = Table(*header)
    for row in rows():
        table.add_row(*row)
    Console().print(table)
