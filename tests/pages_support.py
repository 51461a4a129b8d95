"""What the browser tests of the compliance pages (tests/test_pages_*.py) share.

Debian's chromium driven by Playwright (``executable_path``: no browser download), one
browser per test module, one context per person with HTTP Basic credentials (as the
browser's prompt would send them); people made with the real CLI: an ``auditor``, an
``approver`` (approver and personal-data clearances) and a read-only ``reader`` (no
clearance), each with the grants the test gives. Screenshots go to the test's tmp_path
and to ``PAGES_SCREENSHOTS`` when that is set (docs/screenshots for the README).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from mlflow_compliance.testing import Server, start_compliance_server
from tests.test_promotion_gate import cli

# Debian's chromium through Playwright, one browser per module: the UI tests' fixture
from tests.test_ui_browser import browser  # noqa: F401

PASSWORD = "a long enough password"


def person(server: Server, role: str = "user", *clearances: str) -> tuple[str, str]:
    """A new user of ``role`` with ``clearances``: (name, password)."""
    name = f"{role}-{uuid.uuid4().hex[:6]}"
    args = [a for c in clearances for a in ("--clearance", c)]
    done = cli(server, "users", "create", name, "--password", PASSWORD, "--role", role, *args)
    assert done.returncode == 0, done.stderr
    return name, PASSWORD


def grant(server: Server, who: str, kind: str, target: str, level: str = "read") -> None:
    done = cli(server, "grants", "add", who, f"--{kind}", target, "--permission", level)
    assert done.returncode == 0, done.stderr


def page_server(tmp_path_factory: pytest.TempPathFactory, folder: str) -> Iterator[Server]:
    """A compliance server for one test module (MLflow's job runner off: it serves no
    page, and leaves the CPU to the browser)."""
    s = start_compliance_server(tmp_path_factory.mktemp(folder),
                                env={"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"})
    yield s
    s.stop()


def context(chromium: Browser, credentials: tuple[str, str] | None) -> BrowserContext:
    return chromium.new_context(
        http_credentials=(
            {"username": credentials[0], "password": credentials[1]} if credentials else None
        ),
        viewport={"width": 1400, "height": 1000},
        java_script_enabled=False,  # the pages must work without JavaScript
    )


def screenshot(page: Page, tmp_path: Path, name: str) -> Path:
    """A full-page screenshot in tmp_path (and PAGES_SCREENSHOTS when set)."""
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if folder := os.environ.get("PAGES_SCREENSHOTS"):
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)
    return path
