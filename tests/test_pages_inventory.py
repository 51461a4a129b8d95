"""The inventory pages in the browser (issue 17): every model version with its checks,
record, sign-off and gate at a glance, and every experiment with its runs; real
compliance server, Debian's chromium, JavaScript off.

Three models: a high-risk ranker with personal data (its own experiment), a plain
compliant iris model (its own experiment) and one registered with only the minimum
record. The admin and the auditor see all three; a cleared approver granted the ranker
sees it; a reader granted iris and the ranker sees iris only (the ranker's version
declares personal data) and never the third. The counts on the page are those
``mlflow-compliance check`` gives; a version is checked on its first view and read from
the stored results after that; an admin re-checks everything with the page's form."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pytest
import requests
from playwright.sync_api import Browser, Page

from mlflow_compliance.checks.packs import BUILTIN_PACKS, DEFAULT_PACKS
from mlflow_compliance.testing import Server, start_compliance_server
from tests.pages_support import (
    browser,  # noqa: F401
    context,
    grant,
    person,
    screenshot,
)
from tests.test_high_risk_release import GOOD, release, sign_off
from tests.test_promotion_gate import COMPLIANT, cli, model

PACK_OF = {rule.id: pack for pack in DEFAULT_PACKS for rule in BUILTIN_PACKS[pack]}


@dataclass(frozen=True)
class World:
    server: Server
    ranker: str  # high risk, personal data
    iris: str  # compliant, no personal data
    plain: str  # only the minimum record; nobody but admin and auditor is granted it
    experiments: dict[str, str]  # model name -> experiment id of its run
    people: dict[str, tuple[str, str]]

    def url(self, path: str = "/compliance/") -> str:
        return self.server.url + path


def _register(server: Server, tag: str) -> tuple[dict[str, str], dict[str, str]]:
    mlflow.set_tracking_uri(server.url)
    names = {"iris": f"iris-{tag}", "ranker": f"ranker-{tag}", "plain": f"plain-{tag}"}
    experiments = {}
    for kind, name in names.items():
        experiments[name] = mlflow.set_experiment(f"{kind}-{tag}").experiment_id
        if kind == "ranker":
            release(name, GOOD)
        else:
            model(name, COMPLIANT if kind == "iris" else None)
    mlflow.tracking.fluent._active_experiment_id = None
    return names, experiments


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    server = start_compliance_server(tmp_path_factory.mktemp("home-pages-inventory"),
                                     env={"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"})
    try:
        names, experiments = _register(server, uuid.uuid4().hex[:6])
        assert server.auth is not None
        people = {"admin": server.auth, "auditor": person(server, "auditor"),
                  "approver": person(server, "user", "approver", "personal-data"),
                  "reader": person(server)}
        grant(server, people["approver"][0], "model", names["ranker"])
        for name in (names["iris"], names["ranker"]):
            grant(server, people["reader"][0], "model", name)
        grant(server, people["reader"][0], "experiment", experiments[names["iris"]])
        yield World(server, names["ranker"], names["iris"], names["plain"], experiments,
                    people)
    finally:
        server.stop()


def visit(browser: Browser, who: tuple[str, str], address: str) -> tuple[Page, int]:  # noqa: F811
    page = context(browser, who).new_page()
    answer = page.goto(address)
    assert answer is not None
    return page, answer.status


def _text(cell: str) -> str:
    return " ".join(cell.split())


def table(page: Page) -> dict[str, dict[str, str]]:
    """The inventory's version rows, by "<model> v<version>": column header -> text."""
    headers = [_text(h) for h in page.locator("table thead th").all_inner_texts()]
    found = {}
    for row in page.locator("table tbody tr").all():
        cells = [_text(c) for c in row.locator("th, td").all_inner_texts()]
        if len(cells) == len(headers):
            found[f"{cells[0]} {cells[1]}"] = dict(zip(headers, cells, strict=True))
    return found


