"""``mlflow-compliance subjects``: the data-subject index (GDPR Art. 4(5), 15).

``subjects index`` streams one column of a CSV file to the server in batches; the server
keeps only keyed hashes of the ids. ``subjects find`` says where one person appears and
what was made from those runs. Both need an admin or the privacy role (the index is
personal data). The id looked for is never printed or logged: output says "the
subject". Exit codes: 0 done (found or not), 2 bad usage, an unreadable file, a
refusal or an unreachable server.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from mlflow_compliance.cli.errors import InputError
from mlflow_compliance.cli.remote import call
from mlflow_compliance.cli.subject_erasure import certificate, erase
from mlflow_compliance.cli.subject_report import report
from mlflow_compliance.cli.subject_requests import requests_group
from mlflow_compliance.subjects.reading import ReadError, batches, ids_from_csv

BATCH = 10_000
err = Console(stderr=True)


@click.group()
def subjects() -> None:
    """The data-subject index: where a person's data is (GDPR Art. 15, 17)."""


@subjects.command("index")
@click.option("--run", "run_id", required=True, help="The run whose dataset holds the ids.")
@click.option("--dataset", required=True, help="The dataset's name, as the run's input names it.")
@click.option("--digest", help="The dataset's digest, if the run has several of that name.")
@click.option("--file", "path", required=True,
              type=click.Path(exists=True, dir_okay=False, readable=True),
              help="A CSV file with a header row.")
@click.option("--id-column", required=True, help="The file's column of subject ids.")
@click.option("--dataset-column",
              help="The dataset's column these ids are, as its record's "
              "compliance.dataset.subject_id_columns names it [default: --id-column].")
def index(run_id: str, dataset: str, digest: str | None, path: str, id_column: str,
          dataset_column: str | None) -> None:
    """Index the subject ids of a CSV file as occurring in a run's dataset."""
    place: dict[str, Any] = {"run_id": run_id, "dataset_name": dataset,
                             "column": dataset_column or id_column}
    if digest:
        place["dataset_digest"] = digest
    total = 0
    with open(path, newline="", encoding="utf-8-sig") as stream, Progress(
        TextColumn("indexing"), BarColumn(), DownloadColumn(), TimeElapsedColumn(),
        TextColumn("{task.fields[ids]} ids"), console=err, transient=True,
        disable=not err.is_terminal,
    ) as bar:
        try:
            ids = ids_from_csv(stream, id_column)  # the header: the column is there
            # The server checks the run and the record before the rest is read.
            checked = call("POST", "subjects/index", {**place, "ids": []})
            place["dataset_digest"] = checked.get("dataset_digest", digest)
            task = bar.add_task("indexing", total=os.path.getsize(path), ids=0)
            raw: Any = stream.buffer  # its position: how far the file is read
            for batch in batches(ids, BATCH):
                call("POST", "subjects/index", {**place, "ids": batch})
                total += len(batch)
                bar.update(task, completed=raw.tell(), ids=total)
        except ReadError as e:
            raise InputError(str(e)) from None
        except (UnicodeDecodeError, csv.Error) as e:
            # the reason's type only: its text may quote the cell, an id
            raise InputError(f"--file: {path} cannot be read as UTF-8 CSV "
                             f"({type(e).__name__})") from None
    click.echo(f"indexed {total} ids of {path} as {place['column']} of dataset {dataset} "
               f"({place['dataset_digest']}) in run {run_id}")


def _read_subject(subject_id: str) -> str:
    if subject_id == "-":  # from standard input: stays out of the shell history
        subject_id = sys.stdin.readline()
    if not subject_id.strip():
        raise InputError("ID: empty; give the subject id, or - to read it from standard input")
    return subject_id


def _downstream(occurrences: list[dict[str, Any]]) -> dict[str, dict[str, list[str]]]:
    """Per run: the logged models, model versions and aliases made from it, as the
    caller may read them (the lineage package; one read per experiment)."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from mlflow_compliance.cli.remote import tracking_uri
    from mlflow_compliance.lineage.walk import read

    client = MlflowClient(tracking_uri=tracking_uri())
    follows: dict[str, dict[str, list[str]]] = {}
    for experiment in sorted({o["experiment_id"] for o in occurrences}):
        try:
            graph = read(client, (experiment,))
        except MlflowException as e:
            raise InputError(f"lineage: {e.message.splitlines()[0]}") from None
        for o in occurrences:
            if o["experiment_id"] != experiment or o["run_id"] in follows:
                continue
            reached = sorted(graph.downstream(("run", o["run_id"])))
            follows[o["run_id"]] = {
                kind: [key for k, key in reached if k == kind]
                for kind in ("logged_model", "model_version", "alias")
            }
    return follows


@subjects.command("find")
@click.argument("subject_id", metavar="ID")
@click.option("--format", "form", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="json: the places and what follows from them.")
@click.option("--no-lineage", is_flag=True, help="Only the places, not what was made from them.")
def find(subject_id: str, form: str, no_lineage: bool) -> None:
    """Where a data subject appears, and what follows from it (GDPR Art. 15(1)).

    ID is the person's id as it is in the data; - reads it from standard input.
    """
    answer = call("POST", "subjects/find", {"subject_id": _read_subject(subject_id)})
    occurrences: list[dict[str, Any]] = answer.get("occurrences") or []
    follows = {} if no_lineage or not occurrences else _downstream(occurrences)
    for o in occurrences:
        o["downstream"] = follows.get(o["run_id"], {})
    if form == "json":
        click.echo(json.dumps({"occurrences": occurrences}, indent=2))
        return
    if not occurrences:
        click.echo("the subject appears in no indexed dataset")
        return
    table = Table("run", "experiment", "dataset", "digest", "column", "logged models",
                  "model versions", "aliases", title="Where the subject appears")
    for o in occurrences:
        down = o["downstream"]
        table.add_row(o["run_id"], o["experiment_id"], o["dataset_name"], o["dataset_digest"],
                      o["column"], *("\n".join(down.get(k, [])) or "-"
                                     for k in ("logged_model", "model_version", "alias")))
    Console().print(table)


subjects.add_command(requests_group)
subjects.add_command(report)
subjects.add_command(erase)
subjects.add_command(certificate)
