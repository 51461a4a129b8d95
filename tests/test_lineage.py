"""``mlflow-compliance lineage`` against a real compliance server and the real MLflow
client: one dataset used by two runs in two experiments; one run logs a model,
registered as version 1, alias ``candidate``. The lineage walks both ways, shows only
what the caller may read, and bad usage is exit 2 with one line."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from mlflow_compliance.lineage.graph import Edge, Graph, Node
from mlflow_compliance.testing import BIN, MINIMUM_RECORD, Server

CLI = str(BIN / "mlflow-compliance")


@dataclass(frozen=True)
class Seeded:
    dataset: str  # NAME@DIGEST
    name: str
    trained: str  # the run that logged the model
    other: str  # the run that only used the dataset
    trained_experiment: str
    other_experiment: str
    model_id: str
    model: str  # registered model name


def cli(server: Server, *args: str, auth: tuple[str, str] | None = None,
        ) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MLFLOW_TRACKING_URI": server.url}
    if auth:
        env.update(MLFLOW_TRACKING_USERNAME=auth[0], MLFLOW_TRACKING_PASSWORD=auth[1])
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=300,
                          env=env)


@pytest.fixture(scope="module")
def seeded(server: Server) -> Seeded:
    mlflow.set_tracking_uri(server.url)
    tag = uuid.uuid4().hex[:6]
    frame = pd.DataFrame({"patient": ["a", "b", "c", "d"], "x": [0.1, 0.7, 0.4, 0.9],
                          "y": [0, 1, 0, 1]})
    dataset = mlflow.data.from_pandas(frame, name=f"patients-{tag}")
    trained_experiment = mlflow.create_experiment(f"lineage-train-{tag}")
    other_experiment = mlflow.create_experiment(f"lineage-explore-{tag}")
    name = f"lineage-{tag}"
    with mlflow.start_run(experiment_id=trained_experiment, run_name="train") as trained:
        mlflow.set_tags(MINIMUM_RECORD)
        mlflow.log_input(dataset, context="training")
        fitted = LogisticRegression().fit(np.array(frame[["x"]]), frame["y"])
        info = mlflow.sklearn.log_model(fitted, name="model", registered_model_name=name)
    with mlflow.start_run(experiment_id=other_experiment, run_name="explore") as other:
        mlflow.log_input(dataset, context="eval")
    mlflow.MlflowClient().set_registered_model_alias(name, "candidate", "1")
    assert str(info.registered_model_version) == "1"
    return Seeded(
        dataset=f"{dataset.name}@{dataset.digest}", name=dataset.name,
        trained=trained.info.run_id, other=other.info.run_id,
        trained_experiment=trained_experiment, other_experiment=other_experiment,
        model_id=info.model_id, model=name,
    )


def user(server: Server, *experiments: str) -> tuple[str, str]:
    """An ordinary user with read on these experiments only."""
    name, password = f"u-{uuid.uuid4().hex[:8]}", "a long enough password"
    done = cli(server, "users", "create", name, "--password", password)
    assert done.returncode == 0, done.stderr
    for experiment in experiments:
        granted = cli(server, "grants", "add", name, "--experiment", experiment,
                      "--permission", "read")
        assert granted.returncode == 0, granted.stderr
    return name, password


def lineage_json(server: Server, *args: str,
                 auth: tuple[str, str] | None = None) -> dict[str, object]:
    done = cli(server, "lineage", *args, "--format", "json", auth=auth)
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


def node(kind: str, id: str, label: str) -> dict[str, str]:
    return {"kind": kind, "id": id, "label": label}


def edge(source: tuple[str, str], relation: str, target: tuple[str, str]) -> dict[str, object]:
    return {"from": {"kind": source[0], "id": source[1]}, "relation": relation,
            "to": {"kind": target[0], "id": target[1]}}


def test_from_the_dataset_to_runs_logged_model_version_and_alias(
    server: Server, seeded: Seeded,
) -> None:
    s = seeded
    version, alias = f"{s.model}/1", f"{s.model}@candidate"
    assert lineage_json(server, "--dataset", s.dataset) == {
        "start": [{"kind": "dataset", "id": s.dataset}],
        "nodes": [
            node("dataset", s.dataset, s.name),
            *sorted([node("run", s.trained, "train"), node("run", s.other, "explore")],
                    key=lambda n: n["id"]),
            node("logged_model", s.model_id, "model"),
            node("model_version", version, f"{s.model} v1"),
            node("alias", alias, "candidate"),
        ],
        "edges": [
            *sorted([edge(("dataset", s.dataset), "used by", ("run", s.trained)),
                     edge(("dataset", s.dataset), "used by", ("run", s.other))],
                    key=lambda e: str(e["to"])),
            edge(("run", s.trained), "logged", ("logged_model", s.model_id)),
            edge(("logged_model", s.model_id), "registered as", ("model_version", version)),
            edge(("alias", alias), "points to", ("model_version", version)),
        ],
    }
    by_name = lineage_json(server, "--dataset", s.name)  # every digest of the name
    assert by_name["start"] == [{"kind": "dataset", "id": s.dataset}]


def test_from_the_version_back_to_the_dataset(server: Server, seeded: Seeded) -> None:
    s = seeded
    got = lineage_json(server, "--model", f"{s.model}/1")
    ids = [(n["kind"], n["id"]) for n in got["nodes"]]  # type: ignore[attr-defined]
    assert ids == [("dataset", s.dataset), ("run", s.trained), ("logged_model", s.model_id),
                   ("model_version", f"{s.model}/1"), ("alias", f"{s.model}@candidate")]
    assert got["start"] == [{"kind": "model_version", "id": f"{s.model}/1"}]
    # the same lineage from the run and from the logged model: the other run is no part
    for start in (("--run", s.trained), ("--logged-model", s.model_id)):
        again = lineage_json(server, *start)
        assert again["nodes"] == got["nodes"] and again["edges"] == got["edges"], start


def test_mermaid_and_dot_draw_every_edge(server: Server, seeded: Seeded,
                                         tmp_path: Path) -> None:
    out = tmp_path / "lineage.mmd"
    done = cli(server, "lineage", "--dataset", seeded.dataset, "--format", "mermaid",
               "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    picture = out.read_text()
    assert picture.startswith("flowchart LR\n")
    assert '    n0[("dataset<br/>' + seeded.name + '")]' in picture
    for line in ("n0 -- used by --> n1", "n0 -- used by --> n2", "-- logged --> n3",
                 "n3 -- registered as --> n4", "n5 -- points to --> n4"):
        assert line in picture, picture
    dot = cli(server, "lineage", "--dataset", seeded.dataset, "--format", "dot")
    assert dot.stdout.startswith("digraph lineage {") and dot.stdout.count(" -> ") == 5
    assert 'n4 -> n5 [label="points to", dir=back];' in dot.stdout
    table = cli(server, "lineage", "--model", f"{seeded.model}/1")
    assert table.returncode == 0 and "registered as" in table.stdout
    assert "candidate" in table.stdout


def test_a_user_sees_only_the_branch_they_may_read(server: Server, seeded: Seeded) -> None:
    s = seeded
    explorer = user(server, s.other_experiment)
    assert lineage_json(server, "--dataset", s.dataset, auth=explorer) == {
        "start": [{"kind": "dataset", "id": s.dataset}],
        "nodes": [node("dataset", s.dataset, s.name), node("run", s.other, "explore")],
        "edges": [edge(("dataset", s.dataset), "used by", ("run", s.other))],
    }
    for hidden in (("--run", s.trained), ("--model", f"{s.model}/1"),
                   ("--logged-model", s.model_id)):
        done = cli(server, "lineage", *hidden, auth=explorer)
        assert done.returncode == 2, (hidden, done.stdout)
        assert done.stderr == f"Error: {hidden[0]}: {hidden[1]} not found (or you may not " \
                              "read it)\n"
    trainer = user(server, s.trained_experiment)
    seen = lineage_json(server, "--dataset", s.dataset, auth=trainer)
    kinds = [(n["kind"], n["id"]) for n in seen["nodes"]]  # type: ignore[attr-defined]
    assert ("run", s.trained) in kinds and ("run", s.other) not in kinds
    assert ("logged_model", s.model_id) in kinds


@pytest.mark.parametrize("args, named", [
    ((), "--run, --dataset, --model or --logged-model"),
    (("--run", "r", "--dataset", "d"), "--run, --dataset, --model or --logged-model"),
    (("--model", "no-version"), "--model"),
    (("--format", "png", "--run", "r"), "--format"),
])
def test_bad_usage_is_exit_2_with_one_line(server: Server, args: tuple[str, ...],
                                           named: str) -> None:
    done = cli(server, "lineage", *args)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and named in done.stderr, done.stderr


def test_an_object_that_is_not_there_is_exit_2(server: Server) -> None:
    for args in (("--run", uuid.uuid4().hex), ("--dataset", "no-such-dataset"),
                 ("--model", "no-such-model/1"), ("--logged-model", "m-nothing")):
        done = cli(server, "lineage", *args)
        assert done.returncode == 2
        assert done.stderr == f"Error: {args[0]}: {args[1]} not found (or you may not " \
                              "read it)\n"


def test_the_graph_walks_both_ways() -> None:
    graph = Graph.of(
        [Node("dataset", "d@1", "d"), Node("run", "r", "r"), Node("logged_model", "m", "m"),
         Node("model_version", "v/1", "v v1"), Node("alias", "v@a", "a")],
        [Edge(("dataset", "d@1"), "used by", ("run", "r")),
         Edge(("run", "r"), "logged", ("logged_model", "m")),
         Edge(("logged_model", "m"), "registered as", ("model_version", "v/1")),
         Edge(("alias", "v@a"), "points to", ("model_version", "v/1")),
         Edge(("run", "unreadable"), "registered as", ("model_version", "v/1"))],
    )
    assert len(graph.edges) == 4  # the edge to what was not read is dropped
    assert graph.downstream(("dataset", "d@1")) == {
        ("run", "r"), ("logged_model", "m"), ("model_version", "v/1"), ("alias", "v@a")}
    assert graph.upstream(("alias", "v@a")) == {
        ("dataset", "d@1"), ("run", "r"), ("logged_model", "m"), ("model_version", "v/1")}
    assert graph.lineage([("logged_model", "m")]) == graph