def counted(findings: list[dict[str, str]]) -> dict[str, str]:
    """Findings as the page's cells: per pack "<n> pass, <n> fail, <n> undeclared"."""
    counts = Counter((PACK_OF[f["rule_id"]], f["status"]) for f in findings)
    return {pack: f"{counts[(pack, 'pass')]} pass, {counts[(pack, 'fail')]} fail, "
                  f"{counts[(pack, 'undeclared')]} undeclared" for pack in DEFAULT_PACKS}


def check(world: World, *selection: str) -> list[dict[str, str]]:
    done = cli(world.server, "check", *selection, "--rules", ",".join(DEFAULT_PACKS),
               "--format", "json")
    assert done.returncode in (0, 1), done.stderr
    findings: list[dict[str, str]] = json.loads(done.stdout)["findings"]
    return findings


def stored(world: World) -> dict[tuple[str, str], int]:
    """When each version was last checked (us), from the server's database."""
    with sqlite3.connect(world.server.home / "mlflow.db") as db:
        rows = db.execute("SELECT model_name, version, checked_at_us "
                          "FROM compliance_check_results").fetchall()
    return {(name, version): at for name, version, at in rows}


def test_the_admin_sees_every_version_with_the_counts_check_gives(
        world: World, browser: Browser, tmp_path: Path) -> None:  # noqa: F811
    page, status = visit(browser, world.people["admin"], world.url())
    assert status == 200
    rows = table(page)
    assert set(rows) == {f"{world.ranker} v1", f"{world.iris} v1", f"{world.plain} v1"}
    for name in (world.ranker, world.iris, world.plain):
        row = rows[f"{name} v1"]
        expected = counted(check(world, "--model", f"{name}/1"))
        assert {p: row[f"{p} checks"] for p in DEFAULT_PACKS} == expected, name
        assert (row["Sign-off"], row["Gate"]) == ("none", "refused")
        assert row["Checked"].startswith("checked 20"), row["Checked"]
        assert row["Owner"] == "admin"
    ranker = rows[f"{world.ranker} v1"]
    assert (ranker["Risk class"], ranker["Personal data"]) == ("high", "true")
    assert ranker["Regulations"] == "GDPR, AI Act"
    assert rows[f"{world.plain} v1"]["Regulations"] == ""
    link = page.get_by_role("link", name=f"v1 of {world.ranker}")
    assert link.get_attribute("href") == f"/compliance/version?name={world.ranker}&version=1"
    assert page.get_by_role("button", name="Re-check every version now").is_visible()
    screenshot(page, tmp_path, "inventory-admin")


def test_a_second_view_reads_the_stored_results_instead_of_checking_again(
        world: World) -> None:
    first = requests.get(world.url(), auth=world.people["admin"], timeout=120)
    assert first.status_code == 200
    before = stored(world)
    assert len(before) == 3
    again = requests.get(world.url(), auth=world.people["admin"], timeout=120)
    assert again.status_code == 200 and "checked 20" in again.text
    assert stored(world) == before


def test_the_reader_sees_the_granted_model_but_no_personal_data_nor_ungranted_model(
        world: World, browser: Browser, tmp_path: Path) -> None:  # noqa: F811
    page, status = visit(browser, world.people["reader"], world.url())
    assert status == 200
    assert set(table(page)) == {f"{world.iris} v1"}
    ranker = page.locator("tbody tr", has=page.get_by_role("rowheader", name=world.ranker))
    assert _text(ranker.inner_text()) == f"{world.ranker} no version you may see"
    assert world.plain not in page.content()
    assert page.get_by_role("button", name="Re-check every version now").count() == 0
    screenshot(page, tmp_path, "inventory-reader")


def test_the_approver_sees_the_personal_data_version_of_the_model_granted(
        world: World, browser: Browser, tmp_path: Path) -> None:  # noqa: F811
    page, _ = visit(browser, world.people["approver"], world.url())
    rows = table(page)
    assert set(rows) == {f"{world.ranker} v1"}
    assert rows[f"{world.ranker} v1"]["Personal data"] == "true"
    screenshot(page, tmp_path, "inventory-approver")


