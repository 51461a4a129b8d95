"""Finding one person among 10,000,000 indexed ids of 1,000 datasets (issue 15; goal:
median ``SubjectIndex.find`` under 100 ms).

The index is built in SQLite with the product's own table (``SubjectIndex.connect``) and
filled directly through the driver (bulk, sorted; how it is filled is not measured):
``--datasets`` places, each with ``--ids / --datasets`` pseudonyms drawn from a
population of ``--ids / 10`` people, so a person is in about ten datasets. Then
``--lookups`` random people, half of them indexed and half not, are looked up with
``SubjectIndex.find``, one at a time, as the ``subjects/find`` route does.

    python -m benchmarks.subject_find [--ids 10000000] [--datasets 1000] [--lookups 200]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from rich.console import Console

from mlflow_compliance.subjects.index import SubjectIndex, subject_index

console = Console(width=120)
GOAL_MS = 100.0
CHUNK = 200_000


def fill(index: SubjectIndex, ids: int, datasets: int, rng: random.Random) -> list[bytes]:
    """``ids`` rows over ``datasets`` places; the population's pseudonyms."""
    population = [rng.randbytes(32) for _ in range(max(1, ids // 10))]
    per_dataset = max(1, ids // datasets)
    columns = [c.name for c in subject_index.c]
    sql = (f"INSERT OR IGNORE INTO {subject_index.name} ({', '.join(columns)}) "
           f"VALUES ({', '.join('?' * len(columns))})")
    with index.engine.begin() as c:
        c.exec_driver_sql("PRAGMA cache_size = -1000000")  # 1 GB: the build, not the finds
        for d in range(datasets):
            place = {"run_id": f"{d:032x}", "dataset_name": f"dataset-{d}",
                     "dataset_digest": f"{d:016x}", "id_column": "email",
                     "experiment_id": str(1 + d % 20)}
            chosen = sorted(set(rng.choices(population, k=per_dataset)))
            rows = [tuple({**place, "pseudonym": p}[name] for name in columns)
                    for p in chosen]
            c.exec_driver_sql(sql, rows)
            if d % 100 == 99:
                console.log(f"filled {d + 1} of {datasets} datasets")
    return population


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", type=int, default=10_000_000)
    parser.add_argument("--datasets", type=int, default=1000)
    parser.add_argument("--lookups", type=int, default=200)
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "index.db"
        index = SubjectIndex.connect(f"sqlite:///{path}")
        try:
            start = time.perf_counter()
            population = fill(index, args.ids, args.datasets, rng)
            with index.engine.connect() as c:
                rows = c.execute(sa.select(sa.func.count()).select_from(subject_index))\
                    .scalar_one()
            console.log(f"{rows:,} rows in {args.datasets:,} datasets, "
                        f"{os.path.getsize(path) / 1e9:.2f} GB, built in "
                        f"{time.perf_counter() - start:.0f} s")
            index.close()
            index = SubjectIndex.connect(f"sqlite:///{path}")  # a fresh pool, default cache
            people = [rng.choice(population) if i % 2 == 0 else rng.randbytes(32)
                      for i in range(args.lookups)]
            timings = []
            found = 0
            for person in people:
                began = time.perf_counter()
                places = index.find(person)
                timings.append((time.perf_counter() - began) * 1000)
                found += bool(places)
        finally:
            index.close()
    timings.sort()
    median = statistics.median(timings)
    console.print(f"SubjectIndex.find over {rows:,} rows, {args.lookups} lookups "
                  f"({found} found): median {median:.2f} ms, p95 "
                  f"{timings[int(len(timings) * 0.95) - 1]:.2f} ms, max {timings[-1]:.2f} ms "
                  f"(goal: median < {GOAL_MS:.0f} ms)")


if __name__ == "__main__":
    main()
