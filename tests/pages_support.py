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
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from mlflow_compliance.testing import Server
from tests.test_promotion_gate import cli
from tests.test_ui_browser import CHROMIUM, CHROMIUM_ARGS

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


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `bash scripts/chromium.sh` (run by `make services`)"
                    " installs Debian's chromium")
    with sync_playwright() as playwright:
        b = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                       args=CHROMIUM_ARGS)
        yield b
        b.close()


def context(browser: Browser, credentials: tuple[str, str] | None) -> BrowserContext:
    return browser.new_context(
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
