"""The ``compliance`` server app: MLflow's own ASGI app inside the compliance layers.

Loaded by ``mlflow server --app-name compliance`` (entry point group ``mlflow.app``) in
every worker. The request path of DESIGN.md, outermost first:

    audit -> browser protections (Host, Origin, JSON content type; MLflow's settings)
    -> refusals under /compliance/ shown as pages -> authentication
    -> limits before authentication -> seed's GET search
    -> authorization (one decision, left in the scope) -> the signed-in user's account
    (MLflow's UI) -> administration API -> retention -> a version's documents and
    bundle -> the compliance web pages (/compliance/) -> data-subject index
    -> indexing of logged datasets' subjects (after MLflow's answer) -> search limits
    -> surface hardening -> identity claims -> compliance validation
    -> promotion gate -> encrypted downloads (decrypting as they stream)
    -> a link to the compliance pages on MLflow's UI page (index_link)
    -> MLflow (FastAPI + Flask)

The audit layer wraps everything, so requests refused by any layer are logged too,
unless MLFLOW_ACCESS_LOGGING is explicitly false. MLflow's own host check stays inside
its app as well.
"""

from __future__ import annotations

import contextlib
import os

from starlette.types import ASGIApp

from mlflow_compliance.audit.log import AuditLog
from mlflow_compliance.audit.signing import Signer, Verifier
from mlflow_compliance.audit.writer import GroupWriter
from mlflow_compliance.checks.approvals import ApprovalStore
from mlflow_compliance.checks.model import ServerFacts
from mlflow_compliance.checks.packs import load_rules
from mlflow_compliance.checks.policy import Policy
from mlflow_compliance.identity.store import IdentityStore
from mlflow_compliance.server.account import Account
from mlflow_compliance.server.administration import Administration
from mlflow_compliance.server.anonymous import AnonymousLimits
from mlflow_compliance.server.audit import AuditCapture
from mlflow_compliance.server.authentication.credentials import Authenticator
from mlflow_compliance.server.authentication.layer import Authentication
from mlflow_compliance.server.authentication.oidc import OidcSettings, OidcVerifier
from mlflow_compliance.server.authorization.defaults import Defaults, Grants
from mlflow_compliance.server.authorization.layer import Authorization
from mlflow_compliance.server.authorization.resources import Resolver
from mlflow_compliance.server.browser import BrowserProtection
from mlflow_compliance.server.claims import IdentityClaims
from mlflow_compliance.server.documents import Documents
from mlflow_compliance.server.encrypted_downloads import EncryptedDownloads
from mlflow_compliance.server.gate.decisions import Gate
from mlflow_compliance.server.index_link import IndexLink
from mlflow_compliance.server.need_to_know import need_to_know
from mlflow_compliance.server.no_delay import no_delay_on_tcp_sockets
from mlflow_compliance.server.pages.csrf import Csrf
from mlflow_compliance.server.pages.layer import Pages
from mlflow_compliance.server.pages.refusals import PageRefusals
from mlflow_compliance.server.pages.site import Site
from mlflow_compliance.server.promotion_gate import PromotionGate
from mlflow_compliance.server.record_rules import RecordRules
from mlflow_compliance.server.retention_routes import Retention
from mlflow_compliance.server.search_limits import SearchLimits
from mlflow_compliance.server.seed_search import SeedSearch
from mlflow_compliance.server.starts import record_start
from mlflow_compliance.server.subject_indexing import SubjectIndexing
from mlflow_compliance.server.subjects import Subjects
from mlflow_compliance.server.surface import SurfaceHardening
from mlflow_compliance.server.validation import ComplianceValidation
from mlflow_compliance.server.version_documents import VersionDocuments
from mlflow_compliance.settings import (
    Settings,
    access_logging,
    artifact_encryption,
    check_compliance_settings,
    demote_lapsed,
    gate_rules,
    protected_aliases,
    retention_days,
    strict_record,
)


def _import_mlflow_auth_before_serving() -> None:
    """MLflow's runs/search handler imports ``mlflow.server.auth`` lazily, where it is
    installed (Flask-WTF); a second thread can see that module half-initialised and
    answer 500. Imported once here, before any request, the race cannot happen."""
    import importlib

    with contextlib.suppress(ImportError):
        importlib.import_module("mlflow.server.auth")


def create_app() -> ASGIApp:
    from mlflow.server import BACKEND_STORE_URI_ENV_VAR
    from mlflow.server.fastapi_app import app as mlflow_app

    no_delay_on_tcp_sockets()  # uvicorn's --workers leaves Nagle on (see no_delay)
    _import_mlflow_auth_before_serving()
    uri = os.environ.get(BACKEND_STORE_URI_ENV_VAR)
    if not uri:
        raise RuntimeError(
            f"{BACKEND_STORE_URI_ENV_VAR} is not set: start with mlflow-compliance server"
        )
    check_compliance_settings()  # a bad record or gate setting: one line, no start
    store = IdentityStore.connect(uri)
    settings = Settings.from_env(backend_store_uri=uri)
    logging_on = access_logging()
    encryption_on = artifact_encryption()
    policy = Policy.from_env()
    approvals = ApprovalStore.connect(uri)
    encrypted_since = record_start(approvals.engine, encryption_on)
    signer = Signer.load(settings.home)
    audit = AuditLog(settings.audit_url, settings.home, signer)
    oidc = OidcSettings.from_env()
    authenticator = Authenticator(store, OidcVerifier(oidc) if oidc else None)
    facts = ServerFacts(
        artifact_encryption=encryption_on,
        access_logging=logging_on,
        audit_retention_days=retention_days(),
        need_to_know=need_to_know(),
        encrypted_since=encrypted_since,
        policy=policy,
    )
    packs, aliases, strict, demote = gate_rules(), protected_aliases(), strict_record(), \
        demote_lapsed()
    gate = Gate(load_rules(packs), approvals, signer, Verifier.load(settings.home), facts)
    info = {
        "artifact_encryption": facts.artifact_encryption,
        "access_logging": facts.access_logging,
        "audit_retention_days": facts.audit_retention_days,
        "need_to_know": facts.need_to_know,
        "encrypted_since": encrypted_since,
        "policy": policy.as_dict(),
        "strict_record": strict,
        "gate_rules": packs,
        "protected_aliases": sorted(aliases),
        "demote_lapsed": demote,
    }

    app: ASGIApp = mlflow_app
    app = IndexLink(app)  # a link to the compliance pages on MLflow's UI page
    app = EncryptedDownloads(app)
    app = PromotionGate(app, gate, aliases, demote)
    app = ComplianceValidation(app, RecordRules(policy, strict))
    app = IdentityClaims(app)
    app = SurfaceHardening(app)
    app = SearchLimits(app)
    app = SubjectIndexing(app, uri)
    app = Subjects(app, uri, signer)
    app = Documents(app, VersionDocuments(gate, audit, signer))
    app = Pages(app, Site(uri, gate, audit, signer, Verifier.load(settings.home),
                          Grants(store, Defaults.from_env()), Resolver(),
                          Csrf.of_home(settings.home), settings.home))
    app = Retention(app, uri)
    app = Administration(app, store, audit, info)
    app = Account(app, store)
    app = Authorization(app, store, defaults=Defaults.from_env())
    app = SeedSearch(app)
    app = AnonymousLimits(app)
    app = Authentication(app, authenticator)
    app = PageRefusals(app)
    app = BrowserProtection(app)
    if logging_on:
        app = AuditCapture(app, GroupWriter(audit))
    return app
