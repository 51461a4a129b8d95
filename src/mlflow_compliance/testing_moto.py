"""S3 and KMS on loopback: moto in server mode, for the test suite.

A real HTTP server in its own process, not moto's in-process mocks, so boto3 and
MLflow's S3 artifact repository go through their whole stack (endpoints from the
environment, retries, timeouts) as they do against AWS. One port serves both services.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from mlflow_compliance.testing import free_port

_START_SECONDS = 60


@dataclass
class MotoServer:
    endpoint_url: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def start_moto_server(log: Path | None = None) -> MotoServer:
    """A moto server on a free loopback port, answering HTTP; its output goes to ``log``
    (a temporary file by default), so a failing test can show it without flooding the
    terminal."""
    port = free_port()
    if log is None:
        log = Path(tempfile.mkdtemp(prefix="moto-")) / "moto.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = MotoServer(f"http://127.0.0.1:{port}", process, log)
    deadline = time.monotonic() + _START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto server exited early:\n{log.read_text()[-3000:]}")
        try:
            requests.get(server.endpoint_url + "/moto-api/", timeout=2)
            return server
        except requests.RequestException:
            time.sleep(0.2)
    server.stop()
    raise RuntimeError(
        f"moto server did not answer within {_START_SECONDS} s:\n{log.read_text()[-3000:]}"
    )


def aws_test_environment(endpoint_url: str) -> dict[str, str]:
    """What boto3 and MLflow's S3 artifact repository need to use the moto server at
    ``endpoint_url``: dummy credentials, a region, and the S3 and KMS endpoints."""
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "MLFLOW_S3_ENDPOINT_URL": endpoint_url,
        "AWS_ENDPOINT_URL_S3": endpoint_url,
        "AWS_ENDPOINT_URL_KMS": endpoint_url,
    }
