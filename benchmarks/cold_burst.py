"""A burst of new Basic clients on a freshly started server, against the same burst with
an API token (goal: the last Basic answer within 3x the last token answer).

Each round starts a fresh compliance server (2 workers, as the other benchmarks) per
side, creates an ordinary user and a token for it, then releases 32 threads at once,
each with its own ``requests.Session`` (a new connection from a client the server has
not seen), each sending one ``experiments/search``. The time is from the release to the
last answer. A token costs one indexed lookup, so its burst is what a cold server costs
anyway; Basic adds the Argon2 verification, which the server must run once per worker,
not once per client. Sides rotate which goes first each round.

    python -m benchmarks.cold_burst [--rounds 5] [--clients 32] [--workers 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import requests
from rich.table import Table

from benchmarks.requests_throughput import BENCH_PASSWORD, basic
from benchmarks.runner import console, rotate
from mlflow_compliance.testing import Server, start_compliance_server

GOAL = 3.0
SEARCH = "/api/2.0/mlflow/experiments/search"


def prepare(server: Server) -> dict[str, dict[str, str]]:
    """An ordinary user and a token for it; the header each side sends."""
    admin = basic(*server.auth or ("", ""))
    r = requests.post(f"{server.url}/api/2.0/compliance/users/create", headers=admin,
                      json={"name": "bench", "password": BENCH_PASSWORD}, timeout=60)
    r.raise_for_status()
    r = requests.post(f"{server.url}/api/2.0/compliance/tokens/create", headers=admin,
                      json={"name": "bench"}, timeout=60)
    r.raise_for_status()
    return {
        "basic": basic("bench", BENCH_PASSWORD),
        "token": {"Authorization": f"Bearer {r.json()['token']}"},
    }


def burst(url: str, headers: dict[str, str], clients: int) -> tuple[float, int]:
    """Seconds from releasing ``clients`` new clients at once to the last answer, and
    how many were answered 200."""
    release = threading.Barrier(clients + 1)
    statuses = [0] * clients

    def client(i: int) -> None:
        with requests.Session() as s:
            s.headers.update(headers)
            release.wait()
            try:
                statuses[i] = s.post(url + SEARCH, json={"max_results": 1}, timeout=120).status_code
            except requests.RequestException:
                statuses[i] = -1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    release.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    return time.perf_counter() - started, statuses.count(200)


def cold(side: str, root: Path, clients: int, workers: int,
         answered: dict[str, list[int]]) -> Callable[[], float]:
    """One round of ``side`` on a server of its own: milliseconds to the last answer."""

    def measure() -> float:
        home = root / f"{side}-{uuid.uuid4().hex[:8]}"
        env = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        server = start_compliance_server(home, workers, env=env)
        try:
            headers = prepare(server)[side]
            seconds, ok = burst(server.url, headers, clients)
        finally:
            server.stop()
        answered[side].append(ok)
        return seconds * 1000

    return measure


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    answered: dict[str, list[int]] = {"basic": [], "token": []}
    with tempfile.TemporaryDirectory(prefix="mlflow-compliance-bench-") as tmp:
        measures = {side: cold(side, Path(tmp), args.clients, args.workers, answered)
                    for side in answered}
        samples = rotate(f"{args.clients} new clients, ms to the last answer", measures,
                         args.rounds)
    table = Table(title=f"{args.clients} new clients at once on a fresh server (medians)")
    for column in ("side", "ms to the last answer", "all answered 200", "rounds"):
        table.add_column(column)
    for side in answered:
        all_ok = all(n == args.clients for n in answered[side])
        table.add_row(side, f"{statistics.median(samples[side]):.0f}",
                      f"{all_ok} ({min(answered[side])}/{args.clients} at worst)",
                      str(len(samples[side])))
    console.print(table)
    ratio = statistics.median(samples["basic"]) / statistics.median(samples["token"])
    met = ratio <= GOAL and all(n == args.clients for side in answered for n in answered[side])
    colour = "green" if met else "red"
    console.print(f"ratio basic / token [{colour}]{ratio:.2f}[/] (goal <= {GOAL}, every "
                  f"client answered 200); clients={args.clients} workers={args.workers} "
                  f"rounds={args.rounds}; goal met: {met}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
