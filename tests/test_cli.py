"""The command line: exit codes and one-line errors."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from mlflow_compliance.testing import BIN, Server

CLI = str(BIN / "mlflow-compliance")


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def test_bad_server_option_is_one_line_and_exit_2() -> None:
    done = cli("server", "--workers", "0")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "--workers" in done.stderr and "1<=x<=64" in done.stderr


def test_too_short_admin_password_is_one_line_and_exit_2(tmp_path: Path) -> None:
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


def test_record_show_lists_the_tags_every_run_gets(tmp_path: Path) -> None:
    (tmp_path / "compliance.toml").write_text(
        '[record]\nregulations = ["GDPR", "AI Act"]\n[record.ai_act]\nrisk_class = "high"\n'
    )
    done = cli("record", "show", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "compliance.ai_act.risk_class" in done.stdout
    assert "GDPR,AI Act" in done.stdout


def test_record_show_names_the_bad_field_and_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "compliance.toml"
    bad.write_text('[record.ai_act]\nrisk_class = "huge"\n[record.gdpr]\nretention_period = "1y"\n')
    done = cli("record", "show", str(bad))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "compliance.ai_act.risk_class: 'huge' is not allowed" in done.stderr
    assert "compliance.gdpr.retention_period: '1y' is not allowed" in done.stderr


def test_record_show_refuses_an_unknown_table(tmp_path: Path) -> None:
    (tmp_path / "compliance.toml").write_text("[recrod]\n")
    done = cli("record", "show", cwd=tmp_path)
    assert done.returncode == 2
    assert "unknown table [recrod]" in done.stderr


def test_record_show_without_any_compliance_toml_exits_2(tmp_path: Path) -> None:
    done = cli("record", "show", cwd=tmp_path)
    assert done.returncode == 2
    assert "no compliance.toml" in done.stderr


def test_record_show_with_a_missing_named_config_exits_2(tmp_path: Path) -> None:
    done = subprocess.run(
        [CLI, "record", "show"], capture_output=True, text=True, cwd=tmp_path, timeout=60,
        env={**os.environ, "MLFLOW_COMPLIANCE_CONFIG": str(tmp_path / "nope.toml")},
    )
    assert done.returncode == 2
    missing = tmp_path / "nope.toml"
    assert done.stderr == f"Error: MLFLOW_COMPLIANCE_CONFIG: {missing} is not a file\n"


def test_record_reference_prints_the_docs_page() -> None:
    done = cli("record", "reference")
    assert done.returncode == 0
    assert done.stdout.startswith("# Compliance record reference")


def test_server_is_mlflow_server_with_the_compliance_app_on_the_home(server: Server) -> None:
    # `mlflow-compliance server` execs MLflow's own server command in the same process.
    command = Path(f"/proc/{server.process.pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    assert "-m mlflow server --app-name compliance" in command
    assert f"sqlite:///{server.home.resolve()}/mlflow.db" in command
    assert (server.home / "mlflow.db").is_file()
    assert (server.home / "artifacts").is_dir()
    assert oct((server.home / "artifacts").stat().st_mode & 0o777) == "0o700"
