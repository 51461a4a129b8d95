"""``mlflow-compliance retention``: runs and model versions past the retention their
record declares (GDPR Art. 5(1)(e)), what keeps them anyway (AI Act Art. 18 under GDPR
Art. 17(3)(b); legal holds under Art. 17(3)(e)), and erasing what is due.

``status`` is read-only. Exit codes: 0 nothing due, 1 something is due for erasure or
anonymisation (a finding), 2 bad usage or an unreachable server. ``apply`` is a dry run
unless ``--yes``; exit 0 when everything due was applied or lawfully kept, 1 when
something failed. ``holds`` is the register of legal holds (cli/retention_holds.py).
"""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from typing import IO, Any

import click
from mlflow.tracking import MlflowClient
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from mlflow_compliance.checks.model import Kind, ServerFacts
from mlflow_compliance.cli.errors import InputError
from mlflow_compliance.cli.fetching import fetching
from mlflow_compliance.cli.remote import PREFIX, fetch, host_creds, tracking_uri
from mlflow_compliance.cli.retention_holds import holds, readable_holds
from mlflow_compliance.retention.collect import Read, read
from mlflow_compliance.retention.holds import Hold
from mlflow_compliance.retention.status import (
    ART_17_3,
    RetentionStatus,
    keepings_by_hold,
    keepings_by_run,
    status,
)

err = Console(stderr=True)


@click.group()
def retention() -> None:
    """Retention of runs and model versions (GDPR Art. 5(1)(e), AI Act Art. 18)."""


retention.add_command(holds)
NO_HOLDS_READ = "legal holds not read: the register is for admins and the privacy role; " \
    "a held run may show as due"


def _read(uri: str, experiments: tuple[str, ...]) -> Read:
    client = MlflowClient(tracking_uri=uri)
    with fetching(uri) as fetched:
        return read(client, experiments, ServerFacts(url=uri), fetched)


def statuses(found: Read, on: date, legal_holds: list[Hold] | None = None
             ) -> list[RetentionStatus]:
    """Every run and version that declares a retention: runs first, then versions; kept
    by AI Act Art. 18 and by the active legal holds given."""
    kept = keepings_by_run(found.versions, on)
    held = keepings_by_hold(legal_holds or [], found.runs, found.versions)
    every = (status(t, on, kept, held) for t in [*found.runs, *found.versions])
    return [s for s in every if s is not None]


def _kept_by(s: RetentionStatus) -> str:
    return "; ".join(f"{k.ground} until {k.until.isoformat() if k.until else 'released'}"
                     for k in s.kept_by)


