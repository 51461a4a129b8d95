"""A broken compliance.toml names the file, the line and the field, and stops
``mlflow.start_run()`` before the run exists (a local SQLite tracking store, no server)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from mlflow_compliance.project import (
    ProjectConfigError,
    ProjectConfigStopsRun,
    find_line,
    load_project,
)

GOOD = """\
# project defaults
[record]
regulations = ["GDPR"]
data_privacy = "enabled"

[record.gdpr]
personal_data = false
purpose = "Classify iris species from flower measurements"

[record.ai_act]
risk_class = "minimal"
"""


def write(folder: Path, text: str) -> Path:
    path = folder / "compliance.toml"
    path.write_text(text)
    return path


def problem(path: Path) -> ProjectConfigError:
    with pytest.raises(ProjectConfigError) as caught:
        load_project(path)
    return caught.value


@pytest.mark.parametrize(
    ("text", "line", "field", "reason"),
    [
        (GOOD.replace('"minimal"', '"limited"'), 11, "compliance.ai_act.risk_class",
         "'limited' is not a risk class of the AI Act"),
        (GOOD.replace('purpose = "Classify iris species from flower measurements"',
                      'purpose = "TBD"'), 8, "compliance.gdpr.purpose",
         "'TBD' is not allowed; allowed: text of 20 to 500 characters"),
        (GOOD.replace('data_privacy = "enabled"', 'data_privacy = "on"'), 4, "data_privacy",
         "'on' is not allowed; allowed: one of enabled, disabled"),
        (GOOD.replace('regulations = ["GDPR"]', 'regulations = ["HIPAA"]'), 3, "compliance",
         "'HIPAA' is not allowed"),
        (GOOD.replace("personal_data = false", 'personal_data = false\nlawfull_basis = "x"'),
         8, "compliance.gdpr.lawfull_basis", "did you mean compliance.gdpr.lawful_basis?"),
        (GOOD.replace("personal_data = false", "personal_data = true")
         .replace('data_privacy = "enabled"', 'data_privacy = "disabled"'), 4, "data_privacy",
         "disabled while compliance.gdpr.personal_data is true"),
        ('[record]\ngdpr.retention_period = "P0D"\n', 2, "compliance.gdpr.retention_period",
         "not zero"),
        ('[record]\ngdpr = { personal_data = false, lawful_basis = "maybe" }\n', 2,
         "compliance.gdpr.lawful_basis", "'maybe' is not allowed"),
    ],
)
def test_a_bad_field_names_file_line_and_field(
    tmp_path: Path, text: str, line: int, field: str, reason: str
) -> None:
    path = write(tmp_path, text)
    error = problem(path)
    assert (error.path, error.line, error.field) == (path.resolve(), line, field)
    assert str(error).startswith(f"{path.resolve()}:{line}: {field}: ")
    assert reason in str(error)
    assert "\n" not in str(error)


def test_every_bad_field_is_listed_with_its_own_line(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace('"minimal"', '"extreme"')
                 .replace('data_privacy = "enabled"', 'data_privacy = "on"'))
    message = str(problem(path))
    assert f"{path.resolve()}:4: data_privacy:" in message
    assert f"{path.resolve()}:11: compliance.ai_act.risk_class:" in message


@pytest.mark.parametrize(
    ("text", "line", "field"),
    [
        ('[record.gdpr]\npersonal_data = tru\n', 2, "compliance.gdpr.personal_data"),
        ('[record]\ndata_privacy = "enabled\n', 2, "data_privacy"),
        ('[record.ai_act]\nrisk_class = "high"\nrisk_class = "minimal"\n', 3,
         "compliance.ai_act.risk_class"),
    ],
)
def test_invalid_toml_names_file_line_and_field(
    tmp_path: Path, text: str, line: int, field: str
) -> None:
    path = write(tmp_path, text)
    error = problem(path)
    assert (error.line, error.field) == (line, field)
    assert str(error).startswith(f"{path.resolve()}:{line}: {field}: not valid TOML (")


def test_unknown_tables_and_check_keys_name_their_line(tmp_path: Path) -> None:
    error = problem(write(tmp_path, GOOD + "\n[recrod]\n"))
    assert error.line == 13 and "[recrod]: unknown table; allowed: record, check" in str(error)
    error = problem(write(tmp_path, GOOD + "\n[check]\nrules = \"gdpr\"\n"))
    assert error.line == 14 and "[check] rules: a list of rule packs" in str(error)


def test_find_line_falls_back_to_the_nearest_table() -> None:
    assert find_line(GOOD, ("record", "gdpr", "purpose")) == 8
    assert find_line(GOOD, ("record", "gdpr", "lawful_basis")) == 6
    assert find_line(GOOD, ("check", "rules")) is None


# --- mlflow.start_run() in a project with a broken compliance.toml -------------------


@pytest.fixture(scope="module")
def sqlite_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('tracking') / 'mlflow.db'}"


@pytest.fixture
def local_tracking(
    sqlite_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[mlflow.MlflowClient]:
    """A local SQLite tracking store and a project folder with no compliance.toml yet."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", sqlite_uri)
    monkeypatch.delenv("MLFLOW_COMPLIANCE_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(sqlite_uri)
    yield mlflow.MlflowClient(sqlite_uri)
    while mlflow.active_run():
        mlflow.end_run()
    mlflow.set_tracking_uri(previous)


def all_runs(client: mlflow.MlflowClient) -> list[mlflow.entities.Run]:
    experiments = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(experiments)


def test_a_good_compliance_toml_tags_a_plain_start_run(
    local_tracking: mlflow.MlflowClient, tmp_path: Path
) -> None:
    write(tmp_path, GOOD)
    with mlflow.start_run() as run:
        pass
    tags = local_tracking.get_run(run.info.run_id).data.tags
    assert tags["compliance.ai_act.risk_class"] == "minimal"
    assert tags["compliance.gdpr.personal_data"] == "false"


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (GOOD.replace('"minimal"', '"limited"'), ":11: compliance.ai_act.risk_class: "),
        ('[record.gdpr]\npersonal_data = tru\n', ":2: compliance.gdpr.personal_data: "),
        (GOOD.replace("personal_data = false", "personal_data = false\nlawful_basis = \"consent\""),
         ":8: compliance.gdpr.lawful_basis: set while compliance.gdpr.personal_data is false"),
    ],
)
def test_a_broken_compliance_toml_stops_start_run_before_the_run_exists(
    local_tracking: mlflow.MlflowClient, tmp_path: Path, text: str, where: str
) -> None:
    path = write(tmp_path, text)
    (tmp_path / "training").mkdir()
    before = len(all_runs(local_tracking))
    with pytest.raises(ProjectConfigStopsRun) as caught:
        mlflow.start_run()
    assert str(caught.value).startswith(f"{path.resolve()}{where}")
    assert isinstance(caught.value.error, ProjectConfigError)
    assert not isinstance(caught.value, Exception)  # MLflow's `except Exception` lets it by
    assert mlflow.active_run() is None
    assert len(all_runs(local_tracking)) == before


def test_a_broken_compliance_toml_does_not_crash_other_askers_of_context_tags(
    local_tracking: mlflow.MlflowClient, tmp_path: Path
) -> None:
    # A dataset's source (and a trace's metadata) also asks the run context providers;
    # those only get MLflow's warning, so a traced function in production keeps working.
    write(tmp_path, GOOD.replace('"minimal"', '"limited"'))
    dataset = mlflow.data.from_pandas(pd.DataFrame({"a": [1, 2]}), name="numbers")
    assert dataset.name == "numbers"
