"""The one convention every benchmark follows.

Each benchmark starts the compliance server and its baselines (plain ``mlflow server``,
MLflow's ``basic-auth`` app) from the same virtual environment, with the same workers
and the same kind of home, prepares them the same way, then measures them in rotating
rounds (a different one starts each round) so that noise on this shared machine hits
all alike. It prints the
median of each side and the ratio compliance / baseline; higher is better for a
throughput. No single absolute time is meant to be quoted.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table

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


def rotate(
    label: str, measures: dict[str, Callable[[], float]], rounds: int
) -> dict[str, list[float]]:
    """Run every measure ``rounds`` times, the starting one rotating each round."""
    names = list(measures)
    samples: dict[str, list[float]] = {n: [] for n in names}
    for i in range(rounds):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            samples[name].append(measures[name]())
        shown = ", ".join(f"{n} {samples[n][-1]:.1f}" for n in names)
        console.log(f"{label} round {i + 1}/{rounds}: {shown}")
    return samples


def report(results: list[Result]) -> bool:
    """Print medians and ratios; True if every ratio meets its goal."""
    table = Table(title="compliance server / baseline (medians)")
    for column in ("benchmark", "compliance", "baseline", "ratio", "goal", "rounds"):
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
