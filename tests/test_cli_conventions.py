"""One command line: ``<group> <verb>`` everywhere, the old names as hidden aliases, one
name for the audit database, ``--format table|json`` on every list, MLflow's HTTP client,
and one exit-code policy (0 ok, 1 a finding, 2 usage, input or internal error)."""

from __future__ import annotations

import ast
import json
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

import mlflow_compliance.cli as cli_package
from mlflow_compliance.audit.local import local_entry
from mlflow_compliance.audit.log import AuditLog
from mlflow_compliance.audit.signing import Signer
from mlflow_compliance.cli import ALIASES, COMMANDS
from mlflow_compliance.cli import cli as command_line
from mlflow_compliance.cli.remote import host_creds
from mlflow_compliance.testing import Server

CLI_SOURCES = Path(cli_package.__file__).parent


def run(*args: str, input: str | None = None, **env: str) -> Result:
    return CliRunner().invoke(command_line, list(args), input=input, env=env)


def every_command() -> Iterator[tuple[str, click.Command]]:
    """(path, command) of every leaf command, aliases excluded."""

    def walk(path: str, command: click.Command) -> Iterator[tuple[str, click.Command]]:
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                yield from walk(f"{path} {name}", sub)
        else:
            yield path, command

    ctx = click.Context(command_line)
    for name in COMMANDS:
        found = command_line.get_command(ctx, name)
        assert found is not None
        yield from walk(name, found)


def option(command: click.Command, name: str) -> click.Option | None:
    for param in command.params:
        if isinstance(param, click.Option) and param.name == name:
            return param
    return None


# --- <group> <verb> and the old names -------------------------------------------------


def test_every_command_is_a_group_and_a_verb() -> None:
    singles = {"server", "check", "lineage"}  # one verb of their own
    for path, _ in every_command():
        words = path.split()
        assert len(words) >= 2 or words[0] in singles, path
    assert {p for p, _ in every_command()} >= {
        "grants add", "grants remove", "grants list", "signoffs add", "signoffs list",
        "account password", "account tokens create", "account tokens list",
        "account tokens revoke", "users list", "tokens list",
    }


def test_old_names_are_hidden_aliases() -> None:
    top = run("--help").stdout
    for old, (group, _) in ALIASES.items():
        assert f"\n  {old} " not in top
        assert f"\n  {group} " in top
        helped = run(old, "--help")
        assert helped.exit_code == 0
        assert helped.stdout.startswith(f"Usage: cli {old} ")


def test_an_old_name_still_works_and_says_the_new_one(server: Server) -> None:
    name = f"alias-{uuid.uuid4().hex[:6]}"
    env = {"MLFLOW_TRACKING_URI": server.url}
    assert run("users", "create", name, "--password", "a long enough password",
               **env).exit_code == 0
    granted = run("grant", name, "--experiment", "0", "--permission", "read", **env)
    assert granted.exit_code == 0, granted.stderr
    assert "`mlflow-compliance grants add`" in granted.stderr
    listed = json.loads(run("grants", "list", name, "--format", "json", **env).stdout)
    assert listed["grants"] == [{"user": name, "kind": "experiment", "target": "0",
                                 "permission": "read"}]
    revoked = run("revoke", name, "--experiment", "0", **env)
    assert revoked.exit_code == 0 and "`mlflow-compliance grants remove`" in revoked.stderr
    approve = run("approve", "no-such-model", "1", "--note", "  ", **env)
    assert approve.exit_code == 2 and "--note" in approve.stderr
    assert "`mlflow-compliance signoffs add`" in approve.stderr


# --- one option name for the audit database -----------------------------------------


def test_every_command_writing_the_audit_log_names_it_audit_database_url() -> None:
    writers = {p for p, c in every_command() if option(c, "audit_database_url")}
    assert writers == {"server", "audit verify", "audit export", "audit head", "audit purge",
                       "keys status", "keys rotate", "keys shred"}
    for path, command in every_command():
        found = option(command, "audit_database_url")
        if found is not None:
            assert found.opts == ["--audit-database-url"], path
        old = option(command, "database_url")
        assert old is None or old.hidden, path  # the old name of `audit`, hidden


def test_the_old_audit_option_name_still_works(server: Server) -> None:
    for name in ("--database-url", "--audit-database-url"):
        done = run("audit", "verify", "--home", str(server.home), name, server.audit_url())
        assert done.exit_code == 0, done.stderr
        assert done.stdout.startswith("intact: ")
    both = run("audit", "verify", "--home", str(server.home), "--audit-database-url",
               server.audit_url(), "--database-url", "sqlite:////elsewhere.db")
    assert both.exit_code == 2 and "--database-url" in both.stderr


def test_keys_refuse_an_audit_database_that_is_not_there(server: Server, tmp_path: Path) -> None:
    nowhere = tmp_path / "no-audit.db"
    done = run("keys", "status", "--home", str(server.home), "--audit-database-url",
               f"sqlite:///{nowhere}")
    assert done.exit_code == 2
    assert "no audit log there" in done.stderr and done.stderr.count("\n") == 1
    assert not nowhere.exists()  # nothing created by mistake


