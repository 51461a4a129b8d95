"""Throughput and memory of the encrypted artifact format, against ``openssl speed``.

Throughput: our format (``encrypt_stream``, ``decrypt_stream``, ``decrypt_segments``)
over a plaintext held in memory, one thread, into a sink that discards, against
``openssl speed -evp aes-256-gcm -bytes <segment size>`` (one process, one core).
OpenSSL's one block stays in cache; ours is read from a buffer in RAM, which is the
real cost of reading a file. Each side runs for ``--seconds`` per round and the
rounds alternate which goes first. Goal: ours / openssl >= 0.7.

Memory: the peak RSS of a fresh process streaming a file through encrypt -> file ->
decrypt -> file, 128 MiB against 1 GiB. Goal: flat.

    python benchmarks/cipher_speed.py [--rounds 5] [--seconds 2] [--sweep]

``--sweep`` first compares the candidate segment sizes (how the default was chosen).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from mlflow_compliance.encryption import (
    DEFAULT_SEGMENT_SIZE,
    decrypt_segments,
    decrypt_stream,
    encrypt_stream,
)

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

console = Console(width=120)
KEY = os.urandom(32)
MIB = 1 << 20
GOAL = 0.7


class Sink(io.BytesIO):
    """Discards what it is given, so only the format's own work is timed."""

    def write(self, data: ReadableBuffer, /) -> int:
        return memoryview(data).nbytes


def mb_per_s(work: Callable[[], int], seconds: float) -> float:
    """Repeat ``work`` (which returns the plaintext bytes it did) for ``seconds``; MB/s."""
    done, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        done += work()
    return done / elapsed / 1e6


def ours(operation: str, plaintext: bytes, segment_size: int, seconds: float) -> float:
    """MB/s of plaintext through one of our operations, from and to memory."""
    if operation == "encrypt":

        def encrypt() -> int:
            encrypt_stream(io.BytesIO(plaintext), Sink(), KEY, "bench", segment_size)
            return len(plaintext)

        return mb_per_s(encrypt, seconds)
    out = io.BytesIO()
    encrypt_stream(io.BytesIO(plaintext), out, KEY, "bench", segment_size)
    ciphertext = out.getvalue()
    if operation == "decrypt_stream":
        return mb_per_s(lambda: decrypt_stream(io.BytesIO(ciphertext), Sink(), KEY), seconds)
    return mb_per_s(lambda: sum(map(len, decrypt_segments(io.BytesIO(ciphertext), KEY))), seconds)


def openssl(operation: str, block: int, seconds: float) -> float:
    """MB/s of ``openssl speed`` on blocks of ``block`` bytes (its -mr output is bytes/s)."""
    command = ["openssl", "speed", "-mr", "-evp", "aes-256-gcm", "-bytes", str(block)]
    command += ["-seconds", str(max(1, round(seconds)))]
    command += ["-decrypt"] if operation == "decrypt" else []
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return float(next(x for x in output.splitlines() if x.startswith("+F:")).split(":")[-1]) / 1e6


