"""A model version's page (``GET /compliance/version?name=&version=``) and its sign-off
from the browser (``POST /compliance/version/sign-off?name=&version=``).

The page shows what a reviewer needs before releasing a version: its compliance record
with the article asking for each field, the findings of the default rule packs, the
promotion gate's verdict, the sign-off history (each signature verified), the lineage
and the metrics against their declared thresholds, and links to its documents.

A sign-off vouches for evidence (checks/signoff_evidence.py), so the form shows the
evidence's digest *before* the note, and sends the digest back: when the evidence
changed in between, the sign-off is refused (409) rather than vouching for something
the approver never saw. A browser attaches cached credentials to a request from any
site, so the form also carries a CSRF token for this principal and this version
(csrf.py); the gate itself checks the approver clearance, four eyes and the rules.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT, MLFLOW_RUN_NAME
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from mlflow_compliance.checks.approvals import Approval, forged
from mlflow_compliance.checks.model import FAILING, Finding, Rule, Status
from mlflow_compliance.checks.packs import DEFAULT_PACKS, evaluate, load_rules
from mlflow_compliance.checks.signoff_evidence import Evidence
from mlflow_compliance.identity.principal import Clearance, Principal, Role
from mlflow_compliance.record import FIELDS, parse_threshold
from mlflow_compliance.server.audit import note
from mlflow_compliance.server.claims import REGISTERED_BY_TAG
from mlflow_compliance.server.gate.decisions import GateStatus, Loaded, Refused
from mlflow_compliance.server.pages import check_results
from mlflow_compliance.server.pages.access import Seen
from mlflow_compliance.server.pages.forms import FormProblem, read_form
from mlflow_compliance.server.pages.render import SECURITY_HEADERS, page
from mlflow_compliance.server.pages.site import Site
from mlflow_compliance.server.pages.svg import Bar, Box, lineage, metrics_chart
from mlflow_compliance.server.promotion_gate import MAX_DECISION, MAX_NOTE
from mlflow_compliance.server.query import query_fields

PATH = "/compliance/version"
SIGN_OFF = PATH + "/sign-off"
DOCUMENTS = "/api/2.0/compliance/model-versions/documents"
BUNDLE = "/api/2.0/compliance/model-versions/bundle"
MAX_FORM = 16 * 1024  # a note of MAX_NOTE characters, percent-encoded, and two fields
TITLES = {400: "Bad request", 403: "Not allowed", 404: "Not found", 409: "Changed",
          413: "Too large", 415: "Not a form"}
# The documents a version has (server/version_documents.py): link text, kind, format.
DOCUMENT_LINKS = (
    ("Model card (Markdown)", "model-card", "md"),
    ("SBOM, CycloneDX (JSON)", "cyclonedx", "json"),
    ("SBOM, SPDX (JSON)", "spdx", "json"),
    ("Annex IV technical documentation (Markdown)", "annex-iv", "md"),
    ("Annex IV technical documentation (HTML)", "annex-iv", "html"),
    ("Annex IV technical documentation (PDF)", "annex-iv", "pdf"),
)
ORDER = {Status.FAIL: 0, Status.UNDECLARED: 0, Status.PASS: 1, Status.NOT_APPLICABLE: 2}

log = logging.getLogger(__name__)


class PageProblem(Exception):
    """What the page answers instead: a status and one sentence naming what is wrong."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def page_url(name: str, version: str) -> str:
    return f"{PATH}?{urlencode({'name': name, 'version': version})}"


def _asked(request: Request) -> tuple[str, str]:
    """The version the query names; a missing or malformed field is a 400 naming it."""
    asked = query_fields(request.scope)
    name, version = asked.get("name", ""), asked.get("version", "")
    if not name.strip():
        raise PageProblem(400, "name: missing; give the registered model's name, e.g. "
                               "?name=ranker&version=1")
    if not version:
        raise PageProblem(400, "version: missing; give the version number, e.g. version=1")
    if not version.isascii() or not version.isdigit():
        raise PageProblem(400, f"version: {version[:40]!r} is not a version number; "
                               "allowed: digits, e.g. 1")
    return name, version


def may_sign_off(who: Principal) -> bool:
    return who.role is Role.ADMIN or Clearance.APPROVER in who.clearances


# --- what the page shows (blocking: run in a worker thread) ------------------------------


@dataclass(frozen=True)
class SignOff:
    approval: Approval
    verifies: bool
    current: bool  # it saw the evidence the version has now


def _load(site: Site, who: Principal, name: str, version: str) -> Loaded:
    try:
        loaded = site.gate.load(name, version)
    except Refused as e:
        raise PageProblem(e.status, str(e)) from None
    # The authorization layer decided on the model and the source run; this is the
    # search filters' own view of the version, kept in step with the lists.
    found = loaded.version
    if not Seen(site.grants, site.resolver, who).version(found.name, found.run_id,
                                                         found.model_id, found.tags):
        raise PageProblem(404, f"{name} version {version}: not found, or you may not see it")
    return loaded


