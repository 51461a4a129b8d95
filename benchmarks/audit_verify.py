"""How long ``audit verify`` takes on a log of 1,000,000 entries (goal: <= 3 s here).

Builds the log through the real append path (chained, signed, committed in batches),
then times the whole verification (chain, signatures, head kept outside) in several
rounds and prints the median, with SHA-256 over the same canonical bytes in one Python
loop as the yardstick for what hashing alone costs.

    python -m benchmarks.audit_verify [--entries 1000000] [--rounds 3] [--database-url URL]
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import tempfile
import time
import uuid
from itertools import islice
from pathlib import Path

from rich.progress import Progress

from benchmarks.runner import console
from mlflow_compliance.audit.entry import Entry, now_us
from mlflow_compliance.audit.log import AuditLog
from mlflow_compliance.audit.signing import Signer, Verifier, read_head_file
from mlflow_compliance.audit.verify import verify

BATCH = 10_000


def entry(i: int) -> Entry:
    return Entry(
        time_us=now_us(), request_id=uuid.uuid4().hex, principal=f"user-{i % 50}",
        auth_method="basic", client="127.0.0.1", method="POST",
        route="/api/2.0/mlflow/runs/log-batch", action="run.batch.log",
        resources=Entry.resources_json({"run_id": uuid.uuid4().hex}), status=200,
        bytes_in=1200 + i % 300, bytes_out=2, duration_us=4000 + i % 1000,
    )


def build(log: AuditLog, count: int) -> None:
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("building the log", total=count)
        for start in range(0, count, BATCH):
            log.append([entry(i) for i in range(start, min(start + BATCH, count))])
            bar.update(task, completed=min(start + BATCH, count))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", help="PostgreSQL database to build the log in")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mlflow-compliance-bench-") as tmp:
        home = Path(tmp)
        url = args.database_url or f"sqlite:///{home / 'audit.db'}"
        log = AuditLog(url, home, Signer.load_or_create(home))
        log.create()
        started = time.perf_counter()
        build(log, args.entries)
        console.log(f"built {args.entries} entries in {time.perf_counter() - started:.1f} s")
        verifier, outside = Verifier.load(home), read_head_file(home)
        sample = [e.canonical().encode() for e in islice(log.entries(), 200_000)]
        times, hashing = [], []
        for i in range(args.rounds):
            started = time.perf_counter()
            result = verify(log, verifier, outside)
            times.append(time.perf_counter() - started)
            assert result.intact and result.entries == args.entries, result
            started = time.perf_counter()
            previous = b"\0" * 32
            for data in sample:
                previous = hashlib.sha256(previous + data).digest()
            hashing.append((time.perf_counter() - started) * args.entries / len(sample))
            console.log(f"round {i + 1}: verify {times[-1]:.2f} s, "
                        f"hashing alone (one core) {hashing[-1]:.2f} s")
        log.close()
    median = statistics.median(times)
    console.print(
        f"verify {args.entries} entries ({'PostgreSQL' if args.database_url else 'SQLite'}): "
        f"median {median:.2f} s over {args.rounds} rounds (goal <= 3 s: "
        f"{'met' if median <= 3 else 'NOT met'}); SHA-256 chain alone on one core: "
        f"{statistics.median(hashing):.2f} s; ratio verify / hashing alone "
        f"{median / statistics.median(hashing):.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