def test_keys_log_to_the_audit_database_given(server: Server) -> None:
    done = run("keys", "status", "--home", str(server.home), "--audit-database-url",
               server.audit_url(), "--format", "json")
    assert done.exit_code == 0, done.stderr
    assert "key_encryption_keys" in json.loads(done.stdout)
    with sqlite3.connect(server.home / "audit.db") as db:
        last = db.execute("SELECT action, principal FROM compliance_audit_entries "
                          "ORDER BY seq DESC LIMIT 1").fetchone()
    assert last[0] == "keys.status" and last[1].startswith("local:")


def test_nothing_to_shred_is_exit_0(server: Server) -> None:
    done = run("keys", "shred", "--home", str(server.home), "--model-id", "m-nothing-here",
               "--yes")
    assert done.exit_code == 0, done.stderr
    assert done.stdout.startswith("nothing to shred")


# --- lists ----------------------------------------------------------------------------


def test_every_list_command_has_format_table_or_json() -> None:
    lists = [(p, c) for p, c in every_command()
             if p.split()[-1] in ("list", "search", "show", "status")]
    assert {p for p, _ in lists} == {
        "users list", "grants list", "tokens list", "account tokens list", "signoffs list",
        "audit search", "keys status", "record show", "subjects requests list",
        "retention status", "retention holds list",
    }
    for path, command in lists:
        found = option(command, "form")
        assert found is not None and found.opts == ["--format"], path
        assert isinstance(found.type, click.Choice)
        assert {"table", "json"} <= set(found.type.choices), path
        assert found.default == "table", path


def test_signoffs_and_audit_search_print_json_that_parses(server: Server) -> None:
    env = {"MLFLOW_TRACKING_URI": server.url}
    none = run("signoffs", "list", "no-such-model", "1", "--format", "json", **env)
    assert none.exit_code == 2 or json.loads(none.stdout) == {"approvals": []}
    page = run("audit", "search", "--action", "account.*", "--format", "json", **env)
    assert page.exit_code == 0, page.stderr
    assert "entries" in json.loads(page.stdout)


# --- one HTTP client: MLflow's --------------------------------------------------------


def test_the_command_line_does_not_use_requests() -> None:
    for source in CLI_SOURCES.glob("*.py"):
        tree = ast.parse(source.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                assert all(a.name.split(".")[0] != "requests" for a in node.names), source
            if isinstance(node, ast.ImportFrom):
                assert (node.module or "").split(".")[0] != "requests", source


def test_mlflow_client_variables_set_up_tls_and_credentials(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bundle = tmp_path / "ca.pem"
    monkeypatch.setenv("MLFLOW_TRACKING_SERVER_CERT_PATH", str(bundle))
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "mlc_example")
    creds = host_creds("https://mlflow.example.org")
    assert creds.verify == str(bundle) and creds.token == "mlc_example"
    monkeypatch.delenv("MLFLOW_TRACKING_SERVER_CERT_PATH")
    monkeypatch.setenv("MLFLOW_TRACKING_INSECURE_TLS", "true")
    assert host_creds("https://mlflow.example.org").verify is False


def test_https_to_a_plain_http_server_is_exit_2(server: Server) -> None:
    done = run("users", "list",
               MLFLOW_TRACKING_URI=server.url.replace("http://", "https://"))
    assert done.exit_code == 2
    assert "cannot reach" in done.stderr and done.stderr.count("\n") == 1


# --- exit codes -----------------------------------------------------------------------


def test_a_crash_is_one_line_and_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    import mlflow_compliance.cli.record as record

    def broken() -> None:
        raise RuntimeError("something broke\nwith a second line")

    monkeypatch.setattr(record, "find_project_file", broken)
    done = run("record", "show")
    assert done.exit_code == 2
    assert done.stderr == "Error: internal error: RuntimeError: something broke\n"


def test_an_interrupted_prompt_is_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args: object, **kwargs: object) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(click, "prompt", interrupted)
    done = run("account", "password")
    assert done.exit_code == 2 and done.stderr.endswith("Aborted.\n")
    ended = run("users", "set-password", "someone", input="")
    assert ended.exit_code == 2 and ended.stderr.endswith("Aborted.\n")


def test_usage_errors_are_exit_2_with_a_hint() -> None:
    done = run("grants", "add")
    assert done.exit_code == 2
    assert done.stderr == ("Error: Missing argument 'NAME'. "
                           "(see cli grants add --help)\n")
    bare = run("grants")
    assert bare.exit_code == 2 and bare.stderr.startswith("Usage: ")
    assert not bare.stderr.startswith("Error: Usage")


def test_a_finding_is_exit_1(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    log = AuditLog(f"sqlite:///{home / 'audit.db'}", home, Signer.load_or_create(home))
    log.create()
    log.append([local_entry("test.entry", {"n": str(i)}, 0) for i in range(3)])
    log.close()
    assert run("audit", "verify", "--home", str(home)).exit_code == 0
    with sqlite3.connect(home / "audit.db") as db:
        db.execute("UPDATE compliance_audit_entries SET principal = 'mallory' WHERE seq = 2")
    done = run("audit", "verify", "--home", str(home))
    assert done.exit_code == 1, done.output
    assert done.stdout.startswith("TAMPERED: ")