def _record(loaded: Loaded) -> list[dict[str, str]]:
    tags = loaded.target.tags
    return [{"tag": tag, "value": tags.get(tag, ""), "article": field.article,
             "description": field.description} for tag, field in FIELDS.items()]


def _findings(rules: list[Rule], loaded: Loaded) -> list[Finding]:
    found = evaluate(rules, [loaded.target])
    return sorted(found, key=lambda f: ORDER.get(f.status, 3))


def _evidence_summary(evidence: Evidence) -> dict[str, Any]:
    """What a sign-off covers, for a person: each part with its own digest or values."""
    data = evidence.as_dict()
    record = json.dumps(data["record"], sort_keys=True).encode()
    return {
        "record_tags": len(data["record"]),
        "record_digest": hashlib.sha256(record).hexdigest(),
        "data_description": data["data_description"],
        "datasets": sorted(data["datasets"]),
        "metrics": sorted(data["metrics"].items()),
        "files": sorted(data["files"].items()),
        "run": data["run"],
        "created": data["created"],
    }


def _source(text: str) -> str:
    """Where a dataset came from: MLflow stores its source as JSON, mostly ``{"uri": ..}``."""
    try:
        parsed = json.loads(text)
    except ValueError:
        return text
    return str(parsed["uri"]) if isinstance(parsed, dict) and "uri" in parsed else text


def _lineage(loaded: Loaded) -> dict[str, Any]:
    run = loaded.run
    datasets = []
    for item in (run.inputs.dataset_inputs if run is not None and run.inputs else []):
        tags = {t.key: t.value for t in item.tags or []}
        datasets.append({"name": item.dataset.name, "digest": item.dataset.digest,
                         "source": _source(item.dataset.source),
                         "source_type": item.dataset.source_type,
                         "context": tags.get(MLFLOW_DATASET_CONTEXT, "")})
    run_box = None
    run_row = None
    if run is not None:
        run_name = (run.data.tags or {}).get(MLFLOW_RUN_NAME) or run.info.run_name or ""
        run_box = Box("run", run_name or run.info.run_id, run.info.run_id)
        run_row = {"name": run_name, "id": run.info.run_id,
                   "experiment_id": run.info.experiment_id, "user": run.info.user_id}
    version = loaded.version
    boxes = [Box("dataset", d["name"], ", ".join(x for x in (d["context"],
                                                              d["digest"]) if x))
             for d in datasets]
    picture = lineage(boxes, run_box, Box("model version",
                                          f"{version.name} v{version.version}"))
    return {"picture": picture, "datasets": datasets, "run": run_row}


def _metrics(loaded: Loaded) -> dict[str, Any]:
    record = loaded.target.record
    declared = list(record.ai_act.metric_thresholds or ()) if record else []
    groups = list(record.ai_act.evaluation_groups or ()) if record else []
    metrics = loaded.target.metrics
    bars, rows = [], []
    for text in declared:
        threshold = parse_threshold(text)
        for group in [None, *groups]:
            key = threshold.metric if group is None else f"{threshold.metric}/{group}"
            value = metrics.get(key)
            met = value is not None and threshold.met(value)
            bars.append(Bar(key, value, threshold.value, threshold.op, met))
            rows.append({"metric": threshold.metric, "group": group or "overall",
                         "value": "not logged" if value is None else f"{value:g}",
                         "threshold": f"{threshold.op} {threshold.value:g}",
                         "met": met, "logged": value is not None})
    return {"chart": metrics_chart(bars) if bars else None, "rows": rows,
            "declared": declared, "groups": groups}


def _documents(name: str, version: str) -> list[tuple[str, str]]:
    links = [(label, f"{DOCUMENTS}?" + urlencode({"name": name, "version": version,
                                                  "kind": kind, "format": form}))
             for label, kind, form in DOCUMENT_LINKS]
    links.append(("Signed bundle of every document and the evidence (ZIP)",
                  f"{BUNDLE}?{urlencode({'name': name, 'version': version})}"))
    return links


def _why_not(who: Principal, loaded: Loaded, status: GateStatus,
             evidence_problem: str) -> str:
    """Why this principal cannot sign the version off now ("" when they can)."""
    label = loaded.target.name
    if not may_sign_off(who):
        return ("You cannot sign off model versions: that needs the approver clearance or "
                "the admin role.")
    creator = loaded.run.info.user_id if loaded.run is not None else ""
    if who.name == creator:
        return (f"You created the source run of {label}: four-eyes release needs another "
                "approver (AI Act Art. 17(1)(b)-(d)).")
    if who.name == (loaded.version.tags or {}).get(REGISTERED_BY_TAG, ""):
        return (f"You registered {label}: four-eyes release needs another approver "
                "(AI Act Art. 17(1)(b)-(d)).")
    if status.failing:
        ids = ", ".join(f.rule_id for f in status.failing)
        return f"{label} cannot be signed off while it fails {ids}."
    return evidence_problem


