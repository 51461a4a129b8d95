"""``mlflow-compliance report bundle`` of one model version against ``mlflow-compliance
check --model NAME/VERSION`` of the same version (goal: bundle / check <= 3).

The version's run logged 100 metrics x 1,000 steps and 3 datasets, each with its own
record, and a real (small) scikit-learn model; it is high-risk, with a full compliance
record, so the Annex IV PDF draws a chart for every one of the 100 metric histories.
The run and the model are logged through the server with the MLflow client; the
100,000 metric values and the dataset inputs are written straight into the server's
store with MLflow's own SQLAlchemy store (through REST they would take minutes; they
are the same rows). Each round runs both real CLIs as subprocesses against one
compliance server, the order alternating, and times them; the medians and their ratio
are printed.

    python -m benchmarks.report_bundle [--rounds 5]
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

from mlflow.entities import Dataset, DatasetInput, InputTag, Metric

from benchmarks.runner import console, rotate
from mlflow_compliance.testing import ADMIN_PASSWORD, BIN, Server, start_compliance_server

GOAL = 3.0
METRICS, STEPS, DATASETS = 100, 1000, 3
DATASET_RECORD = {
    "compliance.gdpr.personal_data": "false",
    "compliance.dataset.origin": "Synthetic rows generated for the benchmark",
}


def populate(server: Server) -> tuple[str, str]:
    """The high-risk version described above: (model name, version)."""
    import mlflow
    import numpy as np
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
    from sklearn.linear_model import LogisticRegression

    from mlflow_compliance import compliance_run, log_model_with_compliance
    from tests.test_high_risk_release import GOOD, RECORD

    mlflow.set_tracking_uri(server.url)
    os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"] = (
        "admin", ADMIN_PASSWORD)
    rng = np.random.default_rng(3)
    features = rng.random((200, 4))
    fitted = LogisticRegression().fit(features, (features[:, 0] > 0.5).astype(int))
    description = "Synthetic rows generated for the benchmark"
    with compliance_run(RECORD, data_description=description):
        run = mlflow.active_run()
        assert run is not None
        mlflow.log_metrics(GOOD)
        info = log_model_with_compliance(fitted, description,
                                         registered_model_name="bundle-bench")
    store = SqlAlchemyStore(f"sqlite:///{server.home / 'mlflow.db'}", "mlflow-artifacts:/")
    started = time.perf_counter()
    now = int(time.time() * 1000)
    for m in range(METRICS):
        store.log_batch(run.info.run_id, metrics=[
            Metric(f"metric_{m:03d}", float(np.sin(step / 50 + m)), now + step, step)
            for step in range(STEPS)], params=[], tags=[])
    store.log_inputs(run.info.run_id, datasets=[DatasetInput(
        Dataset(f"table-{d}", f"{d:08x}", "local", f'{{"uri": "/data/table-{d}.csv"}}',
                profile='{"num_rows": 1000}'),
        [InputTag("mlflow.data.context", "training"),
         *(InputTag(k, v) for k, v in DATASET_RECORD.items())]) for d in range(DATASETS)])
    console.log(f"logged {METRICS} x {STEPS} metric values and {DATASETS} datasets in "
                f"{time.perf_counter() - started:.0f} s")
    return "bundle-bench", str(info.registered_model_version)


def timed(args: list[str], server: Server) -> float:
    env = {**os.environ, "MLFLOW_TRACKING_URI": server.url,
           "MLFLOW_TRACKING_USERNAME": "admin", "MLFLOW_TRACKING_PASSWORD": ADMIN_PASSWORD}
    started = time.perf_counter()
    done = subprocess.run([str(BIN / "mlflow-compliance"), *args], env=env,
                          capture_output=True, text=True, timeout=900)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):  # check exits 1 when a rule fails
        raise RuntimeError(done.stderr)
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mlflow-compliance-bench-") as name:
        tmp = Path(name)
        server = start_compliance_server(tmp / "home", 2,
                                         env={"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"})
        try:
            model, version = populate(server)
            samples = rotate("bundle vs check", {
                "bundle": lambda: timed(["report", "bundle", model, version, "-o",
                                         str(tmp / "bundle.zip")], server),
                "check": lambda: timed(["check", "--model", f"{model}/{version}",
                                        "--format", "json", "-o", str(tmp / "check.json")],
                                       server),
            }, args.rounds)
            size = (tmp / "bundle.zip").stat().st_size
        finally:
            server.stop()
    bundle, check = statistics.median(samples["bundle"]), statistics.median(samples["check"])
    ratio = bundle / check
    console.print(f"report bundle: median {bundle:.2f} s ({size // 1024} KiB); check --model: "
                  f"median {check:.2f} s; bundle / check = {ratio:.2f} (goal <= {GOAL})")
    return 0 if ratio <= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
