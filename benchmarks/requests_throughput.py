"""Request throughput of the compliance server against plain ``mlflow server``.

Three workloads on identically prepared servers: ``runs/search`` (a filtered search on
compliance tags over 200 tagged runs), ``runs/log-batch`` (metrics and valid compliance
tags, so validation does its full work) and ``graphql/get-run`` (the query MLflow's UI
sends for a run page, which the compliance server authorizes per object it reads). Load
comes from separate client processes holding keep-alive connections. The compliance
server is driven by an ordinary user (so authorization resolves and checks grants on
every request), once
with HTTP Basic and once with an API token; the baselines are plain ``mlflow server``
without authentication and MLflow's own ``basic-auth`` app. Goal: >= 0.9 of plain.

    python -m benchmarks.requests_throughput [--rounds 7] [--seconds 4] [--clients 8]
"""

from __future__ import annotations

import argparse
import base64
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from benchmarks.runner import Result, report, rotate
from mlflow_compliance.testing import Server, start_compliance_server, start_plain_mlflow_server

BENCH_PASSWORD = "bench password 1234"

TAGS = [
    {"key": "compliance", "value": "GDPR"},
    {"key": "data_privacy", "value": "enabled"},
    {"key": "compliance.gdpr.personal_data", "value": "true"},
    {"key": "compliance.gdpr.lawful_basis", "value": "contract"},
    {"key": "compliance.gdpr.data_categories", "value": "contact,usage"},
    {"key": "compliance.ai_act.risk_class", "value": "minimal"},
]


def prepare(server: Server, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """200 tagged runs in one experiment; returns what the workloads need."""
    api = f"{server.url}/api/2.0/mlflow"
    with requests.Session() as s:
        s.headers.update(headers or {})
        eid = s.post(f"{api}/experiments/create", json={"name": "bench"}).json()["experiment_id"]
        run_ids = []
        for i in range(200):
            basis = "contract" if i % 2 else "consent"
            tags = [t for t in TAGS if t["key"] != "compliance.gdpr.lawful_basis"]
            tags.append({"key": "compliance.gdpr.lawful_basis", "value": basis})
            r = s.post(f"{api}/runs/create", json={"experiment_id": eid, "tags": tags})
            r.raise_for_status()
            run_ids.append(r.json()["run"]["info"]["run_id"])
    return {"experiment_id": eid, "run_ids": run_ids, "headers": headers or {}}


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


GET_RUN = """query GetRun($data: MlflowGetRunInput!) {
  mlflowGetRun(input: $data) { apiError { code message }
    run { info { runUuid experimentId } experiment { experimentId name }
          modelVersions { name version } data { params { key value } tags { key value } } } } }"""


def graphql_run_request(url: str, ctx: dict[str, Any], i: int) -> tuple[str, dict[str, Any]]:
    """The UI's run page query (authorized per object on the compliance server)."""
    run_id = ctx["run_ids"][i % len(ctx["run_ids"])]
    return f"{url}/graphql", {"query": GET_RUN, "variables": {"data": {"runId": run_id}}}


WORKLOADS = {"runs/search": search_request, "runs/log-batch": log_batch_request,
             "graphql/get-run": graphql_run_request}


def _client(args: tuple[str, str, dict[str, Any], float, int]) -> int:
    workload, url, ctx, seconds, seed = args
    make = WORKLOADS[workload]
    done = 0
    with requests.Session() as s:
        s.headers.update(ctx.get("headers", {}))
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


def run_clients(
    pool: Any, workload: str, url: str, ctx: dict[str, Any], clients: int, seconds: float
) -> float:
    """Requests per second that ``clients`` processes get from the server at ``url``."""
    jobs = [(workload, url, ctx, seconds, c) for c in range(clients)]
    start = time.monotonic()
    total = sum(pool.map(_client, jobs))
    return total / (time.monotonic() - start)


def throughput(pool: Any, workload: str, ctx: dict[str, Any], clients: int, seconds: float):
    def measure(server: Server) -> float:
        return run_clients(pool, workload, server.url, ctx[server.url], clients, seconds)

    return measure


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def bench_user(server: Server, mlflow_basic_auth: bool) -> dict[str, str]:
    """An ordinary (non-admin) user on an authenticating server; its Basic header."""
    admin = basic(*server.auth) if server.auth else {}
    if mlflow_basic_auth:
        r = requests.post(f"{server.url}/api/2.0/mlflow/users/create", headers=admin,
                          json={"username": "bench", "password": BENCH_PASSWORD}, timeout=30)
    else:
        # Cleared for personal data: the benchmark's runs declare it.
        r = requests.post(f"{server.url}/api/2.0/compliance/users/create", headers=admin,
                          json={"name": "bench", "password": BENCH_PASSWORD,
                                "clearances": ["personal-data"]}, timeout=30)
    r.raise_for_status()
    return basic("bench", BENCH_PASSWORD)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="mlflow-compliance-bench-") as tmp:
        env = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        servers = {
            "ours": start_compliance_server(Path(tmp) / "ours", args.workers, env=env),
            "plain": start_plain_mlflow_server(Path(tmp) / "plain", args.workers, env),
            "basic-auth": start_plain_mlflow_server(
                Path(tmp) / "basic-auth", args.workers, env, app_name="basic-auth"),
        }
        try:
            ours, plain, mlflow_auth = servers["ours"], servers["plain"], servers["basic-auth"]
            ours_basic = prepare(ours, bench_user(ours, False))
            token = requests.post(
                f"{ours.url}/api/2.0/compliance/tokens/create", json={"name": "bench"},
                headers=basic(*ours.auth or ("", "")), timeout=30).json()["token"]
            ours_token = {**ours_basic, "headers": {"Authorization": f"Bearer {token}"}}
            plain_ctx = prepare(plain)
            mlflow_auth_ctx = prepare(mlflow_auth, bench_user(mlflow_auth, True))
            contenders = {
                "ours basic": (ours.url, ours_basic),
                "ours token": (ours.url, ours_token),
                "plain": (plain.url, plain_ctx),
                "mlflow basic-auth": (mlflow_auth.url, mlflow_auth_ctx),
            }
            with multiprocessing.get_context("spawn").Pool(args.clients) as pool:
                for workload in WORKLOADS:
                    measures = {
                        name: (lambda u=url, c=ctx, w=workload: run_clients(
                            pool, w, u, c, args.clients, args.seconds))
                        for name, (url, ctx) in contenders.items()
                    }
                    for measure in measures.values():  # warm-up, not counted
                        measure()
                    samples = rotate(f"{workload} req/s", measures, args.rounds)
                    for name, base, goal in [
                        ("ours basic", "plain", 0.9), ("ours token", "plain", 0.9),
                        ("ours basic", "mlflow basic-auth", None),
                    ]:
                        results.append(Result(f"{workload}: {name} / {base}", "req/s",
                                              samples[name], samples[base], goal))
        finally:
            for server in servers.values():
                server.stop()
    met = report(results)
    print(f"rounds={args.rounds} seconds={args.seconds} clients={args.clients} "
          f"workers={args.workers}; goals met: {met}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
