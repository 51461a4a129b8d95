"""Artifact upload and download through the compliance server (encryption and access
logging on, the defaults) against plain ``mlflow server``, in alternating rounds.

Each round PUTs one file of ``--size-mib`` MiB to ``mlflow-artifacts`` (what the MLflow
client does for ``log_artifact``) and GETs it back, streaming both ways. Goal: >= 0.9
of plain, both ways. ``--memory`` also streams a 64 MiB and a 1 GiB file through the
compliance server and prints the peak resident memory of its processes after each:
flat means independent of the artifact's size.

    python -m benchmarks.artifact_transfer [--rounds 7] [--size-mib 256] [--memory]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from benchmarks.runner import Result, console, report, rotate
from mlflow_compliance.testing import Server, start_compliance_server, start_plain_mlflow_server

CHUNK = 1 << 20


def make_file(path: Path, mib: int) -> Path:
    block = os.urandom(CHUNK)
    with path.open("wb") as f:
        for _ in range(mib):
            f.write(block)
    return path


def new_run(server: Server) -> tuple[str, str]:
    """(experiment id, run id) of a fresh run on ``server``."""
    r = requests.post(
        f"{server.url}/api/2.0/mlflow/runs/create",
        json={"experiment_id": "0", "start_time": int(time.time() * 1000)},
        auth=server.auth, timeout=60,
    )
    r.raise_for_status()
    info = r.json()["run"]["info"]
    return info["experiment_id"], info["run_id"]


class Transfers:
    """Upload and download of one file to one server, in MB/s."""

    def __init__(self, server: Server, source: Path) -> None:
        self.server, self.source = server, source
        experiment, run = new_run(server)
        artifacts = f"{experiment}/{run}/artifacts"
        self.prefix = f"{server.url}/api/2.0/mlflow-artifacts/artifacts/{artifacts}"
        self.count = 0
        self.session = requests.Session()
        self.session.auth = server.auth  # type: ignore[assignment]

    def upload(self) -> float:
        self.count += 1
        start = time.perf_counter()
        with self.source.open("rb") as body:
            r = self.session.put(f"{self.prefix}/file-{self.count}.bin", data=body, timeout=600)
        elapsed = time.perf_counter() - start
        if r.status_code != 200:
            raise RuntimeError(f"upload: {r.status_code} {r.text[:300]}")
        return self.source.stat().st_size / elapsed / 1e6

    def download(self) -> float:
        start = time.perf_counter()
        received = 0
        with self.session.get(f"{self.prefix}/file-{self.count}.bin", stream=True,
                              timeout=600) as r:
            if r.status_code != 200:
                raise RuntimeError(f"download: {r.status_code} {r.text[:300]}")
            for chunk in r.iter_content(CHUNK):
                received += len(chunk)
        elapsed = time.perf_counter() - start
        if received != self.source.stat().st_size:
            raise RuntimeError(f"download: {received} bytes, not {self.source.stat().st_size}")
        return received / elapsed / 1e6


def peak_rss_mib(server: Server) -> float:
    """The largest peak resident set (VmHWM) among the server's processes, in MiB."""
    pids = [server.process.pid]
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) in pids:
                pids.append(int(pid))
    peak = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except OSError:
            continue
    return peak / 1024


def memory(tmp: Path, env: dict[str, str]) -> None:
    """Peak server memory after streaming 64 MiB, then after 1 GiB, each way."""
    for mib in (64, 1024):
        server = start_compliance_server(tmp / f"memory-{mib}", 1, env=env)
        try:
            transfers = Transfers(server, make_file(tmp / f"memory-{mib}.bin", mib))
            transfers.upload()
            after_upload = peak_rss_mib(server)
            transfers.download()
            console.print(
                f"memory, {mib} MiB artifact: peak RSS {after_upload:.0f} MiB after upload, "
                f"{peak_rss_mib(server):.0f} MiB after download"
            )
        finally:
            server.stop()
            (tmp / f"memory-{mib}.bin").unlink()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--memory", action="store_true",
                        help="also the 64 MiB / 1 GiB memory check")
    args = parser.parse_args(argv)
    env = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    with tempfile.TemporaryDirectory(prefix="mlflow-compliance-bench-") as name:
        tmp = Path(name)
        source = make_file(tmp / "artifact.bin", args.size_mib)
        ours = start_compliance_server(tmp / "compliance", args.workers, env=env)
        plain = start_plain_mlflow_server(tmp / "plain", args.workers, env)
        try:
            sides: dict[str, Any] = {"compliance": Transfers(ours, source),
                                     "plain": Transfers(plain, source)}
            results = []
            for way in ("upload", "download"):
                samples = rotate(
                    f"{args.size_mib} MiB {way}",
                    {n: getattr(t, way) for n, t in sides.items()},
                    args.rounds,
                )
                results.append(Result(f"{way} {args.size_mib} MiB", "MB/s",
                                      samples["compliance"], samples["plain"], goal=0.9))
            encrypted = next((ours.home / "artifacts").rglob("file-1.bin")).read_bytes()[:4]
            console.print(f"first bytes on the compliance server's disk: {encrypted!r}")
        finally:
            ours.stop()
            plain.stop()
        if args.memory:
            memory(tmp, env)
    return 0 if report(results) else 1


if __name__ == "__main__":
    sys.exit(main())
