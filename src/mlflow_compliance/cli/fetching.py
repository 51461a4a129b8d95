"""Reading many pages from the server with the MLflow client, as ``check``, ``retention``
and ``report processing-register`` do: a spinner counting what arrived (on a terminal
only), and a failure of MLflow or of the connection as one line naming the server."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from mlflow.exceptions import MlflowException
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from mlflow_compliance.cli.errors import InputError

Fetched = Callable[[str, int], None]
"""Told ``(what, how many)`` as each page arrives."""


@contextlib.contextmanager
def fetching(uri: str) -> Iterator[Fetched]:
    err = Console(stderr=True)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=err, transient=True, disable=not err.is_terminal) as bar:
        counts: dict[str, int] = {}
        task = bar.add_task("fetching", total=None)

        def fetched(what: str, n: int) -> None:
            counts[what] = counts.get(what, 0) + n
            shown = ", ".join(f"{v} {k}" for k, v in counts.items())
            bar.update(task, description=f"fetching: {shown}")

        try:
            yield fetched
        except MlflowException as e:
            raise InputError(f"{uri}: {e.message.splitlines()[0]}") from None
        except OSError as e:  # the connection, below MLflow's client
            raise InputError(f"MLFLOW_TRACKING_URI: cannot reach {uri} ({type(e).__name__})") \
                from None
