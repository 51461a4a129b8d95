"""MLflow's own REST tracking tests (test_rest_tracking.py), run against our server.

MLflow's fixtures started an in-process server on a fresh database for every test. Here
one real server is started per role for the whole module (a start takes seconds), and each
test gets a fresh start another way: before it runs, every row MLflow's tables hold is
deleted from the server's SQLite database (the Default experiment is kept, as a new
server has it), so MLflow's assertions about "all experiments" still hold.

Roles (the module runs once per role):

- ``admin``: the bootstrap administrator (``admin`` / ADMIN_PASSWORD);
- ``user``: an ordinary user made through the administration API, with edit on MLflow's
  Default experiment (the tests log there too) and no other grant; it owns what it
  creates.

MLflow's client acts as the role through MLFLOW_TRACKING_USERNAME/PASSWORD; the tests'
raw ``requests`` calls carry the same credentials through a netrc file (NETRC), which
``requests`` reads for any request made without explicit auth.

``MLFLOW_SUITE_TARGET=plain`` runs the same tests against plain ``mlflow server`` instead
(once, by hand: the baseline of expected_differences.py); nothing is marked xfail then.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pytest
import requests
from mlflow import MlflowClient

from mlflow_compliance.testing import (
    ADMIN_PASSWORD,
    Server,
    start_compliance_server,
    start_plain_mlflow_server,
)
from tests.mlflow_suite.expected_differences import EXCLUDED, EXPECTED_DIFFERENCES

HERE = Path(__file__).resolve().parent
TARGET_ENV = "MLFLOW_SUITE_TARGET"
# MLflow's own fixtures set this passphrase for its secrets (gateway) store.
KEK_PASSPHRASE = "test-passphrase-at-least-32-characters-long"
USER_NAME = "suite-user"

# Tables a reset leaves alone: schema version and server bookkeeping, and the compliance
# state that is not about the objects the tests create (users, tokens, key-encryption keys).
KEEP_TABLES = {"alembic_version", "workspaces", "scheduler_leases", "job_locks"}
KEEP_COMPLIANCE_TABLES = {
    "compliance_users",
    "compliance_tokens",
    "compliance_key_encryption_keys",
    "compliance_audit_entries",
    "compliance_audit_tip",
    "compliance_audit_anchors",
}


def target() -> str:
    value = os.environ.get(TARGET_ENV, "compliance")
    if value not in ("compliance", "plain"):
        raise pytest.UsageError(
            f"{TARGET_ENV}: {value!r} is not allowed; allowed: compliance, plain"
        )
    return value


def roles() -> tuple[str, ...]:
    return ("admin", "user") if target() == "compliance" else ("plain",)


@dataclass
class SuiteServer:
    server: Server
    database: Path
    username: str | None  # None: plain MLflow, no credentials
    password: str | None
    netrc: Path | None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "allow_infer_pip_requirements_fallback: MLflow's marker (no effect here)"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "role" in metafunc.fixturenames:
        rs = roles()
        metafunc.parametrize(
            "role", rs, indirect=True, scope="module", ids=[f"as-{r}" for r in rs]
        )


def _without_role(name: str) -> str:
    for r in ("admin", "user", "plain"):
        rid = f"as-{r}"
        name = (
            name.replace(f"-{rid}-", "-")
            .replace(f"[{rid}-", "[")
            .replace(f"-{rid}]", "]")
            .replace(f"[{rid}]", "")
        )
    return name


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    plain = target() == "plain"
    collected: set[tuple[str, str]] = set()  # (role, function) pairs collected
    marked: set[tuple[str, str]] = set()
    for item in items:
        if HERE not in Path(str(item.path)).resolve().parents:
            continue
        name = _without_role(item.name)
        function = getattr(item, "originalname", name)
        excluded = EXCLUDED.get(name) or EXCLUDED.get(function)
        if excluded:
            item.add_marker(pytest.mark.skip(reason=f"excluded: {excluded}"))
            continue
        callspec = getattr(item, "callspec", None)
        role = callspec.params.get("role") if callspec else None
        if plain or role is None:
            continue
        collected.add((role, function))
        reason = EXPECTED_DIFFERENCES.get((role, name))
        if reason:
            item.add_marker(pytest.mark.xfail(strict=True, reason=reason))
            marked.add((role, name))
    # An entry whose test was collected but matched nothing names no real test (a typo, or
    # MLflow renamed a test or a parameter): the list must say what it means.
    stale = sorted(
        key for key in EXPECTED_DIFFERENCES
        if key not in marked and (key[0], key[1].split("[")[0]) in collected
    )
    if stale:
        raise pytest.UsageError(f"expected_differences.py: entries that name no test: {stale}")


@pytest.fixture(scope="module")
def role(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _netrc(home: Path, username: str, password: str) -> Path:
    path = home / "netrc"
    path.write_text(f"machine 127.0.0.1 login {username} password {password}\n")
    path.chmod(0o600)
    return path


@pytest.fixture(scope="module")
def suite_server(role: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SuiteServer]:
    """One server for every test of the module in this role."""
    home = tmp_path_factory.mktemp(f"mlflow-suite-{role}")
    env = {
        "MLFLOW_CRYPTO_KEK_PASSPHRASE": KEK_PASSPHRASE,
        # No network here: MLflow's bundled model catalog only (MLflow's own switch for
        # air-gapped servers), not minutes of retries against the remote one.
        "MLFLOW_MODEL_CATALOG_URI": "",
        # MLflow's fixture served its app in-process, without `mlflow server`'s job runner
        # (a dozen worker processes this suite never uses).
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    }
    if role == "plain":
        server = start_plain_mlflow_server(home, env=env)
        yield SuiteServer(server, home / "mlflow.db", None, None, None)
        server.stop()
        return
    # MLflow's tests register model versions from runs that hold no compliance record;
    # the minimum record a version needs (MLFLOW_COMPLIANCE_REQUIRED_RECORD, default
    # personal_data and risk_class) would refuse them all. Off for this suite only: the
    # requirement itself is tested in tests/test_fail_closed.py.
    env["MLFLOW_COMPLIANCE_REQUIRED_RECORD"] = "none"
    server = start_compliance_server(home, env=env)
    try:
        if role == "admin":
            username, password = "admin", ADMIN_PASSWORD
        else:
            username, password = USER_NAME, "suite-" + secrets.token_hex(16)
            r = requests.post(
                server.url + "/api/2.0/compliance/users/create",
                json={"name": username, "password": password},
                auth=server.auth,
                timeout=30,
            )
            r.raise_for_status()
            # The tests log to MLflow's Default experiment as well as to their own: the
            # user has edit there, as an administrator grants it (or opens it to all with
            # MLFLOW_COMPLIANCE_DEFAULT_EXPERIMENT_PERMISSION=edit).
            r = requests.post(
                server.url + "/api/2.0/compliance/grants/set",
                json={"name": username, "kind": "experiment", "target": "0",
                      "permission": "edit"},
                auth=server.auth,
                timeout=30,
            )
            r.raise_for_status()
        yield SuiteServer(
            server, home / "mlflow.db", username, password, _netrc(home, username, password)
        )
    finally:
        server.stop()


def reset_database(database: Path) -> None:
    """Delete what earlier tests made: every row of MLflow's tables but the Default
    experiment, and the grants, approvals and data keys that were about those rows."""
    con = sqlite3.connect(database, timeout=60)
    try:
        con.execute("PRAGMA foreign_keys = OFF")
        tables = [
            row[0]
            for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        ]
        with con:
            for table in tables:
                if (
                    table in KEEP_TABLES
                    or table in KEEP_COMPLIANCE_TABLES
                    or table.startswith("sqlite_")
                ):
                    continue
                if table == "compliance_grants":  # the user's edit on the Default one
                    con.execute("DELETE FROM compliance_grants WHERE NOT "
                                "(kind = 'experiment' AND target = '0')")
                elif table == "experiments":
                    con.execute("DELETE FROM experiments WHERE experiment_id != 0")
                    con.execute(
                        "UPDATE experiments SET lifecycle_stage = 'active', name = 'Default' "
                        "WHERE experiment_id = 0"
                    )
                else:
                    con.execute(f'DELETE FROM "{table}"')
    finally:
        con.close()


@pytest.fixture
def mlflow_client(
    suite_server: SuiteServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[MlflowClient]:
    """Provides an MLflow Tracking API client pointed at the shared server, acting as the
    role, on a database as empty as a new server's."""
    reset_database(suite_server.database)
    url = suite_server.server.url
    if suite_server.username is not None:
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", suite_server.username)
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", suite_server.password or "")
        monkeypatch.setenv("NETRC", str(suite_server.netrc))
    # MLflow's fluent API (mlflow.start_run, mlflow.genai.datasets...) goes to this server.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    monkeypatch.setenv("MLFLOW_CRYPTO_KEK_PASSPHRASE", KEK_PASSPHRASE)
    # As in MLflow's own test environment: a trace is on the server when the span ends.
    monkeypatch.setenv("MLFLOW_ENABLE_ASYNC_TRACE_LOGGING", "false")
    mlflow.set_tracking_uri(None)
    mlflow.tracing.reset()
    yield MlflowClient(url)
    while mlflow.active_run():
        mlflow.end_run()
    mlflow.set_tracking_uri(None)
    mlflow.tracing.reset()


@pytest.fixture
def mlflow_client_with_secrets(mlflow_client: MlflowClient) -> MlflowClient:
    """MLflow's fixture made a fresh database with the secrets passphrase set; the shared
    server has the passphrase, and mlflow_client gives the fresh database."""
    return mlflow_client


@pytest.fixture
def store_type() -> str:
    """MLflow ran these tests on its file store and on SQLAlchemy (SQLite); the compliance
    server's embedded default is SQLite, so only that is run here."""
    return "sqlalchemy"
