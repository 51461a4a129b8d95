"""``mlflow-compliance runs purge``: the targeted hard delete of soft-deleted runs.

Everything MLflow and this product keep about each run named, and nothing of any other
run (GDPR Art. 17(1); retention/purge.py says what goes and what stays). Unlike ``mlflow
gc --run-ids``, other soft-deleted runs are left alone. Dry run unless ``--yes``; admins
only. Exit codes: 0 every run purged (or, dry run, purgeable), 1 a run was refused or
failed, 2 bad usage or an unreachable server.
"""

from __future__ import annotations

import sys
from typing import Any

import click
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

from mlflow_compliance.cli.errors import InputError
from mlflow_compliance.cli.remote import PREFIX, fetch, host_creds, tracking_uri

err = Console(stderr=True)


@click.group()
def runs() -> None:
    """Runs: the targeted hard delete (GDPR Art. 17)."""


def _what(answer: dict[str, Any]) -> str:
    rows = ", ".join(f"{k} {v}" for k, v in answer["rows"].items() if v) or "no rows"
    left = "; ".join(f"left: {k} {', '.join(v)}" for k, v in answer["left"].items())
    folder = answer["artifact_folder"] or "no artifact folder below the server's root"
    return "; ".join(x for x in (rows, f"artifacts {folder}",
                                 f"{len(answer['keys_shredded'])} data keys", left) if x)


@runs.command("purge")
@click.argument("run_ids", metavar="RUN_ID...", nargs=-1, required=True)
@click.option("--yes", is_flag=True, help="Purge; without it, only show what would go.")
def purge(run_ids: tuple[str, ...], yes: bool) -> None:
    """Hard-delete the soft-deleted runs RUN_ID...: metrics, params, tags, inputs and their
    tags, dataset records no other run uses, data-subject index rows, the run row, the
    artifact folder, and the data keys (shredded). An active run is refused."""
    creds = host_creds(tracking_uri())
    results: list[tuple[str, str, str]] = []
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), console=err, transient=True,
                  disable=not err.is_terminal) as bar:
        task = bar.add_task("purging" if yes else "asking the server", total=len(run_ids))
        for run_id in run_ids:
            code, answer = fetch(creds, "POST", PREFIX + "runs/purge",
                                 {"run_id": run_id, "dry_run": not yes})
            if code in (401, 403):
                raise InputError(str(answer.get("message") or f"HTTP {code}").splitlines()[0])
            if code == 200:
                results.append((run_id, "purged" if yes else "would purge", _what(answer)))
            else:
                message = str(answer.get("message") or f"HTTP {code}").splitlines()[0]
                results.append((run_id, "refused" if code < 500 else "failed", message))
            bar.advance(task)
    table = Table("run", "outcome", "what")
    for row in results:
        table.add_row(*row)
    Console().print(table)
    bad = [r for r in results if r[1] in ("refused", "failed")]
    err.print(f"{len(results) - len(bad)} of {len(results)} runs "
              f"{'purged' if yes else 'purgeable'}"
              + ("" if yes else "; dry run, nothing changed (--yes to purge)"),
              highlight=False, soft_wrap=True)
    if bad:
        sys.exit(1)