def alternate(measures: dict[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    """Run every measure once per round, in reverse order every other round."""
    samples: dict[str, list[float]] = {name: [] for name in measures}
    for i in range(rounds):
        for name in list(measures)[:: 1 if i % 2 == 0 else -1]:
            samples[name].append(measures[name]())
        shown = ", ".join(f"{name} {values[-1]:.0f}" for name, values in samples.items())
        console.log(f"round {i + 1}/{rounds} (MB/s): {shown}")
    return samples


def sweep(plaintext: bytes, rounds: int, seconds: float) -> None:
    sizes = [64 << 10, 256 << 10, MIB, 4 * MIB]
    measures: dict[str, Callable[[], float]] = {
        f"{op} {size // 1024} KiB": partial(ours, op, plaintext, size, seconds)
        for op in ("encrypt", "decrypt_stream")
        for size in sizes
    }
    samples = alternate(measures, rounds)
    table = Table(title=f"segment size candidates (MB/s, medians of {rounds} rounds)")
    for column in ("segment size", "encrypt", "decrypt_stream"):
        table.add_column(column)
    for size in sizes:
        medians = [statistics.median(samples[f"{op} {size // 1024} KiB"]) for op in
                   ("encrypt", "decrypt_stream")]  # fmt: skip
        table.add_row(f"{size // 1024} KiB", *(f"{m:.0f}" for m in medians))
    console.print(table)


def throughput(plaintext: bytes, rounds: int, seconds: float) -> None:
    size = DEFAULT_SEGMENT_SIZE
    pairs = {"encrypt": "encrypt", "decrypt_stream": "decrypt", "decrypt_segments": "decrypt"}
    measures: dict[str, Callable[[], float]] = {}
    for operation, theirs in pairs.items():
        measures[f"ours {operation}"] = partial(ours, operation, plaintext, size, seconds)
        measures[f"openssl {theirs}"] = partial(openssl, theirs, size, seconds)
    samples = alternate(measures, rounds)
    table = Table(
        title=f"ours / openssl speed -evp aes-256-gcm -bytes {size}, one core "
        f"({size // 1024} KiB segments, medians of {rounds} rounds)"
    )
    for column in ("operation", "ours MB/s", "openssl MB/s", "ours / openssl", "goal"):
        table.add_column(column)
    for operation, theirs in pairs.items():
        mine = statistics.median(samples[f"ours {operation}"])
        base = statistics.median(samples[f"openssl {theirs}"])
        colour = "green" if mine / base >= GOAL else "red"
        ratio = f"[{colour}]{mine / base:.2f}[/]"
        table.add_row(operation, f"{mine:.0f}", f"{base:.0f}", ratio, f">= {GOAL}")
    console.print(table)


def peak_rss_kib() -> int:
    """This process's peak RSS (VmHWM: ru_maxrss would include the parent's, kept over exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def stream_files(folder: Path) -> dict[str, int]:
    """Run in a fresh process: plain -> enc -> dec, through files."""
    before = peak_rss_kib()
    with open(folder / "plain", "rb") as src, open(folder / "enc", "wb") as dst:
        encrypt_stream(src, dst, KEY, "bench")
    with open(folder / "enc", "rb") as src, open(folder / "dec", "wb") as dst:
        decrypt_stream(src, dst, KEY)
    return {"before_kib": before, "peak_kib": peak_rss_kib()}


def sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def memory(sizes: list[int]) -> None:
    table = Table(title="peak RSS of a fresh process streaming a file: encrypt, then decrypt")
    for column in ("file size", "peak RSS before streaming", "peak RSS after", "growth"):
        table.add_column(column)
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            folder, block = Path(tmp), os.urandom(MIB)
            with open(folder / "plain", "wb") as f:
                for _ in range(size // MIB):
                    f.write(block)
            command = [sys.executable, __file__, "--stream-files", tmp]
            done = subprocess.run(command, capture_output=True, check=True)
            rss = json.loads(done.stdout)
            assert sha256(folder / "plain") == sha256(folder / "dec"), "round trip differs"
        before, peak = rss["before_kib"] / 1024, rss["peak_kib"] / 1024
        row = [f"{size // MIB} MiB", f"{before:.1f} MiB", f"{peak:.1f} MiB"]
        table.add_row(*row, f"{peak - before:.1f} MiB")
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=2.0, help="per side and round")
    parser.add_argument("--mib", type=int, default=256, help="size of the in-memory plaintext")
    parser.add_argument("--sweep", action="store_true", help="first compare segment sizes")
    parser.add_argument("--stream-files", help=argparse.SUPPRESS)  # the memory child
    args = parser.parse_args(argv)
    if args.stream_files:
        print(json.dumps(stream_files(Path(args.stream_files))))
        return 0
    plaintext = os.urandom(args.mib * MIB)
    if args.sweep:
        sweep(plaintext, args.rounds, args.seconds)
    throughput(plaintext, args.rounds, args.seconds)
    del plaintext
    memory([128 * MIB, 1024 * MIB])
    return 0


if __name__ == "__main__":
    sys.exit(main())