def _table(rows: list[RetentionStatus], output: IO[str]) -> None:
    table = Table("kind", "id", "name", "kept until", "days over", "kept by", "what follows")
    for s in rows:
        table.add_row(s.kind.value, s.id, s.name, s.kept_until.isoformat(),
                      str(s.days_over), _kept_by(s) or "-", s.action)
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
    Art. 18, legal holds) or that they are due for erasure or anonymisation (GDPR Art.
    5(1)(e)). Exit 1 when something is due."""
    day = _day(on)
    uri = tracking_uri()
    found = _read(uri, experiments)
    legal_holds = readable_holds()
    rows = [s for s in statuses(found, day, legal_holds) if every or s.expired]
    due = [s for s in rows if s.due]
    if form == "json":
        answer: dict[str, Any] = {
            "server": uri, "on": day.isoformat(), "runs": len(found.runs),
            "versions": len(found.versions), "due": len(due),
            "legal_holds": None if legal_holds is None else [h.as_dict() for h in legal_holds],
            "note": ART_17_3 if legal_holds is not None else f"{ART_17_3}; {NO_HOLDS_READ}",
            "items": [s.as_dict() for s in rows],
        }
        output.write(json.dumps(answer, indent=2) + "\n")
    else:
        _table(rows, output)
    expired = [s for s in rows if s.expired]
    art18 = sum(1 for s in expired if any(not k.held for k in s.kept_by))
    held = sum(1 for s in expired if s.kept_by and all(k.held for k in s.kept_by))
    holds_read = f"{len(legal_holds)} active legal holds" if legal_holds is not None \
        else NO_HOLDS_READ
    err.print(f"read {len(found.runs)} runs and {len(found.versions)} model versions on "
              f"{day.isoformat()}: {len(expired)} past retention, {len(due)} due for erasure "
              f"or anonymisation, {art18} kept by AI Act Art. 18, {held} kept by legal "
              f"holds; {holds_read}", highlight=False, soft_wrap=True)
    if due:
        sys.exit(1)


def _day(on: str | None) -> date:
    if on is None:
        return date.today()
    try:
        return datetime.strptime(on, "%Y-%m-%d").date()
    except ValueError:
        raise InputError(f"--on: {on!r} is not a date as YYYY-MM-DD") from None


def _outcome(code: int, answer: dict[str, Any]) -> tuple[str, str]:
    """(applied | would apply | kept | not due | failed, what the server said)."""
    if code == 409:
        return "not due", str(answer.get("message", "")).splitlines()[0]
    if code != 200:
        return "failed", str(answer.get("message") or f"HTTP {code}").splitlines()[0]
    if answer["kept"]:
        return "kept", "; ".join(f"{k['ground']} ({k['article']}): {k['reason']}"
                                 for k in answer["kept_by"])
    return ("applied" if answer["applied"] else "would apply"), "; ".join(answer["done"])


@retention.command("apply")
@click.option("--experiment", "experiments", multiple=True,
              help="Only this experiment (id) and its runs; repeat for more.")
@click.option("--yes", is_flag=True,
              help="Erase what is due; without it, only show what would happen.")
def apply_command(experiments: tuple[str, ...], yes: bool) -> None:
    """Erase runs past their retention (GDPR Art. 5(1)(e)): soft-delete, then purge rows,
    inputs, dataset records, index rows, artifacts and data keys. A run kept by AI Act
    Art. 18 (GDPR Art. 17(3)(b)) or a legal hold (17(3)(e)) is left as it is.

    The server judges each run again from its own record, on its own day. Dry run unless
    --yes. Exit 0 when everything due was applied or lawfully kept, 1 when something
    failed."""
    uri = tracking_uri()
    found = _read(uri, experiments)
    today = date.today()
    runs = [s for s in statuses(found, today, readable_holds())
            if s.kind is Kind.RUN and s.expired and s.personal_data is not False]
    creds = host_creds(uri)
    results: list[tuple[RetentionStatus, str, str]] = []
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), console=err, transient=True,
                  disable=not err.is_terminal) as bar:
        task = bar.add_task("applying" if yes else "asking the server", total=len(runs))
        for s in runs:  # one run per request: a failure stops nothing else
            code, answer = fetch(creds, "POST", PREFIX + "retention/apply",
                                 {"run_id": s.id, "dry_run": not yes})
            if code in (401, 403):
                raise InputError(str(answer.get("message") or f"HTTP {code}").splitlines()[0])
            results.append((s, *_outcome(code, answer)))
            bar.advance(task)
    table = Table("run", "name", "kept until", "days over", "outcome", "what the server says")
    for s, outcome, said in results:
        table.add_row(s.id, s.name, s.kept_until.isoformat(), str(s.days_over), outcome, said)
    Console().print(table)
    counts: dict[str, int] = {}
    for _, outcome, _ in results:
        counts[outcome] = counts.get(outcome, 0) + 1
    summary = ", ".join(f"{v} {k}" for k, v in counts.items()) or "nothing"
    err.print(f"{len(runs)} runs past retention on {today.isoformat()}: {summary}"
              + ("" if yes else "; dry run, nothing changed (--yes to apply)"),
              highlight=False, soft_wrap=True)
    if counts.get("failed"):
        sys.exit(1)
