"""The inventory page against MLflow's own registry search (issue 17; goal: ``GET
/compliance/?max_results=100`` at most 2x ``GET /api/2.0/mlflow/registered-models/
search?max_results=100`` on the same server, as admin).

One compliance server (2 workers) holds 1,000 registered models x 10 versions, written
straight into its SQLite store with MLflow's own SQLAlchemy stores (the REST API would
take many minutes); each version's source run carries a small valid compliance record.
Every page of the inventory is viewed once, untimed, so each version's check is stored
(check_results.py); then, in rotating rounds, each side answers ``--requests`` requests
one after another and the round's median is kept. The page shows 100 models with their
1,000 versions; MLflow's search answers 100 models with their latest versions.

    python -m benchmarks.pages_inventory [--rounds 5] [--requests 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from mlflow.entities import Metric, Param, RunTag
from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as RegistryStore
from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
from mlflow.utils.search_utils import SearchUtils

from benchmarks.check_scan import RECORD
from benchmarks.runner import console, rotate
from mlflow_compliance.testing import Server, start_compliance_server

MODELS, VERSIONS = 1000, 10
PAGE = 100
GOAL = 2.0
INVENTORY = f"/compliance/?max_results={PAGE}"
SEARCH = f"/api/2.0/mlflow/registered-models/search?max_results={PAGE}"


def populate(server: Server) -> None:
    uri = f"sqlite:///{server.home / 'mlflow.db'}"
    store = SqlAlchemyStore(uri, "mlflow-artifacts:/")
    registry = RegistryStore(uri)
    started = time.perf_counter()
    for m in range(MODELS):
        name = f"model-{m:04d}"
        registry.create_registered_model(name)
        for _ in range(VERSIONS):
            run = store.create_run("0", "bench", int(time.time() * 1000), [], name)
            store.log_batch(run.info.run_id, metrics=[Metric("accuracy", 0.9, 0, 0)],
                            params=[Param("data_description", "synthetic benchmark data")],
                            tags=[RunTag(k, v) for k, v in RECORD.items()])
            registry.create_model_version(name, f"runs:/{run.info.run_id}/model",
                                          run_id=run.info.run_id)
        if m % 100 == 99:
            console.log(f"registered {m + 1} models x {VERSIONS} versions "
                        f"({time.perf_counter() - started:.0f} s)")


def warm(server: Server, session: requests.Session) -> None:
    """Every page viewed once (two at a time, one per worker): each version checked and
    its result stored, as an admin's first look would."""
    started = time.perf_counter()

    def view(offset: int) -> None:
        token = SearchUtils.create_page_token(offset).decode() if offset else ""
        answer = session.get(server.url + INVENTORY + (f"&page_token={token}" if token else ""),
                             timeout=1800)
        answer.raise_for_status()

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(view, range(0, MODELS, PAGE)))
    console.log(f"checked {MODELS * VERSIONS} versions on first view in "
                f"{time.perf_counter() - started:.0f} s")


def timed(session: requests.Session, url: str, count: int, expect: str) -> float:
    """The median time (ms) of ``count`` requests, one after another."""
    times = []
    for _ in range(count):
        began = time.perf_counter()
        answer = session.get(url, timeout=600)
        times.append((time.perf_counter() - began) * 1000)
        if answer.status_code != 200 or expect not in answer.text:
            raise RuntimeError(f"{url}: {answer.status_code} {answer.text[:300]}")
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=5)
    args = parser.parse_args(argv)
    env = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    with tempfile.TemporaryDirectory(prefix="mlflow-compliance-bench-") as name:
        server = start_compliance_server(Path(name) / "inventory", 2, env=env)
        try:
            populate(server)
            session = requests.Session()
            session.auth = server.auth
            warm(server, session)
            samples = rotate("inventory", {
                "inventory page": lambda: timed(session, server.url + INVENTORY,
                                                args.requests, "model-0099"),
                "registry search": lambda: timed(session, server.url + SEARCH,
                                                 args.requests, "model-0099"),
            }, args.rounds)
        finally:
            server.stop()
    page, search = (statistics.median(samples[n]) for n in ("inventory page", "registry search"))
    ratio = page / search
    console.print(f"GET {INVENTORY} ({PAGE} models, {PAGE * VERSIONS} versions): "
                  f"median {page:.0f} ms")
    console.print(f"GET {SEARCH} ({PAGE} models): median {search:.0f} ms")
    console.print(f"inventory / registry search: {ratio:.2f} (goal <= {GOAL:.0f})")
    return 0 if ratio <= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
