"""``mlflow-compliance retention status``: runs and model versions past the retention
their record declares (GDPR Art. 5(1)(e)), and what keeps them anyway (AI Act Art. 18,
under GDPR Art. 17(3)(b)). Read-only: nothing is erased here.

Exit codes: 0 nothing due, 1 something is due for erasure or anonymisation (a finding),
2 bad usage or an unreachable server.
"""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from typing import IO, Any

import click
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from mlflow_compliance.checks.model import ServerFacts
from mlflow_compliance.cli.errors import InputError
from mlflow_compliance.cli.remote import tracking_uri
from mlflow_compliance.retention.collect import Read, read
from mlflow_compliance.retention.status import (
    ART_17_3,
    NO_HOLD_REGISTER,
    RetentionStatus,
    keepings_by_run,
    status,
)

err = Console(stderr=True)


@click.group()
def retention() -> None:
    """Retention of runs and model versions (GDPR Art. 5(1)(e), AI Act Art. 18)."""


def _read(uri: str, experiments: tuple[str, ...]) -> Read:
    client = MlflowClient(tracking_uri=uri)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=err, transient=True, disable=not err.is_terminal) as bar:
        counts: dict[str, int] = {}
        task = bar.add_task("fetching", total=None)

        def fetched(what: str, n: int) -> None:
            counts[what] = counts.get(what, 0) + n
            bar.update(task, description="fetching: " + ", ".join(
                f"{v} {k}" for k, v in counts.items()))

        try:
            return read(client, experiments, ServerFacts(url=uri), fetched)
        except MlflowException as e:
            raise InputError(f"{uri}: {e.message.splitlines()[0]}") from None
        except OSError as e:  # the connection, below MLflow's client
            raise InputError(f"MLFLOW_TRACKING_URI: cannot reach {uri} ({type(e).__name__})") \
                from None


def statuses(found: Read, on: date) -> list[RetentionStatus]:
    """Every run and version that declares a retention: runs first, then versions."""
    kept = keepings_by_run(found.versions, on)
    every = (status(t, on, kept) for t in [*found.runs, *found.versions])
    return [s for s in every if s is not None]


def _table(rows: list[RetentionStatus], output: IO[str]) -> None:
    table = Table("kind", "id", "name", "kept until", "days over", "kept by", "what follows")
    for s in rows:
        kept_by = "; ".join(f"{k.ground} until {k.until.isoformat()}" for k in s.kept_by)
        table.add_row(s.kind.value, s.id, s.name, s.kept_until.isoformat(),
                      str(s.days_over), kept_by or "-", s.action)
    console = Console(file=output) if output is not sys.stdout else Console()
    console.print(table)


@retention.command("status")
@click.option("--experiment", "experiments", multiple=True,
              help="Only this experiment (id), its runs and the versions made from them; "
              "repeat for more.")
@click.option("--on", "on", help="The day to judge on, YYYY-MM-DD [default: today].")
@click.option("--all", "every", is_flag=True,
              help="List every run and version that declares a retention, not only the "
              "expired ones.")
@click.option("--format", "form", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@click.option("--output", "-o", type=click.File("w"), default="-",
              help="File to write [default: standard output].")
def status_command(experiments: tuple[str, ...], on: str | None, every: bool, form: str,
                   output: IO[str]) -> None:
    """List runs and model versions past their retention, what keeps them (AI Act
    Art. 18) or that they are due for erasure or anonymisation (GDPR Art. 5(1)(e)).
    Exit 1 when something is due."""
    day = _day(on)
    uri = tracking_uri()
    found = _read(uri, experiments)
    rows = [s for s in statuses(found, day) if every or s.expired]
    due = [s for s in rows if s.due]
    if form == "json":
        answer: dict[str, Any] = {
            "server": uri, "on": day.isoformat(), "runs": len(found.runs),
            "versions": len(found.versions), "due": len(due),
            "legal_holds": NO_HOLD_REGISTER, "note": ART_17_3,
            "items": [s.as_dict() for s in rows],
        }
        output.write(json.dumps(answer, indent=2) + "\n")
    else:
        _table(rows, output)
    expired = [s for s in rows if s.expired]
    err.print(f"read {len(found.runs)} runs and {len(found.versions)} model versions on "
              f"{day.isoformat()}: {len(expired)} past retention, {len(due)} due for erasure "
              f"or anonymisation, {sum(1 for s in expired if s.kept_by)} kept by AI Act Art. "
              f"18; {NO_HOLD_REGISTER}", highlight=False, soft_wrap=True)
    if due:
        sys.exit(1)


def _day(on: str | None) -> date:
    if on is None:
        return date.today()
    try:
        return datetime.strptime(on, "%Y-%m-%d").date()
    except ValueError:
        raise InputError(f"--on: {on!r} is not a date as YYYY-MM-DD") from None
