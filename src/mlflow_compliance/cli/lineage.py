"""``mlflow-compliance lineage``: where an object came from and what was made from it.

One object: a run, a dataset (``NAME`` or ``NAME@DIGEST``), a model version
(``NAME/VERSION``) or a logged model. The server and the caller come from MLflow's own
variables, so the lineage holds only what the caller may read. Exit codes: 0 shown, 2
bad usage, an unreachable server, or an object that is not there (or not the caller's
to read: the two are not told apart).
"""

from __future__ import annotations

import re
import sys
from typing import IO

import click
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from mlflow_compliance.cli.errors import InputError
from mlflow_compliance.cli.remote import fetch, host_creds, tracking_uri
from mlflow_compliance.lineage.render import tables, to_dot, to_json, to_mermaid
from mlflow_compliance.lineage.walk import NotFound, Start, start_keys
from mlflow_compliance.lineage.walk import lineage as walk

OBJECTS = "--run, --dataset, --model or --logged-model"
_VERSION = re.compile(r"^(?P<name>.+)/(?P<version>\d+)$")
err = Console(stderr=True)


def _start(run: str | None, dataset: str | None, model: str | None,
           logged_model: str | None) -> Start:
    given = [(kind, value) for kind, value in (
        ("run", run), ("dataset", dataset), ("model_version", model),
        ("logged_model", logged_model)) if value is not None]
    if len(given) != 1:
        raise InputError(f"give exactly one of {OBJECTS}")
    kind, value = given[0]
    if not value.strip():
        raise InputError(f"{_option(kind)}: empty")
    if kind == "model_version" and not _VERSION.match(value):
        raise InputError(f"--model: {value!r} is not NAME/VERSION")
    return Start(kind, value)  # type: ignore[arg-type]


def _option(kind: str) -> str:
    return {"run": "--run", "dataset": "--dataset", "model_version": "--model",
            "logged_model": "--logged-model"}[kind]


def _reachable(uri: str) -> None:
    """Fail fast, in one line, on a server that is not there or refuses the caller."""
    status, _ = fetch(host_creds(uri), "GET", "/api/2.0/mlflow/experiments/search",
                      {"max_results": 1})
    if status in (401, 403):
        raise InputError(f"credentials: {uri} answered {status}; set "
                         "MLFLOW_TRACKING_USERNAME/PASSWORD or MLFLOW_TRACKING_TOKEN")


@click.command()
@click.option("--run", help="A run id.")
@click.option("--dataset", help="A dataset, NAME or NAME@DIGEST (as the run's inputs name it).")
@click.option("--model", help="A model version, NAME/VERSION.")
@click.option("--logged-model", "logged_model", help="A logged model id (m-...).")
@click.option("--experiment", "experiments", multiple=True,
              help="Look for related runs only in this experiment (id); repeat for more "
              "[default: every experiment you may read].")
@click.option("--format", "form", type=click.Choice(["table", "json", "mermaid", "dot"]),
              default="table", show_default=True)
@click.option("--output", "-o", type=click.File("w"), default="-",
              help="File to write [default: standard output].")
def lineage(run: str | None, dataset: str | None, model: str | None,
            logged_model: str | None, experiments: tuple[str, ...], form: str,
            output: IO[str]) -> None:
    """Show where a run, dataset, logged model or model version came from and what was
    made from it: datasets, runs, logged models, model versions and their aliases."""
    start = _start(run, dataset, model, logged_model)
    uri = tracking_uri()
    _reachable(uri)
    client = MlflowClient(tracking_uri=uri)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=err, transient=True, disable=not err.is_terminal) as bar:
        counts: dict[str, int] = {}
        task = bar.add_task("reading", total=None)

        def read(what: str, n: int) -> None:
            counts[what] = counts.get(what, 0) + n
            bar.update(task, description="reading: " + ", ".join(
                f"{v} {k}" for k, v in counts.items()))

        try:
            graph = walk(client, start, experiments, read)
        except NotFound as e:
            raise InputError(str(e)) from None
        except MlflowException as e:
            raise InputError(f"{uri}: {e.message.splitlines()[0]}") from None
        except OSError as e:
            raise InputError(f"MLFLOW_TRACKING_URI: cannot reach {uri} "
                             f"({type(e).__name__})") from None
    keys = start_keys(graph, start)
    if form == "json":
        output.write(to_json(graph, keys) + "\n")
    elif form == "mermaid":
        output.write(to_mermaid(graph))
    elif form == "dot":
        output.write(to_dot(graph))
    else:
        console = Console(file=output) if output is not sys.stdout else Console()
        for shown in tables(graph):
            console.print(shown)