def test_the_auditor_sees_every_version_and_no_recheck_form(
        world: World, browser: Browser, tmp_path: Path) -> None:  # noqa: F811
    page, _ = visit(browser, world.people["auditor"], world.url())
    assert set(table(page)) == {f"{world.ranker} v1", f"{world.iris} v1", f"{world.plain} v1"}
    assert page.get_by_role("button", name="Re-check every version now").count() == 0
    screenshot(page, tmp_path, "inventory-auditor")


def test_filters_narrow_the_rows(world: World, browser: Browser) -> None:  # noqa: F811
    page, _ = visit(browser, world.people["admin"], world.url())
    page.get_by_label("Risk class").select_option("high")
    with page.expect_navigation(timeout=120_000):
        page.get_by_role("button", name="Apply").click()
    assert set(table(page)) == {f"{world.ranker} v1"}
    assert "risk=high" in page.url
    page.get_by_label("Risk class").select_option("")
    page.get_by_label("Name contains").fill("iris-")
    with page.expect_navigation(timeout=120_000):
        page.get_by_role("button", name="Apply").click()
    assert set(table(page)) == {f"{world.iris} v1"}
    failing = {f"{f['target_id'].replace('/', ' v')}" for f in check(world)
               if f["target_kind"] == "model_version" and f["status"] in ("fail", "undeclared")}
    everything = {f"{n} v1" for n in (world.ranker, world.iris, world.plain)}
    for query, expected in (("status=failing", failing), ("status=passing", everything - failing),
                            ("gate=admitted", set()), ("gate=refused", everything),
                            ("signoff=none", everything), ("signoff=valid", set())):
        page.goto(world.url(f"/compliance/?{query}"))
        assert set(table(page)) == expected, query
    page.goto(world.url("/compliance/?sort=risk"))
    assert next(iter(table(page))) == f"{world.ranker} v1"  # high before minimal


def test_a_bad_max_results_gets_a_400_page_naming_it(
        world: World, browser: Browser) -> None:  # noqa: F811
    for bad in ("0", "1001", "ten"):
        page, status = visit(browser, world.people["admin"],
                             world.url(f"/compliance/?max_results={bad}"))
        assert status == 400
        alert = page.get_by_role("alert").inner_text()
        assert alert.startswith("max_results:") and "1 to 1000" in alert, alert
    for bad in ("-1", "201"):  # the runs page checks what it shows on every view: 200
        page, status = visit(browser, world.people["reader"],
                             world.url(f"/compliance/runs?max_results={bad}"))
        alert = page.get_by_role("alert").inner_text()
        assert status == 400 and alert.startswith("max_results:") and "1 to 200" in alert


def test_pages_of_models_link_to_each_other(world: World, browser: Browser) -> None:  # noqa: F811
    page, _ = visit(browser, world.people["admin"], world.url("/compliance/?max_results=2"))
    first = set(table(page))
    assert len(first) == 2
    with page.expect_navigation(timeout=120_000):
        page.get_by_role("link", name="Next 2 models").click()
    second = set(table(page))
    assert len(second) == 1 and not first & second
    with page.expect_navigation(timeout=120_000):
        page.get_by_role("link", name="Previous 2 models").click()
    assert set(table(page)) == first


def test_a_recheck_without_the_form_token_is_refused(world: World) -> None:
    before = stored(world)
    admin, auditor = world.people["admin"], world.people["auditor"]
    for data in ({}, {"csrf": "1.forged"}):
        refused = requests.post(world.url("/compliance/recheck"), data=data, auth=admin,
                                allow_redirects=False, timeout=120, headers={
                                    "Content-Type": "application/x-www-form-urlencoded"})
        assert refused.status_code == 403
        assert "re-check was refused" in refused.text
    html = requests.get(world.url(), auth=admin, timeout=120).text
    token = html.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    other = requests.post(world.url("/compliance/recheck"), data={"csrf": token}, auth=auditor,
                          allow_redirects=False, timeout=120)
    assert other.status_code == 403  # an admin's token in another's hands is no admin
    assert stored(world) == before


