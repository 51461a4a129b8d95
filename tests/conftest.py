"""Real servers for the suite: a compliance server on SQLite and one on PostgreSQL.

Session-scoped, so the suite starts each once. PostgreSQL comes from
``scripts/postgres.sh`` (run by ``make test``), which sets MLFLOW_COMPLIANCE_TEST_PG.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
import sqlalchemy

from mlflow_compliance.testing import ADMIN_PASSWORD, Server, start_compliance_server
from mlflow_compliance.testing_moto import MotoServer, aws_test_environment, start_moto_server

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session", autouse=True)
def admin_credentials() -> Iterator[None]:
    """The MLflow client (and the scripts the tests run) act as the bootstrap admin."""
    saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")}
    os.environ["MLFLOW_TRACKING_USERNAME"] = "admin"
    os.environ["MLFLOW_TRACKING_PASSWORD"] = ADMIN_PASSWORD
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(autouse=True)
def no_active_experiment_carried_over() -> Iterator[None]:
    """``mlflow.set_experiment`` is process-global (and sets MLFLOW_EXPERIMENT_ID);
    a test that calls it must not send the next test's runs to an experiment id
    that only exists on another server."""
    yield
    mlflow.tracking.fluent._active_experiment_id = None
    os.environ.pop("MLFLOW_EXPERIMENT_ID", None)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = start_compliance_server(tmp_path_factory.mktemp("home-sqlite"))
    yield s
    s.stop()


def postgres_url() -> str:
    url = os.environ.get("MLFLOW_COMPLIANCE_TEST_PG")
    if not url:
        raise RuntimeError(
            "MLFLOW_COMPLIANCE_TEST_PG is not set: run the suite with `make test`, which "
            "starts PostgreSQL (scripts/postgres.sh)"
        )
    return url


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    admin = sqlalchemy.create_engine(postgres_url(), isolation_level="AUTOCOMMIT")
    name = f"mlflow_compliance_test_{uuid.uuid4().hex[:8]}"
    with admin.connect() as c:
        c.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    url = postgres_url().rsplit("/", 1)[0] + "/" + name
    s = start_compliance_server(tmp_path_factory.mktemp("home-pg"), backend_store_uri=url)
    yield s
    s.stop()
    with admin.connect() as c:
        c.execute(sqlalchemy.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test; its URL."""
    admin = sqlalchemy.create_engine(postgres_url(), isolation_level="AUTOCOMMIT")
    name = f"mlflow_compliance_test_{uuid.uuid4().hex[:8]}"
    with admin.connect() as c:
        c.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    yield postgres_url().rsplit("/", 1)[0] + "/" + name
    with admin.connect() as c:
        c.execute(sqlalchemy.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_server(request: pytest.FixtureRequest) -> Server:
    """The compliance server on each backend the product supports."""
    return request.getfixturevalue("server" if request.param == "sqlite" else "pg_server")


@pytest.fixture
def tracking(server: Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[mlflow.MlflowClient]:
    """The MLflow client pointed at the SQLite compliance server, no run active."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
    mlflow.set_tracking_uri(server.url)
    yield mlflow.MlflowClient(server.url)
    while mlflow.active_run():
        mlflow.end_run()


# --- S3 and KMS on loopback (moto server mode) ---


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """One moto server for the session, and boto3 and MLflow pointed at it through the
    environment (as a deployment would be), restored afterwards."""
    moto = start_moto_server(tmp_path_factory.mktemp("moto") / "moto.log")
    environment = aws_test_environment(moto.endpoint_url)
    saved = {k: os.environ.get(k) for k in environment}
    os.environ.update(environment)
    yield moto
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    moto.stop()
