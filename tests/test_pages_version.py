"""A model version's compliance page and its sign-off in the browser (issue 17), with
a real compliance server and Debian's chromium, JavaScript off.

A high-risk version with two datasets and per-group metrics, trained by the admin. The
auditor reads every section and gets no sign-off form; a cleared approver signs off in
the browser and the gate then admits the version (audited as
``model_version.approve.browser``); a reader without the personal-data clearance and an
outsider do not see it. A sign-off posted from elsewhere (no token, another person's
token, another version's token, a foreign Origin) or against evidence that changed is
refused and records nothing."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
import requests
from playwright.sync_api import Browser, Page

from mlflow_compliance.server.pages.csrf import Csrf
from mlflow_compliance.server.pages.svg import Bar, Box, lineage, metrics_chart
from mlflow_compliance.testing import Server
from tests.pages_support import (
    browser,  # noqa: F401
    context,
    grant,
    page_server,
    person,
    screenshot,
)
from tests.test_promotion_gate import audit_entries
from tests.test_report_annex_iv import SCRIPT, high_risk_version

People = dict[str, tuple[str, str]]
NOTE = "Reviewed the DPIA, the bias examination and the per-group accuracy in the browser"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from page_server(tmp_path_factory, "home-pages-version")


@pytest.fixture(scope="module")
def ranker(server: Server) -> tuple[str, str]:
    """The high-risk version, trained and registered by the admin in its own experiment."""
    mlflow.set_tracking_uri(server.url)
    mlflow.set_experiment(f"hiring-{uuid.uuid4().hex[:6]}")
    name = f"ranker-{uuid.uuid4().hex[:6]}"
    return name, high_risk_version(name)


@pytest.fixture(scope="module")
def stricter(server: Server, ranker: tuple[str, str]) -> str:
    """A second version of the same run whose own record asks more accuracy than the run
    reached: AIACT-15-ACCURACY fails on it."""
    name, version = ranker
    client = mlflow.MlflowClient(server.url)
    first = client.get_model_version(name, version)
    second = client.create_model_version(name, first.source, run_id=first.run_id,
                                         model_id=first.source.removeprefix("models:/"))
    client.set_model_version_tag(name, second.version, "compliance.ai_act.metric_thresholds",
                                 "test_accuracy>=0.95")
    return str(second.version)


@pytest.fixture(scope="module")
def people(server: Server, ranker: tuple[str, str]) -> People:
    name, version = ranker
    experiment = mlflow.MlflowClient(server.url).get_run(
        mlflow.MlflowClient(server.url).get_model_version(name, version).run_id
    ).info.experiment_id
    found: People = {"admin": server.auth, "auditor": person(server, "auditor"),
                     "approver": person(server, "user", "approver", "personal-data"),
                     "second approver": person(server, "user", "approver", "personal-data"),
                     "reader": person(server), "outsider": person(server)}
    for who in ("approver", "second approver", "reader"):
        grant(server, found[who][0], "model", name)
        grant(server, found[who][0], "experiment", experiment)
    return found


def url(server: Server, name: str, version: str) -> str:
    return f"{server.url}/compliance/version?name={name}&version={version}"


def sign_off_url(server: Server, name: str, version: str) -> str:
    return f"{server.url}/compliance/version/sign-off?name={name}&version={version}"


def visit(browser: Browser, credentials: tuple[str, str], address: str) -> tuple[Page, int]:  # noqa: F811
    page = context(browser, credentials).new_page()
    answer = page.goto(address)
    assert answer is not None
    return page, answer.status


def section(page: Page, heading: str) -> str:
    return page.locator("section", has=page.get_by_role("heading", name=heading, exact=True)
                        ).inner_text()


def form_fields(server: Server, who: tuple[str, str], name: str, version: str
                ) -> dict[str, str]:
    """The hidden fields of the sign-off form as the page gives them to ``who``."""
    html = requests.get(url(server, name, version), auth=who, timeout=120).text
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html))


def signoffs(server: Server, name: str, version: str) -> list[dict[str, object]]:
    answer = requests.get(f"{server.url}/api/2.0/compliance/model-versions/approvals",
                          params={"name": name, "version": version}, auth=server.auth,
                          timeout=60)
    assert answer.status_code == 200, answer.text
    found: list[dict[str, object]] = answer.json()["approvals"]
    return found


def post_sign_off(server: Server, who: tuple[str, str], name: str, version: str,
                  fields: dict[str, str], **headers: str) -> requests.Response:
    return requests.post(sign_off_url(server, name, version), data=fields, auth=who,
                         headers=headers, allow_redirects=False, timeout=120)


def test_the_auditor_reads_every_section_of_the_version(
    browser: Browser, server: Server, ranker: tuple[str, str], people: People,  # noqa: F811
    tmp_path: Path,
) -> None:
    name, version = ranker
    page, status = visit(browser, people["auditor"], url(server, name, version))
    assert status == 200
    assert page.get_by_role("heading", level=1).inner_text() == f"{name} version {version}"
    record = page.locator("#record tbody tr").filter(has_text="compliance.ai_act.intended_purpose")
    assert "Suggest an order in which a recruiter reads job applications" in record.inner_text()
    assert "AI Act Art. 3(12), 13(3)(b)(i), Annex IV 1(a)" in record.inner_text()
    unset = page.locator("#record tbody tr").filter(has_text="compliance.gdpr.special_categories")
    assert "not declared" in unset.inner_text()
    # markup in a record value is text, never a script
    assert SCRIPT in section(page, "Record")
    assert page.locator("script").count() == 0
    findings = section(page, "Findings")
    assert "AIACT-15-ACCURACY" in findings and "none failing" in findings
    assert "Not admitted" in section(page, "Gate") and "no sign-off" in section(page, "Gate")
    lineage = section(page, "Lineage")
    assert "applications" in lineage and "applications-held-out" in lineage
    assert "s3://acme-hiring/test.csv" in lineage
    picture = page.locator("#lineage svg[role=img]")
    assert "applications-held-out" in picture.locator("desc").text_content() or ""
    assert picture.locator("rect").count() == 4  # two datasets, the run, the version
    overall = page.locator("#metrics tbody tr").filter(has_text="overall")
    assert overall.inner_text().split("\t") == ["test_accuracy", "overall", "0.9", ">= 0.8",
                                                "met"]
    women = page.locator("#metrics tbody tr").filter(has_text="women")
    assert women.inner_text().split("\t")[-1] == "met"
    assert page.locator("#metrics svg[role=img]").count() == 1
    links = page.locator("#documents a")
    assert links.count() == 7
    bundle = links.last.get_attribute("href")
    assert bundle == f"/api/2.0/compliance/model-versions/bundle?name={name}&version={version}"
    # the auditor reads, never signs
    assert page.locator("textarea").count() == 0
    assert "cannot sign off model versions" in section(page, "Sign-offs")
    screenshot(page, tmp_path, "version-auditor")


def test_a_failing_finding_comes_first_with_its_remediation(
    browser: Browser, server: Server, ranker: tuple[str, str], stricter: str,  # noqa: F811
    people: People, tmp_path: Path,
) -> None:
    name, _ = ranker
    page, status = visit(browser, people["approver"], url(server, name, stricter))
    assert status == 200
    first = page.locator("#findings tbody tr").first.inner_text()
    assert first.startswith("AIACT-15-ACCURACY")
    assert "fail" in first and "test_accuracy = 0.9 misses test_accuracy>=0.95" in first
    assert "Set tag compliance.ai_act.metric_thresholds" in first  # the remediation
    assert page.locator("#findings tbody tr").first.locator(".fail").count() == 1
    assert "AIACT-15-ACCURACY" in section(page, "Gate")
    overall = page.locator("#metrics tbody tr").filter(has_text="overall").inner_text()
    assert overall.split("\t")[-2:] == [">= 0.95", "not met"]
    # nobody can sign off a failing version: the page says why instead of a form
    assert page.locator("textarea").count() == 0
    assert "cannot be signed off while it fails AIACT-15-ACCURACY" in section(page, "Sign-offs")
    screenshot(page, tmp_path, "version-approver-failing")


def test_the_approver_signs_off_in_the_browser_and_the_gate_admits_the_version(
    browser: Browser, server: Server, ranker: tuple[str, str], people: People,  # noqa: F811
    tmp_path: Path,
) -> None:
    name, version = ranker
    approver = people["approver"][0]
    page, status = visit(browser, people["approver"], url(server, name, version))
    assert status == 200
    html = page.content()
    digest = page.locator("#evidence-digest").inner_text()
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert html.index('id="evidence-digest"') < html.index("<textarea")  # digest first
    covered = page.locator("#sign-offs form table").inner_text()
    assert "test_accuracy/women" in covered and "applications-held-out@" in covered
    screenshot(page, tmp_path, "version-approver")
    page.get_by_label("Note: what you reviewed").fill(NOTE)
    with page.expect_navigation(timeout=120_000):  # the post, its 303, the page again
        page.get_by_role("button", name=f"Sign off {name} version {version}").click()
    assert page.url.startswith(url(server, name, version))
    row = page.locator("#sign-offs tbody tr").first.inner_text()
    assert approver in row and NOTE in row and digest in row and "verifies" in row
    assert "Admitted" in section(page, "Gate")
    screenshot(page, tmp_path, "version-approver-signed")

    status_answer = requests.get(
        f"{server.url}/api/2.0/compliance/model-versions/gate-status",
        params={"name": name, "version": version}, auth=server.auth, timeout=60)
    assert status_answer.json() == {"admitted": True, "reasons": []}
    mlflow.MlflowClient(server.url).set_registered_model_alias(name, "champion", version)
    assert mlflow.MlflowClient(server.url).get_model_version_by_alias(
        name, "champion").version == version
    entries = [e for e in audit_entries(server, "model_version.approve.browser")
               if e.get("name") == name and e["status"] == 303]
    assert len(entries) == 1


def test_a_reader_without_clearance_and_an_outsider_do_not_see_the_version(
    browser: Browser, server: Server, ranker: tuple[str, str], people: People,  # noqa: F811
    tmp_path: Path,
) -> None:
    name, version = ranker
    for who in ("reader", "outsider"):
        page, status = visit(browser, people[who], url(server, name, version))
        assert status in (403, 404), who
        assert "Suggest an order" not in page.content()
        assert "applications-held-out" not in page.content()
        # the authorization layer's refusal, shown as a page (pages/refusals.py)
        assert page.locator("h1").inner_text() in ("Refused", "Not found"), who
        assert "does not exist (or you may not read it)" in page.locator(
            "p.error").inner_text(), who
        screenshot(page, tmp_path, f"version-{who}")


def test_refusals_outside_the_pages_are_pages_and_the_password_prompt_stays(
    server: Server,
) -> None:
    """No credentials: 401 with the Basic challenge (the browser asks), as an HTML page;
    the API keeps MLflow's JSON errors."""
    import requests

    answer = requests.get(f"{server.url}/compliance/version?name=x&version=1", timeout=30)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Basic")
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert "<h1>Sign in needed</h1>" in answer.text
    api = requests.get(f"{server.url}/api/2.0/mlflow/registered-models/get",
                       params={"name": "x"}, timeout=30)
    assert api.status_code == 401 and api.headers["content-type"] == "application/json"


