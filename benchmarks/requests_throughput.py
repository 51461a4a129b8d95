"""Request throughput of the compliance server against plain ``mlflow server``.

Two workloads on identically prepared servers: ``runs/search`` (a filtered search on
compliance tags over 200 tagged runs) and ``runs/log-batch`` (metrics, params and
valid compliance tags, so validation does its full work). Load comes from separate
client processes holding keep-alive connections. Goal of the foundation issue: the
stack without security layers is nearly free, ratio >= 0.95.

    python -m benchmarks.requests_throughput [--rounds 7] [--seconds 4] [--clients 8]
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
import uuid
from typing import Any

import requests

from benchmarks.runner import Result, alternate, report, server_pair
from mlflow_compliance.testing import Server

TAGS = [
    {"key": "compliance", "value": "GDPR"},
    {"key": "data_privacy", "value": "enabled"},
    {"key": "compliance.gdpr.personal_data", "value": "true"},
    {"key": "compliance.gdpr.lawful_basis", "value": "contract"},
    {"key": "compliance.gdpr.data_categories", "value": "contact,usage"},
    {"key": "compliance.ai_act.risk_class", "value": "limited"},
]


def prepare(server: Server) -> dict[str, Any]:
    """200 tagged runs in one experiment; returns what the workloads need."""
    api = f"{server.url}/api/2.0/mlflow"
    with requests.Session() as s:
        eid = s.post(f"{api}/experiments/create", json={"name": "bench"}).json()["experiment_id"]
        run_ids = []
        for i in range(200):
            basis = "contract" if i % 2 else "consent"
            tags = [t for t in TAGS if t["key"] != "compliance.gdpr.lawful_basis"]
            tags.append({"key": "compliance.gdpr.lawful_basis", "value": basis})
            r = s.post(f"{api}/runs/create", json={"experiment_id": eid, "tags": tags})
            r.raise_for_status()
            run_ids.append(r.json()["run"]["info"]["run_id"])
    return {"experiment_id": eid, "run_ids": run_ids}


def search_request(url: str, ctx: dict[str, Any], i: int) -> tuple[str, dict[str, Any]]:
    return f"{url}/api/2.0/mlflow/runs/search", {
        "experiment_ids": [ctx["experiment_id"]],
        "filter": "tags.`compliance.gdpr.lawful_basis` = 'contract'",
        "max_results": 20,
    }


def log_batch_request(url: str, ctx: dict[str, Any], i: int) -> tuple[str, dict[str, Any]]:
    run_id = ctx["run_ids"][i % len(ctx["run_ids"])]
    return f"{url}/api/2.0/mlflow/runs/log-batch", {
        "run_id": run_id,
        "metrics": [{"key": f"m{k}", "value": k * 0.5, "timestamp": 1, "step": i}
                    for k in range(10)],
        "tags": TAGS,
    }


WORKLOADS = {"runs/search": search_request, "runs/log-batch": log_batch_request}


def _client(args: tuple[str, str, dict[str, Any], float, int]) -> int:
    workload, url, ctx, seconds, seed = args
    make = WORKLOADS[workload]
    done = 0
    with requests.Session() as s:
        end = time.monotonic() + seconds
        i = seed * 1_000_000
        while time.monotonic() < end:
            target, body = make(url, ctx, i)
            r = s.post(target, json=body, timeout=60)
            if r.status_code != 200:
                raise RuntimeError(f"{workload}: {r.status_code} {r.text[:200]}")
            done += 1
            i += 1
    return done


def throughput(pool: Any, workload: str, ctx: dict[str, Any], clients: int, seconds: float):
    def measure(server: Server) -> float:
        jobs = [(workload, server.url, ctx[server.url], seconds, c) for c in range(clients)]
        start = time.monotonic()
        total = sum(pool.map(_client, jobs))
        return total / (time.monotonic() - start)

    return measure


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    results = []
    with server_pair(args.workers) as (ours, plain):
        ctx = {s.url: prepare(s) for s in (ours, plain)}
        with multiprocessing.get_context("spawn").Pool(args.clients) as pool:
            for workload in WORKLOADS:
                measure = throughput(pool, workload, ctx, args.clients, args.seconds)
                measure(ours), measure(plain)  # warm-up, not counted
                result = Result(f"{workload} throughput", "req/s", goal=0.95)
                results.append(alternate(result, ours, plain, measure, args.rounds))
    report(results)
    print(f"run id {uuid.uuid4().hex[:8]}: rounds={args.rounds} seconds={args.seconds} "
          f"clients={args.clients} workers={args.workers}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
