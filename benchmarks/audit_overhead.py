"""What the audit log costs: the compliance server with access logging on (SQLite sync
``normal``, the default, and ``full``), against the same server with
``MLFLOW_ACCESS_LOGGING=false`` and against plain ``mlflow server``.

Throughput: the workloads of ``requests_throughput`` (``runs/search``, ``runs/log-batch``)
from separate client processes, as an ordinary user. Goal: on / off >= 0.95.
Latency: one client, one request at a time (``experiments/get``), so the time the
durable append adds to a request shows directly: median and p99 of on and off.

    python -m benchmarks.audit_overhead [--rounds 7] [--seconds 4] [--clients 8]
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from benchmarks.requests_throughput import WORKLOADS, bench_user, prepare, run_clients
from benchmarks.runner import Result, console, report, rotate
from mlflow_compliance.testing import Server, start_compliance_server, start_plain_mlflow_server


def latencies(url: str, ctx: dict[str, Any], count: int) -> list[float]:
    """Milliseconds per request, one client, one request at a time."""
    samples = []
    with requests.Session() as s:
        s.headers.update(ctx["headers"])
        target = f"{url}/api/2.0/mlflow/experiments/get?experiment_id={ctx['experiment_id']}"
        for _ in range(count):
            start = time.perf_counter()
            r = s.get(target, timeout=60)
            samples.append((time.perf_counter() - start) * 1000)
            if r.status_code != 200:
                raise RuntimeError(f"{r.status_code} {r.text[:200]}")
    return samples


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--latency-requests", type=int, default=300)
    parser.add_argument("--full-sync", action="store_true",
                        help="also a server with MLFLOW_COMPLIANCE_AUDIT_SYNC=full")
    args = parser.parse_args(argv)
    results: list[Result] = []
    env = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    with tempfile.TemporaryDirectory(prefix="mlflow-compliance-bench-") as tmp:
        servers: dict[str, Server] = {
            "on": start_compliance_server(Path(tmp) / "on", args.workers, env=env),
            "off": start_compliance_server(
                Path(tmp) / "off", args.workers, env={**env, "MLFLOW_ACCESS_LOGGING": "false"}),
            "plain": start_plain_mlflow_server(Path(tmp) / "plain", args.workers, env),
        }
        if args.full_sync:
            servers["on full sync"] = start_compliance_server(
                Path(tmp) / "full", args.workers,
                env={**env, "MLFLOW_COMPLIANCE_AUDIT_SYNC": "full"})
        try:
            contexts: dict[str, dict[str, Any]] = {
                name: prepare(s, bench_user(s, False) if s.auth else None)
                for name, s in servers.items()
            }
            with multiprocessing.get_context("spawn").Pool(args.clients) as pool:
                for workload in WORKLOADS:
                    measures = {
                        name: (lambda u=servers[name].url, c=contexts[name], w=workload:
                               run_clients(pool, w, u, c, args.clients, args.seconds))
                        for name in servers
                    }
                    for measure in measures.values():  # warm-up, not counted
                        measure()
                    samples = rotate(f"{workload} req/s", measures, args.rounds)
                    results.append(Result(f"{workload}: audit on / audit off", "req/s",
                                          samples["on"], samples["off"], 0.95))
                    if args.full_sync:
                        results.append(Result(f"{workload}: audit on, sync full / audit off",
                                              "req/s", samples["on full sync"], samples["off"],
                                              None))
                    results.append(Result(f"{workload}: audit on / plain", "req/s",
                                          samples["on"], samples["plain"], None))
            lat: dict[str, list[float]] = {n: [] for n in servers if n != "plain"}
            names = list(lat)
            for i in range(args.rounds):
                for name in names[i % len(names):] + names[: i % len(names)]:
                    lat[name] += latencies(servers[name].url, contexts[name],
                                           args.latency_requests)
            console.log("latency rounds done")
        finally:
            for server in servers.values():
                server.stop()
    met = report(results)
    off_median, off_p99 = statistics.median(lat["off"]), p99(lat["off"])
    for name in (n for n in lat if n != "off"):
        median, tail = statistics.median(lat[name]), p99(lat[name])
        console.print(
            f"one client, experiments/get, {len(lat[name])} requests: {name}: median "
            f"{median:.2f} ms (off {off_median:.2f}, added {median - off_median:.2f}); "
            f"p99 {tail:.2f} ms (off {off_p99:.2f}, added {tail - off_p99:.2f})"
        )
    print(f"rounds={args.rounds} seconds={args.seconds} clients={args.clients} "
          f"workers={args.workers}; goals met: {met}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