def test_a_bad_query_answers_a_page_naming_the_field(
    browser: Browser, server: Server, ranker: tuple[str, str], people: People,  # noqa: F811
    tmp_path: Path,
) -> None:
    name, _ = ranker
    page, status = visit(browser, people["admin"], f"{server.url}/compliance/version")
    assert status == 400
    assert page.get_by_role("alert").inner_text().startswith("name: missing")
    page.goto(f"{server.url}/compliance/version?name={name}&version=one")
    assert page.get_by_role("alert").inner_text().startswith("version: 'one' is not")
    answer = page.goto(f"{server.url}/compliance/version?name={name}&version=999")
    assert answer is not None and answer.status == 404
    assert page.get_by_role("heading", level=1).inner_text() == "Not found"
    screenshot(page, tmp_path, "version-admin-not-found")


def test_a_cross_site_sign_off_is_refused_and_records_nothing(
    server: Server, ranker: tuple[str, str], stricter: str, people: People,
) -> None:
    name, version = ranker
    approver = people["approver"]
    before = len(signoffs(server, name, version))
    mine = form_fields(server, approver, name, version)
    theirs = form_fields(server, people["second approver"], name, version)
    assert mine["csrf"] and theirs["csrf"] and mine["csrf"] != theirs["csrf"]
    other_version = Csrf.of_home(Path(server.home)).token(
        approver[0], f"sign-off:{name}:{stricter}")
    for label, token in (("no token", None), ("another person's token", theirs["csrf"]),
                         ("another version's token", other_version), ("made up", "1.abc")):
        fields = {"note": NOTE, "digest": mine["digest"]}
        if token is not None:
            fields["csrf"] = token
        refused = post_sign_off(server, approver, name, version, fields)
        assert refused.status_code == 403, label
        assert "token" in refused.text, label
    foreign = post_sign_off(server, approver, name, version, {**mine, "note": NOTE},
                            Origin="https://evil.example")
    assert foreign.status_code == 403
    assert len(signoffs(server, name, version)) == before


