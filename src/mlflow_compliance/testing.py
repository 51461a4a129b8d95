"""Real servers on loopback, for the test suite and the benchmarks: the compliance server
and plain `mlflow server`, each on its own home."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


ADMIN_PASSWORD = "admin-" + os.urandom(12).hex()
"""The bootstrap admin's password on every compliance server this process starts."""


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    home: Path
    auth: tuple[str, str] | None = None  # the admin's Basic credentials (None: plain MLflow)
    backend_store_uri: str | None = None  # given explicitly (PostgreSQL), else the home's

    def audit_url(self) -> str:
        """Where this compliance server keeps its audit log."""
        from mlflow_compliance.settings import Settings

        return Settings(self.home, backend_store_uri=self.backend_store_uri).audit_url

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


MINIMUM_RECORD = {"compliance.gdpr.personal_data": "false",
                  "compliance.ai_act.risk_class": "minimal"}
"""The minimum compliance record (as run tags): a model version is registered only from
a run whose record holds it."""


TEST_SERVER_ENV = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
"""Every test server, ours and plain MLflow alike: without MLflow's background job runner
(a dozen worker processes for GenAI jobs, which are admin-only and which no test runs),
a server starts in about half the time. A test that needs jobs passes its own env."""


def _start(command: list[str], home: Path, port: int, env: dict[str, str] | None) -> Server:
    env = {**TEST_SERVER_ENV, **(env or {})}
    home.mkdir(parents=True, exist_ok=True)
    log = home / "server.log"
    process = subprocess.Popen(
        command,
        cwd=home,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, **(env or {})},
    )
    server = Server(f"http://127.0.0.1:{port}", process, log, home)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(server.url + "/health", timeout=2).status_code == 200:
                return server
        except requests.RequestException:
            pass
        time.sleep(0.3)
    server.stop()
    raise RuntimeError(f"server did not answer within 120 s:\n{log.read_text()[-3000:]}")


def start_compliance_server(
    home: Path,
    workers: int = 1,
    backend_store_uri: str | None = None,
    env: dict[str, str] | None = None,
    extra_args: list[str] | None = None,
) -> Server:
    port = free_port()
    command = [
        str(BIN / "mlflow-compliance"), "server",
        "--home", str(home), "--port", str(port), "--workers", str(workers),
        *(extra_args or []),
    ]
    if backend_store_uri:
        command += ["--backend-store-uri", backend_store_uri]
    server = _start(
        command, home, port, {"MLFLOW_COMPLIANCE_ADMIN_PASSWORD": ADMIN_PASSWORD, **(env or {})}
    )
    server.auth = ("admin", ADMIN_PASSWORD)
    server.backend_store_uri = backend_store_uri
    return server


def start_plain_mlflow_server(
    home: Path, workers: int = 1, env: dict[str, str] | None = None, app_name: str | None = None
) -> Server:
    """Plain ``mlflow server`` on the same kind of home: the baseline.

    ``app_name="basic-auth"`` runs MLflow's own (experimental) authentication instead,
    with admin's password ADMIN_PASSWORD.
    """
    port = free_port()
    db = home / "mlflow.db"
    command = [
        str(BIN / "mlflow"), "server",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--backend-store-uri", f"sqlite:///{db}",
        "--registry-store-uri", f"sqlite:///{db}",
        "--serve-artifacts", "--artifacts-destination", str(home / "artifacts"),
        "--default-artifact-root", "mlflow-artifacts:/",
    ]
    if app_name != "basic-auth":
        return _start(command, home, port, env)
    auth_env = {
        "MLFLOW_AUTH_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "MLFLOW_FLASK_SERVER_SECRET_KEY": os.urandom(16).hex(),
        **(env or {}),
    }
    server = _start([*command, "--app-name", "basic-auth"], home, port, auth_env)
    server.auth = ("admin", ADMIN_PASSWORD)
    return server


def mlflow_routes() -> set[tuple[str, str]]:
    """Every (method, path) the installed MLflow server answers, Flask and FastAPI.

    Path parameters are written ``x`` whatever their name, so both frameworks' routes
    compare alike. Used by tests that must notice a route a new MLflow release adds.
    """
    import re

    from mlflow.server import app as flask_app
    from mlflow.server.fastapi_app import app as fastapi_app

    routes: set[tuple[str, str]] = set()
    for rule in flask_app.url_map.iter_rules():
        for method in rule.methods or ():
            routes.add((method, re.sub(r"<[^>]+>", "x", rule.rule)))

    def walk(items: list[Any], prefix: str) -> None:
        for route in items:
            included = getattr(route, "original_router", None)
            if included is not None:  # FastAPI's include_router keeps the router nested
                context = getattr(route, "include_context", None)
                walk(included.routes, prefix + getattr(context, "prefix", ""))
                continue
            for method in getattr(route, "methods", None) or ():
                routes.add((method, re.sub(r"\{[^}]+\}", "x", prefix + route.path)))

    walk(list(fastapi_app.routes), "")
    return {(m, p) for m, p in routes if m not in ("HEAD", "OPTIONS")}
