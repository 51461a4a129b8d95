"""Indexing 1,000,000 subject ids of a CSV file, against reading the file and a plain
``hmac`` loop (issue 15; goal: indexing within 2x of reading the file).

Three measures, in rotating rounds, in one process:

- (a) reading: the file's id column with ``csv.reader``, into a list;
- (b) hmac: ``hmac.new(key, id, sha256).digest()`` over the ids already in memory;
- (c) indexing: what the server does with a logged dataset's file: ``reading.ids_from_csv``,
  ``Pseudonymiser.pseudonym`` (normalise + HMAC) and ``SubjectIndex.add`` of the whole
  stream (sorted transactions of up to 1,000,000) into a fresh SQLite index.

Prints the medians and the ratios (c)/(a) and (c)/(b); lower is better. HTTP is left
out: it is the CLI's transport, not the indexing.

    python -m benchmarks.subject_index [--ids 1000000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import hmac
import os
import statistics
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchmarks.runner import rotate
from mlflow_compliance.subjects.index import Place, SubjectIndex
from mlflow_compliance.subjects.pseudonym import Pseudonymiser
from mlflow_compliance.subjects.reading import ids_from_csv

console = Console(width=120)
KEY = os.urandom(32)
GOAL = 2.0


def write_csv(path: Path, ids: int) -> None:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["customer", "email", "age"])
        writer.writerows((i, f"person-{i:07d}@example.org", 18 + i % 70) for i in range(ids))


def reading(path: Path) -> float:
    start = time.perf_counter()
    with path.open(newline="", encoding="utf-8") as f:
        rows = csv.reader(f)
        next(rows)
        ids = [row[1] for row in rows]
    elapsed = time.perf_counter() - start
    assert ids
    return elapsed


def plain_hmac(ids: list[str]) -> float:
    start = time.perf_counter()
    digests = [hmac.new(KEY, i.encode(), hashlib.sha256).digest() for i in ids]
    elapsed = time.perf_counter() - start
    assert len(digests) == len(ids)
    return elapsed


def indexing(path: Path, folder: Path, round_no: list[int]) -> float:
    round_no[0] += 1
    index = SubjectIndex.connect(f"sqlite:///{folder / f'index-{round_no[0]}.db'}")
    place = Place("0" * 32, "1", "customers", "d" * 16, "email")
    hasher = Pseudonymiser(KEY)
    try:
        start = time.perf_counter()
        with path.open(newline="", encoding="utf-8-sig") as f:
            index.add(place, (hasher.pseudonym(i) for i in ids_from_csv(f, "email")))
        elapsed = time.perf_counter() - start
    finally:
        index.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        path = folder / "customers.csv"
        write_csv(path, args.ids)
        with path.open(newline="") as f:
            ids = [row[1] for row in list(csv.reader(f))[1:]]
        console.log(f"{args.ids:,} ids, {path.stat().st_size / 1e6:.1f} MB")
        counter = [0]
        samples = rotate("subject index", {
            "reading": lambda: reading(path),
            "hmac": lambda: plain_hmac(ids),
            "indexing": lambda: indexing(path, folder, counter),
        }, args.rounds)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    table = Table(title=f"indexing {args.ids:,} subject ids (medians of {args.rounds} rounds)")
    for column in ("measure", "seconds", "ids/s"):
        table.add_column(column)
    for name, seconds in medians.items():
        table.add_row(name, f"{seconds:.2f}", f"{args.ids / seconds:,.0f}")
    console.print(table)
    versus_reading = medians["indexing"] / medians["reading"]
    console.print(f"indexing / reading: {versus_reading:.2f} (goal <= {GOAL})")
    console.print(f"indexing / hmac:    {medians['indexing'] / medians['hmac']:.2f}")


if __name__ == "__main__":
    main()