def test_a_form_that_is_not_the_pages_form_is_refused_before_it_is_read(
    server: Server, ranker: tuple[str, str], people: People,
) -> None:
    """A valid token in a text/plain body (what a cross-site form can send without a
    preflight), a body larger than any note, a flood of fields: refused with the status
    naming why (pages/forms.py), for the sign-off and the admins' re-check alike, and
    nothing is recorded."""
    from urllib.parse import urlencode

    name, version = ranker
    approver = people["approver"]
    before = len(signoffs(server, name, version))
    mine = {**form_fields(server, approver, name, version), "note": NOTE}
    url = sign_off_url(server, name, version)
    cases = [
        ("text/plain", urlencode(mine).encode(), 415, "Content-Type: text/plain is not allowed"),
        ("application/x-www-form-urlencoded",
         urlencode({**mine, "note": "x" * 20_000}).encode(), 413, "larger than"),
        ("application/x-www-form-urlencoded",
         urlencode({**mine, **{f"f{i}": "1" for i in range(50)}}).encode(), 400,
         "not a valid urlencoded"),
    ]
    for kind, body, status, said in cases:
        refused = requests.post(url, data=body, auth=approver, allow_redirects=False,
                                headers={"Content-Type": kind}, timeout=60)
        assert refused.status_code == status, (kind, refused.text[:300])
        assert said in refused.text, kind
    assert len(signoffs(server, name, version)) == before
    assert server.auth is not None
    recheck = requests.post(f"{server.url}/compliance/recheck", data=b"csrf=x",
                            auth=server.auth, headers={"Content-Type": "text/plain"},
                            allow_redirects=False, timeout=60)
    assert recheck.status_code == 415 and "Content-Type: text/plain" in recheck.text


