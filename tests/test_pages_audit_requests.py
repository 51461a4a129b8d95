"""The audit log page, the data-subject requests page and the link in MLflow's own UI, in
a real browser (Debian's chromium, JavaScript off) against a real compliance server.

One server for the module. People: the bootstrap admin, an ``auditor``, a ``privacy``
user and a read-only ``user``; the user and the auditor each make requests, so the log
holds entries of several principals; two data-subject requests are recorded with the
CLI, one received long ago and so overdue.
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from mlflow.server import __file__ as mlflow_server_file
from playwright.sync_api import Browser, BrowserContext, Page

from mlflow_compliance.testing import Server
from tests.pages_support import browser, context, page_server, person, screenshot  # noqa: F401
from tests.test_subject_requests import cli as subjects_cli

AUDIT, EXPORT, REQUESTS = "/compliance/audit", "/compliance/audit/export", "/compliance/requests"


@dataclass
class Seed:
    people: dict[str, tuple[str, str]]  # admin, auditor, privacy, user: (name, password)
    subjects: list[str]  # the data subjects' ids, which no page may show
    requests: dict[str, dict[str, Any]]  # the register's two requests, by id
    overdue: str  # the id of the overdue one


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from page_server(tmp_path_factory, "home-pages-audit")


def entries_of(server: Server, principal: str, at_least: int = 0) -> list[dict[str, Any]]:
    """The principal's entries, through the REST search, once the log holds
    ``at_least`` of them (the server appends in batches, just after it answers)."""
    found: list[dict[str, Any]] = []
    for _ in range(200):
        r = requests.get(f"{server.url}/api/2.0/compliance/audit/search", auth=server.auth,
                         params={"principal": principal, "max_results": 1000}, timeout=30)
        assert r.status_code == 200, r.text
        found = r.json()["entries"]
        if len(found) >= at_least:
            return found
        time.sleep(0.1)
    raise AssertionError(f"{principal} has {len(found)} entries in the log, not {at_least}")


def added(server: Server, *args: str, stdin: str | None = None) -> str:
    done = subjects_cli(server, "subjects", "requests", "add", *args, stdin=stdin)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()[1].rstrip(":")


@pytest.fixture(scope="module")
def seed(server: Server) -> Seed:
    assert server.auth is not None
    people = {"admin": server.auth, "auditor": person(server, "auditor"),
              "privacy": person(server, "privacy"), "user": person(server, "user")}
    for who in ("user", "auditor"):
        for _ in range(3):
            r = requests.get(f"{server.url}/api/2.0/mlflow/experiments/search",
                             params={"max_results": 5}, auth=people[who], timeout=30)
            assert r.status_code == 200, r.text
    entries_of(server, people["user"][0], 3)
    entries_of(server, people["auditor"][0], 3)
    subjects = [f"subject-{uuid.uuid4().hex}@example.org" for _ in range(2)]
    recent = (datetime.now(UTC).date() - timedelta(days=3)).isoformat()
    fresh = added(server, "access", subjects[0], "--received", recent)
    overdue = added(server, "erasure", "-", "--received", "2020-01-31",
                    stdin=subjects[1] + "\n")
    r = requests.get(f"{server.url}/api/2.0/compliance/subjects/requests/list",
                     auth=server.auth, timeout=30)
    assert r.status_code == 200, r.text
    listed = {x["id"]: x for x in r.json()["requests"]}
    return Seed(people, subjects, {i: listed[i] for i in (fresh, overdue)}, overdue)


def tab(browser: Browser, credentials: tuple[str, str]) -> tuple[BrowserContext, Page]:  # noqa: F811
    made = context(browser, credentials)
    return made, made.new_page()


# --- the audit log page -----------------------------------------------------------------


@pytest.mark.parametrize("who", ["admin", "auditor", "privacy"])
def test_admins_auditors_and_privacy_see_the_log_and_the_signed_tip(
        browser: Browser, server: Server, seed: Seed, who: str, tmp_path: Path) -> None:  # noqa: F811
    made, page = tab(browser, seed.people[who])
    try:
        answer = page.goto(server.url + AUDIT)
        assert answer is not None and answer.status == 200
        tip = int(page.locator("#tip-seq").inner_text())
        assert tip >= 6  # at least the seeded requests
        assert "signature valid" in page.locator("#chain-heading + dl").inner_text()
        rows = page.locator("#entries tbody tr")
        assert rows.count() >= 6
        principals = set(page.locator("#entries td.principal").all_inner_texts())
        assert {seed.people["user"][0], seed.people["auditor"][0]} <= principals
        assert page.locator("#verified").inner_text() == "not run by this server worker yet" \
            or "verified up to entry" in page.locator("#verified").inner_text()
        screenshot(page, tmp_path, f"audit-{who}")
    finally:
        made.close()


def test_searching_by_principal_lists_only_that_principals_entries(
        browser: Browser, server: Server, seed: Seed, tmp_path: Path) -> None:  # noqa: F811
    user = seed.people["user"][0]
    made, page = tab(browser, seed.people["auditor"])
    try:
        page.goto(server.url + AUDIT)
        page.get_by_label("Principal").fill(user)
        page.get_by_role("button", name="Search").click()
        page.wait_for_url(re.compile(r"principal="))
        shown = page.locator("#entries td.principal").all_inner_texts()
        expected = entries_of(server, user)
        assert shown and set(shown) == {user}
        assert [int(s) for s in page.locator("#entries tbody th").all_inner_texts()] == \
            [e["seq"] for e in expected][: len(shown)]
        assert page.get_by_label("Principal").input_value() == user
        screenshot(page, tmp_path, "audit-search")
    finally:
        made.close()


@pytest.mark.parametrize(("query", "field"), [
    ("since=yesterday", "since"),
    ("until=2026-13-45T10:00", "until"),
    ("max_results=5000", "max_results"),
    ("page_token=-3", "page_token"),
    ("principle=someone", "principle"),
])
def test_a_bad_search_gets_a_400_page_naming_the_field(
        browser: Browser, server: Server, seed: Seed, query: str, field: str) -> None:  # noqa: F811
    made, page = tab(browser, seed.people["admin"])
    try:
        answer = page.goto(f"{server.url}{AUDIT}?{query}")
        assert answer is not None and answer.status == 400
        error = page.get_by_role("alert").inner_text()
        assert f"{field}:" in error, error
        assert page.get_by_role("heading", name="Audit log").is_visible()
    finally:
        made.close()


def test_verifying_shows_the_entry_the_chain_is_verified_up_to(
        browser: Browser, server: Server, seed: Seed, tmp_path: Path) -> None:  # noqa: F811
    made, page = tab(browser, seed.people["auditor"])
    try:
        page.goto(server.url + AUDIT)
        before = int(page.locator("#tip-seq").inner_text())
        page.get_by_role("button", name="Verify the whole chain now").click()
        page.wait_for_url(re.compile(r"verify=1"))
        text = page.locator("#verified").inner_text()
        found = re.search(r"verified up to entry (\d+) at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC",
                          text)
        assert found, text
        assert before <= int(found.group(1)) <= int(page.locator("#tip-seq").inner_text())
        assert "chain and signatures verify" in text
        screenshot(page, tmp_path, "audit-verified")
        # a plain view shows the last result, without running another
        page.goto(server.url + AUDIT)
        assert page.locator("#verified").inner_text() == text
    finally:
        made.close()


@pytest.mark.parametrize("form", ["jsonl", "csv"])
def test_the_export_downloads_the_matching_entries(
        browser: Browser, server: Server, seed: Seed, form: str, tmp_path: Path) -> None:  # noqa: F811
    user = seed.people["user"][0]
    made, page = tab(browser, seed.people["admin"])
    try:
        page.goto(f"{server.url}{AUDIT}?principal={user}")
        with page.expect_download() as started:
            page.get_by_role("link", name="JSON lines" if form == "jsonl" else "CSV").click()
        download = started.value
        assert download.suggested_filename.endswith(f".{form}")
        text = Path(download.path()).read_text()
    finally:
        made.close()
    if form == "jsonl":
        rows = [json.loads(line) for line in text.splitlines()]
        assert all(isinstance(r["resources"], dict) for r in rows)
    else:
        rows = list(csv.DictReader(io.StringIO(text)))
    expected = entries_of(server, user)  # the same, or more if the user acted since
    assert len(rows) >= 3
    assert [int(r["seq"]) for r in rows] == [e["seq"] for e in expected][: len(rows)]
    assert {r["principal"] for r in rows} == {user}
    assert {"seq", "time", "action", "route", "status", "hash"} <= set(rows[0])


def test_the_export_answers_as_an_attachment_and_refuses_a_bad_format(
        server: Server, seed: Seed) -> None:
    r = requests.get(server.url + EXPORT, params={"format": "csv", "action": "experiment.*"},
                     auth=seed.people["auditor"], timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["content-disposition"].startswith("attachment;")
    assert r.headers["content-type"].startswith("text/csv")
    actions = {row["action"] for row in csv.DictReader(io.StringIO(r.text))}
    assert actions and all(a.startswith("experiment.") for a in actions)
    bad = requests.get(server.url + EXPORT, params={"format": "xlsx"},
                       auth=seed.people["auditor"], timeout=30)
    assert bad.status_code == 400 and "format: one of jsonl, csv" in bad.text


def test_a_user_is_refused_the_audit_log_and_its_export(
        browser: Browser, server: Server, seed: Seed, tmp_path: Path) -> None:  # noqa: F811
    made, page = tab(browser, seed.people["user"])
    try:
        answer = page.goto(server.url + AUDIT)
        assert answer is not None and answer.status == 403
        assert seed.people["auditor"][0] not in page.content()
        screenshot(page, tmp_path, "audit-user")
    finally:
        made.close()
    r = requests.get(server.url + EXPORT, auth=seed.people["user"], timeout=30)
    assert r.status_code == 403 and seed.people["auditor"][0] not in r.text


# --- the data-subject requests page ------------------------------------------------------


@pytest.mark.parametrize("who", ["privacy", "admin"])
def test_privacy_and_admin_see_the_requests_with_their_deadlines(
        browser: Browser, server: Server, seed: Seed, who: str, tmp_path: Path) -> None:  # noqa: F811
    made, page = tab(browser, seed.people[who])
    try:
        answer = page.goto(server.url + REQUESTS)
        assert answer is not None and answer.status == 200
        for rid, request in seed.requests.items():
            row = page.locator("#requests tbody tr", has=page.locator(f"th:has-text('{rid}')"))
            cells = row.locator("td").all_inner_texts()
            assert cells[1] == request["received_on"] and cells[2] == request["deadline"]
            assert cells[4] == "received" and cells[5] == "admin"
        late = page.locator("#requests tbody tr", has=page.locator(
            f"th:has-text('{seed.overdue}')")).locator("td.overdue")
        assert re.fullmatch(r"overdue by \d+ days", late.inner_text())
        screenshot(page, tmp_path, f"requests-{who}")
        # overdue only: the old request, not the fresh one
        page.get_by_label("Overdue only").check()
        page.get_by_role("button", name="Filter").click()
        page.wait_for_url(re.compile(r"overdue=1"))
        ids = page.locator("#requests tbody th").all_inner_texts()
        assert seed.overdue in ids and not (set(seed.requests) - {seed.overdue}) & set(ids)
    finally:
        made.close()


def test_no_subject_id_appears_on_the_requests_page(
        browser: Browser, server: Server, seed: Seed) -> None:  # noqa: F811
    made, page = tab(browser, seed.people["privacy"])
    try:
        for query in ("", "?overdue=1", "?status=received"):
            page.goto(server.url + REQUESTS + query)
            html = page.content()
            assert seed.overdue in html
            for subject in seed.subjects:
                assert subject not in html and subject.split("@")[0] not in html
    finally:
        made.close()


@pytest.mark.parametrize("who", ["auditor", "user"])
def test_the_auditor_and_the_user_are_refused_the_requests_page(
        browser: Browser, server: Server, seed: Seed, who: str, tmp_path: Path) -> None:  # noqa: F811
    made, page = tab(browser, seed.people[who])
    try:
        answer = page.goto(server.url + REQUESTS)
        assert answer is not None and answer.status == 403
        assert seed.overdue not in page.content()
        screenshot(page, tmp_path, f"requests-{who}")
    finally:
        made.close()


def test_a_bad_request_filter_gets_a_400_page_naming_it(server: Server, seed: Seed) -> None:
    for params, field in (({"status": "done"}, "status"), ({"overdue": "maybe"}, "overdue")):
        r = requests.get(server.url + REQUESTS, params=params, auth=seed.people["privacy"],
                         timeout=30)
        assert r.status_code == 400 and f"{field}:" in r.text, r.text
        assert seed.overdue not in r.text


# --- the link in MLflow's own UI ----------------------------------------------------------


def test_mlflow_ui_shows_the_compliance_link_and_it_leads_to_the_pages(
        browser: Browser, server: Server, seed: Seed, tmp_path: Path) -> None:  # noqa: F811
    made, page = tab(browser, seed.people["user"])
    try:
        answer = page.goto(server.url + "/")
        assert answer is not None and answer.status == 200
        link = page.get_by_role("link", name="Compliance")
        assert link.is_visible()
        link.click()
        page.wait_for_url(server.url + "/compliance/")
        assert page.url == server.url + "/compliance/"
        shown = page.request.get(server.url + "/compliance/")
        assert shown.status in (200, 404)
        assert page.locator("a.brand", has_text="mlflow-compliance").is_visible()
    finally:
        made.close()


def test_the_link_sits_over_the_running_mlflow_app(
        browser: Browser, server: Server, seed: Seed, tmp_path: Path) -> None:  # noqa: F811
    made = browser.new_context(http_credentials={"username": seed.people["admin"][0],
                                                 "password": seed.people["admin"][1]},
                               viewport={"width": 1400, "height": 1000})  # JavaScript on
    try:
        page = made.new_page()
        page.goto(server.url + "/#/experiments")
        page.get_by_text("Experiments").first.wait_for()
        link = page.get_by_role("link", name="Compliance", exact=True)
        link.click()  # fails if the app covers it
        page.wait_for_url(server.url + "/compliance/")
        page.go_back()
        page.get_by_role("link", name="Compliance", exact=True).wait_for()
        screenshot(page, tmp_path, "mlflow-ui-link")
    finally:
        made.close()


def test_the_link_is_added_only_to_mlflows_page_and_every_other_answer_is_untouched(
        server: Server) -> None:
    index = (Path(mlflow_server_file).parent / "js" / "build" / "index.html").read_bytes()
    root = requests.get(server.url + "/", auth=server.auth, timeout=30)
    assert root.status_code == 200
    assert int(root.headers["content-length"]) == len(root.content)
    assert "etag" not in root.headers
    assert root.content.startswith(index[:index.rfind(b"</body>")])
    assert b'href="compliance/"' in root.content and root.content.endswith(b"</body></html>")
    # a browser's cached copy or a range is never answered from MLflow's file
    later = (datetime.now(UTC) + timedelta(days=1)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    for condition in ({"If-Modified-Since": later}, {"Range": "bytes=0-9"}):
        again = requests.get(server.url + "/", auth=server.auth, headers=condition, timeout=30)
        assert again.status_code == 200 and again.content == root.content, condition
    static = requests.get(server.url + "/static-files/index.html", auth=server.auth, timeout=30)
    assert b'href="../compliance/"' in static.content
    favicon = requests.get(server.url + "/static-files/favicon.ico", auth=server.auth,
                           timeout=30)
    build = Path(mlflow_server_file).parent / "js" / "build"
    assert favicon.content == (build / "favicon.ico").read_bytes()
    manifest = requests.get(server.url + "/static-files/manifest.json", auth=server.auth,
                            timeout=30)
    assert manifest.content == (build / "manifest.json").read_bytes()
    assert b"Compliance" not in manifest.content