def view(site: Site, rules: list[Rule], who: Principal, name: str, version: str
         ) -> dict[str, Any]:
    """Everything the page shows, read once."""
    loaded = _load(site, who, name, version)
    evidence, evidence_problem = None, ""
    try:  # read once (every model file hashed), for the gate, the sign-offs and the form
        evidence = site.gate.evidence(loaded)
    except Refused as e:
        evidence_problem = str(e)
    try:
        status = site.gate.status(name, version, loaded, evidence)
    except Refused as e:  # e.g. the model files cannot be read to compare a sign-off
        status = GateStatus(False, [str(e)], None, site.gate.failures(loaded.target))
    digest = evidence.digest() if evidence else ""
    signoffs = [SignOff(a, not forged(a, site.gate.verifier), a.record_digest == digest)
                for a in site.gate.approvals.of_version(name, version)]
    why_not = _why_not(who, loaded, status, evidence_problem)
    return {
        "name": name, "version": version, "loaded": loaded,
        "registered_by": (loaded.version.tags or {}).get(REGISTERED_BY_TAG, ""),
        "record": _record(loaded), "record_problems": list(loaded.target.record_problems),
        "findings": _findings(rules, loaded), "failing": FAILING,
        "gate": status, "signoffs": signoffs,
        "lineage": _lineage(loaded), "metrics": _metrics(loaded),
        "documents": _documents(name, version),
        "evidence": _evidence_summary(evidence) if evidence else None, "digest": digest,
        "why_not": why_not,
        "csrf": site.csrf.token(who.name, purpose(name, version)) if not why_not else "",
        "action": f"{SIGN_OFF}?{urlencode({'name': name, 'version': version})}",
        "max_note": MAX_NOTE,
    }


def purpose(name: str, version: str) -> str:
    """What a sign-off form's CSRF token is for: this version only."""
    return f"sign-off:{name}:{version}"


# --- signing off --------------------------------------------------------------------------


async def _form(request: Request) -> dict[str, str]:
    """The sign-off form's fields (pages/forms.py), or the page's problem."""
    try:
        return await read_form(request, MAX_FORM)
    except FormProblem as e:
        extra = f"; the note may have at most {MAX_NOTE} characters" if e.status == 413 else ""
        raise PageProblem(e.status, f"{e}{extra}") from None


def _approve(site: Site, who: Principal, name: str, version: str, text: str,
             shown: str) -> Approval:
    """The sign-off, if the evidence is still the one the page showed (the gate compares
    the digest with the evidence it signs, in the same call)."""
    _load(site, who, name, version)  # what the principal may see, as the page decided
    return site.gate.approve(who, name, version, text, shown_digest=shown)


def _problem_page(site: Site, request: Request, status: int, message: str) -> Response:
    asked = query_fields(request.scope)
    name, version = asked.get("name", ""), asked.get("version", "")
    back = page_url(name, version) if name and version.isdigit() else "/compliance/"
    return page("version.html", status, who=site.who(request), section="inventory",
                problem={"title": TITLES.get(status, "Refused"), "message": message,
                         "back": back})


def routes(site: Site) -> list[Route]:
    rules = load_rules(DEFAULT_PACKS)

    async def show(request: Request) -> Response:
        who = site.who(request)
        try:
            name, version = _asked(request)
            shown = await run_in_threadpool(view, site, rules, who, name, version)
        except PageProblem as e:
            return _problem_page(site, request, e.status, str(e))
        return page("version.html", who=who, section="inventory", problem=None, **shown)

    async def sign_off(request: Request) -> Response:
        who = site.who(request)
        try:
            name, version = _asked(request)
            form = await _form(request)
            if not site.csrf.valid(who.name, purpose(name, version), form.get("csrf")):
                raise PageProblem(403, "the form's token is missing, expired or not yours "
                                       "for this version: open the version's page and sign "
                                       "off from there")
            text = form.get("note", "").strip()
            if not text:
                raise PageProblem(400, "note: required; say what you reviewed")
            if len(text) > MAX_NOTE:
                raise PageProblem(400, f"note: longer than {MAX_NOTE} characters")
            approval = await run_in_threadpool(_approve, site, who, name, version, text,
                                               form.get("digest", ""))
        except (PageProblem, Refused) as e:
            status = e.status
            note(request.scope, decision={"gate": f"refused: {e}"[:MAX_DECISION]})
            return _problem_page(site, request, status, str(e))
        note(request.scope, decision={"approval": approval.id,
                                      "record_digest": approval.record_digest})
        # the inventory's stored result of this version, fresh: it shows the sign-off.
        # The sign-off stands either way; a result not refreshed stays marked "changed
        # since checked" (signed after its check) until the next check.
        try:
            await run_in_threadpool(check_results.check_version, site, name, version)
        except Exception as e:  # a cache refresh, after the decision: logged, not fatal
            log.warning("pages: %s version %s: the stored check result was not refreshed "
                        "after a sign-off (%s)", name, version, type(e).__name__)
        return RedirectResponse(page_url(name, version) + "#sign-offs", status_code=303,
                                headers=SECURITY_HEADERS)

    return [Route(PATH, show, methods=["GET"]), Route(SIGN_OFF, sign_off, methods=["POST"])]