def test_a_sign_off_of_evidence_that_changed_is_refused_with_409(
    server: Server, ranker: tuple[str, str], people: People,
) -> None:
    name, version = ranker
    approver = people["approver"]
    before = len(signoffs(server, name, version))
    shown = form_fields(server, approver, name, version)
    stale = post_sign_off(server, approver, name, version,
                          {**shown, "note": NOTE, "digest": "0" * 64})
    assert stale.status_code == 409
    assert "the evidence changed since the page was shown" in stale.text
    # the record changes between showing the page and signing it off
    shown = form_fields(server, approver, name, version)
    mlflow.MlflowClient(server.url).set_model_version_tag(
        name, version, "compliance.ai_act.human_overseer", "Jonas Weber")
    changed = post_sign_off(server, approver, name, version, {**shown, "note": NOTE})
    assert changed.status_code == 409
    assert "the evidence changed since the page was shown" in changed.text
    assert len(signoffs(server, name, version)) == before


def test_names_in_the_pictures_are_text_not_markup() -> None:
    named = f"data{SCRIPT}"
    picture = lineage([Box("dataset", named)], Box("run", "r&d"), Box("model version", "m v1"))
    chart = metrics_chart([Bar(f"acc/{SCRIPT}", 0.5, 0.8, ">=", False)])
    for svg in (picture, chart):
        assert "<script" not in svg and "&lt;script&gt;" in svg
        assert svg.startswith("<svg") and 'role="img"' in svg
    assert "r&amp;d" in picture and "not met" in chart


def test_the_form_key_is_made_once_0600_and_never_read_half_written(tmp_path: Path) -> None:
    """Every worker makes its Csrf at start; the first one's key is the one all use, and a
    key file that is not a whole key stops the server rather than signing with it."""
    import os
    import stat
    from concurrent.futures import ThreadPoolExecutor

    from mlflow_compliance.server.pages.csrf import KEY_FILE, Csrf

    with ThreadPoolExecutor(8) as pool:
        made = list(pool.map(lambda _: Csrf.of_home(tmp_path).key, range(16)))
    assert len(set(made)) == 1 and len(made[0]) == 32
    assert stat.S_IMODE(os.stat(tmp_path / KEY_FILE).st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == [KEY_FILE]  # no leftovers
    token = Csrf.of_home(tmp_path).token("ann", "sign-off:m:1")
    assert Csrf.of_home(tmp_path).valid("ann", "sign-off:m:1", token)
    assert not Csrf.of_home(tmp_path).valid("bob", "sign-off:m:1", token)
    assert not Csrf.of_home(tmp_path).valid("ann", "sign-off:m:2", token)
    (tmp_path / KEY_FILE).write_text("")
    with pytest.raises(RuntimeError, match="not a key of this server"):
        Csrf.of_home(tmp_path)
