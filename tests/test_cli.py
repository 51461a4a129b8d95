"""The command line: exit codes and one-line errors.

Argument handling runs in-process (click's CliRunner, through the same exit-code
handling as the console script); a few tests run the installed ``mlflow-compliance``
end to end.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mlflow_compliance.cli import cli as command_line
from mlflow_compliance.testing import BIN, Server

CLI = str(BIN / "mlflow-compliance")


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def run(*args: str, **env: str) -> Result:
    return CliRunner().invoke(command_line, list(args), env=env)


def test_bad_server_option_is_one_line_and_exit_2() -> None:
    done = run("server", "--workers", "0")
    assert done.exit_code == 2
    assert done.stderr.count("\n") == 1
    assert "--workers" in done.stderr and "1<=x<=64" in done.stderr


def test_too_short_admin_password_is_one_line_and_exit_2(tmp_path: Path) -> None:
    # A subprocess: `server` execs MLflow's server when its checks pass.
    done = subprocess.run(
        [CLI, "server", "--home", str(tmp_path / "home")], capture_output=True, text=True,
        timeout=120, env={**os.environ, "MLFLOW_COMPLIANCE_ADMIN_PASSWORD": "short"},
    )
    assert done.returncode == 2
    assert done.stderr == (
        "Error: MLFLOW_COMPLIANCE_ADMIN_PASSWORD: password: shorter than 12 characters\n"
    )


def test_unknown_command_is_exit_2() -> None:
    done = cli("frobnicate")
    assert done.returncode == 2
    assert done.stderr.startswith("Error: No such command 'frobnicate'")
    assert run("frobnicate").exit_code == 2


def test_record_show_lists_the_tags_every_run_gets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "compliance.toml").write_text(
        '[record]\nregulations = ["GDPR", "AI Act"]\n[record.ai_act]\nrisk_class = "high"\n'
    )
    monkeypatch.chdir(tmp_path)
    done = run("record", "show")
    assert done.exit_code == 0, done.stderr
    assert "compliance.ai_act.risk_class" in done.stdout
    assert "GDPR,AI Act" in done.stdout
    as_json = json.loads(run("record", "show", "--format", "json").stdout)
    assert as_json["tags"]["compliance.ai_act.risk_class"] == "high"
    assert as_json["file"] == str(tmp_path / "compliance.toml")


def test_record_show_end_to_end(tmp_path: Path) -> None:
    (tmp_path / "compliance.toml").write_text('[record]\nregulations = ["GDPR"]\n')
    done = cli("record", "show", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "compliance" in done.stdout and "GDPR" in done.stdout


def test_record_show_names_the_bad_field_and_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "compliance.toml"
    bad.write_text('[record.ai_act]\nrisk_class = "huge"\n[record.gdpr]\nretention_period = "1y"\n')
    done = run("record", "show", str(bad))
    assert done.exit_code == 2
    assert done.stderr.count("\n") == 1
    assert "compliance.ai_act.risk_class: 'huge' is not allowed" in done.stderr
    assert "compliance.gdpr.retention_period: '1y' is not allowed" in done.stderr


def test_record_show_refuses_an_unknown_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "compliance.toml").write_text("[recrod]\n")
    monkeypatch.chdir(tmp_path)
    done = run("record", "show")
    assert done.exit_code == 2
    assert "[recrod]: unknown table; allowed: record, check" in done.stderr


def test_record_show_without_any_compliance_toml_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    done = run("record", "show")
    assert done.exit_code == 2
    assert "no compliance.toml" in done.stderr


def test_record_show_with_a_missing_named_config_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    done = run("record", "show", MLFLOW_COMPLIANCE_CONFIG=str(tmp_path / "nope.toml"))
    assert done.exit_code == 2
    missing = tmp_path / "nope.toml"
    assert done.stderr == f"Error: MLFLOW_COMPLIANCE_CONFIG: {missing} is not a file\n"


def test_record_reference_prints_the_docs_page() -> None:
    done = run("record", "reference")
    assert done.exit_code == 0
    assert done.stdout.startswith("# Compliance record reference")


def test_server_is_mlflow_server_with_the_compliance_app_on_the_home(server: Server) -> None:
    # `mlflow-compliance server` execs MLflow's own server command in the same process.
    command = Path(f"/proc/{server.process.pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    assert "-m mlflow server --app-name compliance" in command
    assert f"sqlite:///{server.home.resolve()}/mlflow.db" in command
    assert (server.home / "mlflow.db").is_file()
    assert (server.home / "artifacts").is_dir()
    assert oct((server.home / "artifacts").stat().st_mode & 0o777) == "0o700"