def test_a_versions_aliases_are_shown(world: World, browser: Browser) -> None:  # noqa: F811
    mlflow.MlflowClient(world.server.url).set_registered_model_alias(world.iris, "candidate",
                                                                      "1")
    page, _ = visit(browser, world.people["reader"], world.url())
    assert table(page)[f"{world.iris} v1"]["Aliases"] == "candidate"


def test_a_version_changed_since_its_check_is_marked(
        world: World, browser: Browser) -> None:  # noqa: F811
    requests.get(world.url(), auth=world.people["admin"], timeout=120)  # checked, if not yet
    mlflow.MlflowClient(world.server.url).update_model_version(
        world.iris, "1", description="Now with a description")
    page, _ = visit(browser, world.people["admin"], world.url())
    assert table(page)[f"{world.iris} v1"]["Checked"].startswith("changed since checked")
    assert not table(page)[f"{world.ranker} v1"]["Checked"].startswith("changed")
    page.goto(world.url("/compliance/?status=unchecked"))
    assert set(table(page)) == {f"{world.iris} v1"}


def test_the_admin_rechecks_every_version_and_sees_a_new_sign_off(
        world: World, browser: Browser) -> None:  # noqa: F811
    requests.get(world.url(), auth=world.people["admin"], timeout=120)
    before = stored(world)
    signed = sign_off(world.server, world.ranker, "1", world.people["approver"])
    assert signed.status_code == 200, signed.text
    page, _ = visit(browser, world.people["admin"], world.url())
    ranker = table(page)[f"{world.ranker} v1"]
    assert ranker["Checked"].startswith("changed since checked")  # signed after its check
    assert (ranker["Sign-off"], ranker["Gate"]) == ("none", "refused")
    with page.expect_navigation(timeout=120_000):
        page.get_by_role("button", name="Re-check every version now").click()
    assert page.url == world.url()
    after = stored(world)
    assert after.keys() == before.keys()
    assert all(after[k] > before[k] for k in before)
    ranker = table(page)[f"{world.ranker} v1"]
    assert (ranker["Sign-off"], ranker["Gate"]) == ("valid", "admitted")
    assert ranker["Checked"].startswith("checked 20")


def test_the_runs_page_shows_each_persons_experiments_with_their_runs_checked(
        world: World, browser: Browser, tmp_path: Path) -> None:  # noqa: F811
    page, status = visit(browser, world.people["admin"], world.url("/compliance/runs"))
    assert status == 200
    experiment = world.experiments[world.ranker]
    # each experiment is named as its model
    section = page.locator("section", has=page.get_by_role("heading", name=world.ranker))
    run = section.locator("tbody tr").first
    run_id = run.locator("code").inner_text()
    assert run.get_by_role("link").get_attribute("href") == \
        f"/#/experiments/{experiment}/runs/{run_id}"
    headers = [_text(h) for h in section.locator("thead th").all_inner_texts()]
    cells = dict(zip(headers, [_text(c) for c in run.locator("th, td").all_inner_texts()],
                     strict=True))
    findings = [f for f in check(world, "--experiment", experiment)
                if f["target_kind"] in ("run", "dataset") and f["target_id"].startswith(run_id)]
    assert {p: cells[f"{p} checks"] for p in DEFAULT_PACKS} == counted(findings)
    assert (cells["Risk class"], cells["Personal data"]) == ("high", "true")
    screenshot(page, tmp_path, "runs-admin")

    page, _ = visit(browser, world.people["reader"], world.url("/compliance/runs"))
    headings = page.locator("main section h2").all_inner_texts()
    assert len(headings) == 1 and headings[0].startswith(world.iris)
    assert page.locator("main section tbody tr").count() == 1
    screenshot(page, tmp_path, "runs-reader")
