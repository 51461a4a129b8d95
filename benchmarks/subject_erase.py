"""Erasing one person from many datasets, against rewriting the same bytes.

One person is present in ``--datasets`` datasets (default 100) of ``--size`` MB of CSV
each (default 10), each dataset one file in its own folder under its own data key, in
an encrypted local repository (``EncryptedArtifactRepository`` over a temporary folder,
a keyring on a temporary SQLite database and key file, as the tests build them). No
server: the timed work is the erasure's own (subjects/erasure/rewrite.py: read and
decrypt, find and remove the person's rows, encrypt under a new key, replace, shred the
old key), against the baseline of decrypting and re-encrypting every file through the
repository's ordinary write path. The data is written afresh (untimed) before each
round, and the rounds alternate which side goes first. Goal: erase / rewrite <= 1.5.

    python benchmarks/subject_erase.py [--datasets 100] [--size 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import tempfile
import time
from pathlib import Path

import mlflow.store.artifact.artifact_repository_registry  # noqa: F401 - before ours
from rich.console import Console
from rich.table import Table

from mlflow_compliance.encryption.keys.configure import open_keyring
from mlflow_compliance.encryption.repository import EncryptedArtifactRepository
from mlflow_compliance.settings import Settings
from mlflow_compliance.subjects.erasure.plan import Place
from mlflow_compliance.subjects.erasure.rewrite import Rewriter

console = Console(width=120)
GOAL = 1.5
PERSON = "erase-me@example.org"


def dataset(size: int, seed: int) -> bytes:
    """``size`` bytes of CSV (email, customer, amount), the person in three rows."""
    lines = ["email,customer,amount\n"]
    total, row = len(lines[0]), 0
    while total < size:
        email = PERSON if row in (7, 1000 + seed) else f"p{row}-{seed}@example.org"
        line = f"{email},{row},{(row * 37) % 1000 / 10:.1f}\n"
        lines.append(line)
        total += len(line)
        row += 1
    lines.append(f"{PERSON},{row},1.0\n")
    return "".join(lines).encode()


def folders(count: int) -> list[str]:
    return [f"1/run{i:04d}/artifacts/datasets/customers-{i}" for i in range(count)]


def write_all(repo: EncryptedArtifactRepository, data: list[bytes]) -> None:
    for folder, body in zip(folders(len(data)), data, strict=True):
        repo.log_artifact_from_stream(io.BytesIO(body), "rows.csv", folder)


def erase(repo: EncryptedArtifactRepository, count: int) -> float:
    rewriter = Rewriter(repo, repo.keyring, "benchmark")
    start = time.perf_counter()
    places = [Place(f"run{i:04d}", "1", f"customers-{i}", ("d",), ("email",), folder,
                    (f"{folder}/rows.csv",)) for i, folder in enumerate(folders(count))]
    works = []
    for place, key in zip(places, rewriter.reserve(places), strict=True):  # as erase.py
        works.append(rewriter.prepare(place, PERSON, key))
        assert works[-1].rows_removed == 3
    for work in works:
        rewriter.publish(work)
    rewriter.swap(works)  # every old key shredded in one transaction, as erase.py does
    return time.perf_counter() - start


def rewrite(repo: EncryptedArtifactRepository, count: int) -> float:
    start = time.perf_counter()
    for folder in folders(count):
        artifact = repo.open_artifact(f"{folder}/rows.csv")
        try:
            body = b"".join(artifact.chunks())
        finally:
            artifact.close()
        repo.log_artifact_from_stream(io.BytesIO(body), "rows.csv", folder)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, default=100)
    parser.add_argument("--size", type=float, default=10, help="MB per dataset")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.environ.pop("MLFLOW_ARTIFACTS_DESTINATION", None)  # scopes from root-relative paths
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch)
        keyring = open_keyring(Settings(home=home))
        keyring.ensure_current_kek()
        repo = EncryptedArtifactRepository(f"encrypted+{(home / 'artifacts').as_uri()}",
                                           keyring=keyring)
        data = [dataset(int(args.size * 1_000_000), i) for i in range(args.datasets)]
        times: dict[str, list[float]] = {"erase": [], "rewrite": []}
        for round_ in range(args.rounds):
            order = ["erase", "rewrite"] if round_ % 2 == 0 else ["rewrite", "erase"]
            for side in order:
                write_all(repo, data)
                timed = erase if side == "erase" else rewrite
                times[side].append(timed(repo, args.datasets))
        keyring.store.close()
    medians = {side: statistics.median(t) for side, t in times.items()}
    ratio = medians["erase"] / medians["rewrite"]
    table = Table("", "median", "rounds (s)",
                  title=f"one person in {args.datasets} datasets of {args.size:g} MB CSV")
    for side in ("erase", "rewrite"):
        table.add_row(side, f"{medians[side]:.2f} s",
                      ", ".join(f"{t:.2f}" for t in times[side]))
    console.print(table)
    verdict = "goal met" if ratio <= GOAL else "goal NOT met"
    console.print(f"erase / rewrite: [bold]{ratio:.2f}[/bold] ({verdict}: <= {GOAL})")


if __name__ == "__main__":
    main()
