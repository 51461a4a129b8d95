"""``retention status``: retention counted from the record (GDPR Art. 5(1)(e)), the AI Act
Art. 18 keeping of high-risk versions and their source runs, and the CLI against a real
server (exit 1 when something is due)."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime

import mlflow
import pytest

from mlflow_compliance.checks.model import Kind, Target
from mlflow_compliance.record import record_from_tags
from mlflow_compliance.retention.status import (
    DUE,
    KEPT_ACTION,
    art18_keeping,
    keepings_by_run,
    plus_years,
    retention_end,
    status,
)
from mlflow_compliance.testing import BIN, Server

CLI = str(BIN / "mlflow-compliance")
PERSONAL = {"compliance.gdpr.personal_data": "true", "compliance.ai_act.risk_class": "minimal"}
HIGH = {"compliance.gdpr.personal_data": "true", "compliance.ai_act.risk_class": "high"}


def ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, 12, tzinfo=UTC).timestamp() * 1000)


def run(tags: dict[str, str], started: date = date(2024, 1, 1), id: str = "r1") -> Target:
    return Target(kind=Kind.RUN, id=id, name=id, tags=tags, record=record_from_tags(tags),
                  started=ms(started))


def version(tags: dict[str, str], source: Target, created: date, id: str = "m/1") -> Target:
    return Target(kind=Kind.MODEL_VERSION, id=id, name=id, tags=tags,
                  record=record_from_tags(tags), run=source, started=source.started,
                  created=ms(created))


# --- the computation ------------------------------------------------------------------


def test_a_period_counts_from_the_runs_start() -> None:
    target = run({**PERSONAL, "compliance.gdpr.retention_period": "P30D"}, date(2025, 1, 1))
    end = retention_end(target)
    assert end is not None and end[0] == date(2025, 1, 31)
    assert "P30D" in end[1] and "2025-01-01" in end[1]
    assert not status(target, date(2025, 1, 31)).expired  # type: ignore[union-attr]
    over = status(target, date(2025, 2, 10))
    assert over is not None and over.expired and over.days_over == 10 and over.due
    assert over.action == DUE


def test_an_until_date_and_the_earlier_of_both() -> None:
    until = run({**PERSONAL, "compliance.gdpr.retention_until": "2025-06-30"})
    assert retention_end(until) == (date(2025, 6, 30), "compliance.gdpr.retention_until")
    both = run({**PERSONAL, "compliance.gdpr.retention_until": "2030-01-01",
                "compliance.gdpr.retention_period": "P1Y"}, date(2024, 1, 1))
    end = retention_end(both)
    assert end is not None and end[0] == date(2024, 12, 31)  # 365.25 days on


def test_no_retention_no_status() -> None:
    assert status(run(PERSONAL), date(2025, 1, 1)) is None
    unstarted = replace(run({**PERSONAL, "compliance.gdpr.retention_period": "P1Y"}),
                        started=0)
    assert status(unstarted, date(2025, 1, 1)) is None  # a period needs a known start


def test_the_day_judged_on_decides() -> None:
    target = run({**PERSONAL, "compliance.gdpr.retention_until": "2025-06-30"})
    before, on, after = (status(target, d) for d in
                         (date(2025, 6, 1), date(2025, 6, 30), date(2025, 7, 1)))
    assert before and on and after
    assert not before.expired and before.days_over == 0 and "29 days left" in before.action
    assert not on.expired and after.expired and after.days_over == 1


def test_without_personal_data_nothing_is_due() -> None:
    target = run({"compliance.gdpr.personal_data": "false",
                  "compliance.gdpr.retention_until": "2020-01-01"})
    found = status(target, date(2025, 1, 1))
    assert found is not None and found.expired and not found.due


def test_a_high_risk_version_and_its_run_are_kept_ten_years() -> None:
    tags = {**HIGH, "compliance.gdpr.retention_until": "2024-06-30"}
    source = run(tags)
    high = version(tags, source, date(2024, 2, 1))
    keeping = art18_keeping(high, date(2025, 1, 1))
    assert keeping is not None and keeping.until == date(2034, 2, 1)
    assert keeping.ground == "AI Act Art. 18"
    kept = keepings_by_run([high], date(2025, 1, 1))
    for target in (source, high):
        found = status(target, date(2025, 1, 1), kept)
        assert found is not None and found.expired and not found.due
        assert found.action == KEPT_ACTION and found.kept_by == (keeping,)
    # ten years on, the keeping has run out
    assert art18_keeping(high, date(2034, 2, 2)) is None
    assert status(high, date(2034, 2, 2)).due  # type: ignore[union-attr]


def test_a_minimal_risk_version_is_not_kept() -> None:
    tags = {**PERSONAL, "compliance.gdpr.retention_until": "2024-06-30"}
    source = run(tags)
    minimal = version(tags, source, date(2024, 2, 1))
    assert art18_keeping(minimal, date(2025, 1, 1)) is None
    assert keepings_by_run([minimal], date(2025, 1, 1)) == {}
    found = status(minimal, date(2025, 1, 1))
    assert found is not None and found.due


def test_29_february_plus_ten_years() -> None:
    assert plus_years(date(2024, 2, 29), 10) == date(2034, 3, 1)


# --- the command line against a real server -----------------------------------------


def cli(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MLFLOW_TRACKING_URI": server.url}
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=300, env=env)


def test_retention_status_on_a_real_server(server: Server) -> None:
    client = mlflow.MlflowClient(server.url)
    experiment = client.create_experiment(f"retention-{uuid.uuid4().hex[:8]}")
    past = {"compliance.gdpr.retention_until": "2020-01-31"}
    due = client.create_run(experiment, tags={**PERSONAL, **past}, run_name="due").info.run_id
    high = client.create_run(experiment, tags={**HIGH, **past}, run_name="high").info.run_id
    later = client.create_run(experiment, run_name="later", tags={
        **PERSONAL, "compliance.gdpr.retention_until": "2999-01-01"}).info.run_id
    client.create_run(experiment, tags=PERSONAL, run_name="undeclared")
    name = f"retention-high-{uuid.uuid4().hex[:6]}"
    client.create_registered_model(name)
    client.create_model_version(name, f"runs:/{high}/model", run_id=high)

    listed = cli(server, "retention", "status", "--experiment", experiment,
                 "--format", "json")
    assert listed.returncode == 1, listed.stderr
    answer = json.loads(listed.stdout)
    assert answer["runs"] == 4 and answer["versions"] == 1 and answer["due"] == 1
    assert isinstance(answer["legal_holds"], list)  # the admin reads the hold register
    items = {i["id"]: i for i in answer["items"]}
    assert set(items) == {due, high, f"{name}/1"}
    assert items[due]["due"] and items[due]["action"] == DUE
    assert items[due]["kept_until"] == "2020-01-31" and items[due]["days_over"] > 0
    for kept in (high, f"{name}/1"):
        assert not items[kept]["due"] and items[kept]["action"] == KEPT_ACTION
        assert [k["ground"] for k in items[kept]["kept_by"]] == ["AI Act Art. 18"]
    assert "1 due for erasure" in listed.stderr

    every = json.loads(cli(server, "retention", "status", "--experiment", experiment,
                           "--all", "--format", "json").stdout)
    assert {i["id"] for i in every["items"]} == {due, high, later, f"{name}/1"}

    before = cli(server, "retention", "status", "--experiment", experiment, "--on",
                 "2020-01-31", "--format", "json")
    assert before.returncode == 0, before.stderr
    assert json.loads(before.stdout)["items"] == []

    table = cli(server, "retention", "status", "--experiment", experiment)
    assert table.returncode == 1 and "erasure" in table.stdout and "Art. 18" in table.stdout


@pytest.mark.parametrize("args", [("--on", "31/01/2020"), ("--format", "xml")])
def test_bad_usage_is_exit_2_in_one_line(server: Server, args: tuple[str, ...]) -> None:
    done = cli(server, "retention", "status", *args)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
