"""The one convention every benchmark follows.

Each benchmark starts the compliance server and its baseline (plain ``mlflow server``)
from the same virtual environment, with the same workers and the same kind of home,
prepares both the same way, then measures them in alternating rounds (the order flips
every round) so that noise on this shared machine hits both alike. It prints the
median of each side and the ratio compliance / baseline; higher is better for a
throughput. No single absolute time is meant to be quoted.
"""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from mlflow_compliance.testing import (
    Server,
    start_compliance_server,
    start_plain_mlflow_server,
)

console = Console(width=120)


@dataclass
class Result:
    name: str
    unit: str
    compliance: list[float] = field(default_factory=list)
    baseline: list[float] = field(default_factory=list)
    goal: float | None = None

    @property
    def ratio(self) -> float:
        return statistics.median(self.compliance) / statistics.median(self.baseline)


@contextmanager
def server_pair(workers: int) -> Iterator[tuple[Server, Server]]:
    """The compliance server and plain MLflow, each on a fresh home."""
    with tempfile.TemporaryDirectory(prefix="mlflow-compliance-bench-") as tmp:
        # Job execution (GenAI background jobs) is off for both: it is not what we measure.
        env = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        ours = start_compliance_server(Path(tmp) / "compliance", workers=workers, env=env)
        try:
            plain = start_plain_mlflow_server(Path(tmp) / "plain", workers=workers, env=env)
        except BaseException:
            ours.stop()
            raise
        try:
            yield ours, plain
        finally:
            ours.stop()
            plain.stop()


def alternate(
    result: Result,
    ours: Server,
    plain: Server,
    measure: Callable[[Server], float],
    rounds: int,
) -> Result:
    """Measure both servers ``rounds`` times each, flipping the order every round."""
    for i in range(rounds):
        order = [(ours, result.compliance), (plain, result.baseline)]
        for server, samples in order if i % 2 == 0 else reversed(order):
            samples.append(measure(server))
        console.log(
            f"{result.name} round {i + 1}/{rounds}: compliance {result.compliance[-1]:.1f}, "
            f"plain {result.baseline[-1]:.1f} {result.unit}"
        )
    return result


def report(results: list[Result]) -> bool:
    """Print medians and ratios; True if every ratio meets its goal."""
    table = Table(title="compliance server / plain mlflow server (medians)")
    for column in ("benchmark", "compliance", "plain", "ratio", "goal", "rounds"):
        table.add_column(column)
    met = True
    for r in results:
        ok = r.goal is None or r.ratio >= r.goal
        met &= ok
        table.add_row(
            r.name,
            f"{statistics.median(r.compliance):.1f} {r.unit}",
            f"{statistics.median(r.baseline):.1f} {r.unit}",
            f"[{'green' if ok else 'red'}]{r.ratio:.3f}[/]",
            f">= {r.goal}" if r.goal is not None else "",
            str(len(r.compliance)),
        )
    console.print(table)
    return met
