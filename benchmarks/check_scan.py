"""``mlflow-compliance check`` over a whole compliance server: 1,000 runs + 100 model
versions, and 10,000 runs + 1,000 model versions (goal: the large scan in <= 20 s on
this machine, and cost growing linearly: large / small time about 10).

The runs are written straight into each server's store with MLflow's own SQLAlchemy
store (the REST API would take minutes to create them); half carry a valid compliance
record with a declared metric threshold, the metric, a data description and a dataset
input with its own record, half nothing. One run in a hundred references evidence as
``artifact:<path>``, which ``check`` looks up in the run's artifacts. Each round runs the
real CLI as a subprocess, ``--format json`` to a file, and times it.

    python -m benchmarks.check_scan [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunTag
from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as RegistryStore
from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

from benchmarks.runner import console
from mlflow_compliance.testing import ADMIN_PASSWORD, BIN, Server, start_compliance_server

RECORD = {
    "compliance": "GDPR",
    "data_privacy": "enabled",
    "compliance.gdpr.personal_data": "false",
    "compliance.ai_act.risk_class": "minimal",
    "compliance.ai_act.transparency_obligations": "false",
    "compliance.ai_act.metric_thresholds": "accuracy>=0.8",
}
EVIDENCE = {"compliance.ai_act.risk_management_reference": "artifact:docs/risk.md"}
DATASET = Dataset("train", "0123abcd", "local", '{"uri": "/data/train.csv"}')
DATASET_TAGS = {
    "mlflow.data.context": "training",
    "compliance.gdpr.personal_data": "false",
    "compliance.dataset.origin": "Synthetic rows generated for the benchmark",
}


def populate(server: Server, runs: int, versions: int) -> None:
    uri = f"sqlite:///{server.home / 'mlflow.db'}"
    store = SqlAlchemyStore(uri, "mlflow-artifacts:/")
    registry = RegistryStore(uri)
    started = time.perf_counter()
    run_ids = []
    for i in range(runs):
        run = store.create_run("0", "bench", int(time.time() * 1000), [], f"run-{i}")
        if i % 2 == 0:
            record = {**RECORD, **(EVIDENCE if i % 100 == 0 else {})}
            store.log_batch(run.info.run_id, metrics=[Metric("accuracy", 0.9, 0, 0)],
                            params=[Param("data_description", "synthetic benchmark data")],
                            tags=[RunTag(k, v) for k, v in record.items()])
            store.log_inputs(run.info.run_id, datasets=[DatasetInput(
                DATASET, [InputTag(k, v) for k, v in DATASET_TAGS.items()])])
        run_ids.append(run.info.run_id)
    for i in range(versions):
        name = f"model-{i // 10}"
        if i % 10 == 0:
            registry.create_registered_model(name)
        registry.create_model_version(name, f"runs:/{run_ids[i]}/model", run_id=run_ids[i])
    console.log(f"populated {runs} runs and {versions} versions in "
                f"{time.perf_counter() - started:.0f} s")


def scan(server: Server, output: Path) -> float:
    env = {**os.environ, "MLFLOW_TRACKING_URI": server.url,
           "MLFLOW_TRACKING_USERNAME": "admin", "MLFLOW_TRACKING_PASSWORD": ADMIN_PASSWORD}
    started = time.perf_counter()
    done = subprocess.run([str(BIN / "mlflow-compliance"), "check", "--format", "json",
                           "-o", str(output)], env=env, capture_output=True, text=True,
                          timeout=600)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise RuntimeError(done.stderr)
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    sizes = {"small": (1000, 100), "large": (10000, 1000)}
    env = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    times: dict[str, list[float]] = {name: [] for name in sizes}
    with tempfile.TemporaryDirectory(prefix="mlflow-compliance-bench-") as name:
        tmp = Path(name)
        servers = {n: start_compliance_server(tmp / n, 2, env=env) for n in sizes}
        try:
            for n, (runs, versions) in sizes.items():
                populate(servers[n], runs, versions)
            for i in range(args.rounds):
                for n in (list(sizes) if i % 2 == 0 else list(reversed(sizes))):
                    times[n].append(scan(servers[n], tmp / f"{n}.json"))
                console.log(f"round {i + 1}/{args.rounds}: "
                            + ", ".join(f"{n} {times[n][-1]:.1f} s" for n in sizes))
        finally:
            for server in servers.values():
                server.stop()
    small, large = statistics.median(times["small"]), statistics.median(times["large"])
    console.print(f"check, 1,000 runs + 100 versions: median {small:.1f} s")
    console.print(f"check, 10,000 runs + 1,000 versions: median {large:.1f} s (goal <= 20 s)")
    console.print(f"large / small: {large / small:.2f} (10x the data; linear is about 10)")
    return 0 if large <= 20 else 1


if __name__ == "__main__":
    sys.exit(main())
