"""REST endpoints of erasure (``/api/2.0/compliance/subjects/erase``, ``.../certificates/get``).

``erase`` acts on a request of the register (GDPR Art. 17): the request must exist, be
an erasure request, be open, and name the same person as ``subject_id`` (its pseudonym,
the index's HMAC, must match). ``dry_run: true`` answers the plan; otherwise the person
is erased (subjects/erasure/), the request is marked ``completed`` with the
certificate's id in its reason, and the signed certificate is the answer. The route
table gives both routes to admins and the privacy role. The audit entry names the
request, the certificate, and counts and object ids of each step, never the person's id
(``subject_id`` is in the body of a POST, never a URL).
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from mlflow.exceptions import MlflowException
from starlette.routing import Route

from mlflow_compliance.audit.signing import Signer
from mlflow_compliance.retention.holds import LegalHolds
from mlflow_compliance.server.administration import PREFIX
from mlflow_compliance.server.json_endpoint import bad_input, json_endpoint, missing, not_now
from mlflow_compliance.subjects.declared import SUBJECT_ID_COLUMNS_TAG
from mlflow_compliance.subjects.erasure.certificate import Certificates
from mlflow_compliance.subjects.erasure.certificate import NotFound as NoCertificate
from mlflow_compliance.subjects.erasure.erase import Erasure, ErasureRefused, Sources
from mlflow_compliance.subjects.index import SubjectIndex
from mlflow_compliance.subjects.pseudonym import normalise
from mlflow_compliance.subjects.requests import OPEN, Invalid, NotFound, RequestRegister
from mlflow_compliance.subjects.requests import subject_requests as requests_table

MAX_ID_LENGTH = 1000
MAX_NOTED = 500


class Conflict(Exception):
    """The erasure cannot be done as the data is; the message says why."""


def _declared(tracking: Any) -> Callable[[str, str], list[str]]:
    """The subject-id columns the dataset's record declares, per run and dataset."""
    def columns(run_id: str, name: str) -> list[str]:
        try:
            run = tracking.get_run(run_id)
        except MlflowException:
            return []
        found: set[str] = set()
        for used in (run.inputs.dataset_inputs if run.inputs else []):
            if used.dataset.name == name:
                tags = {t.key: t.value for t in used.tags or []}
                found |= {c.strip() for c in (tags.get(SUBJECT_ID_COLUMNS_TAG) or "").split(",")
                          if c.strip()}
        return sorted(found)

    return columns


class ErasureService:
    """What the two routes do, without HTTP; the stores are opened on first use (MLflow's
    own are set up by then)."""

    def __init__(self, uri: str, register: RequestRegister,
                 pseudonym: Callable[[str], bytes], signer: Signer | None) -> None:
        self.uri, self.register, self.pseudonym = uri, register, pseudonym
        self._signer = signer
        self._erasure: Erasure | None = None
        self.certificates = Certificates.connect(uri)
        # One erasure at a time in this worker: a second request for the same person
        # waits, then finds its request completed (several workers: docs/subjects.md).
        self._one_at_a_time = threading.Lock()

    def erasure(self) -> Erasure:
        if self._erasure is None:
            from mlflow.server.handlers import _get_model_registry_store, _get_tracking_store

            from mlflow_compliance.encryption.keys.configure import server_keyring
            from mlflow_compliance.encryption.repository import EncryptedArtifactRepository
            from mlflow_compliance.subjects.dataset_files import artifact_root

            tracking = _get_tracking_store()
            repository = artifact_root()
            encrypted = isinstance(repository, EncryptedArtifactRepository)
            sources = Sources(
                index=SubjectIndex.connect(self.uri), tracking=tracking.engine,  # type: ignore[attr-defined]
                repository=repository, root=repository.artifact_uri,
                holds=LegalHolds.connect(self.uri), certificates=self.certificates,
                registry=_get_model_registry_store(), declared=_declared(tracking),
                keyring=server_keyring() if encrypted else None)
            self._erasure = Erasure(sources, self.signer())
        return self._erasure

    def signer(self) -> Signer:
        if self._signer is None:
            from mlflow_compliance.settings import Settings

            self._signer = Signer.load(Settings.from_env(backend_store_uri=self.uri).home)
        return self._signer

    def erase(self, data: dict[str, Any], who: str) -> dict[str, Any]:
        if data.get("dry_run") is False:
            with self._one_at_a_time:
                return self._erase(data, who)
        return self._erase(data, who)

    def _erase(self, data: dict[str, Any], who: str) -> dict[str, Any]:
        subject_id = data.get("subject_id")
        if not isinstance(subject_id, str) or not normalise(subject_id) \
                or len(subject_id) > MAX_ID_LENGTH:
            raise Invalid(f"subject_id: required, a non-blank string of at most "
                          f"{MAX_ID_LENGTH} characters")
        dry_run = data.get("dry_run")
        if not isinstance(dry_run, bool):
            raise Invalid("dry_run: required, true (answer the plan) or false (erase)")
        request = self.register.get(data.get("request_id"))
        if request.kind != "erasure":
            raise Invalid(f"request_id: request {request.id} is a {request.kind} request, "
                          "not an erasure (GDPR Art. 17)")
        if request.status not in OPEN:
            raise Invalid(f"request_id: request {request.id} is {request.status}; only an "
                          f"open request ({', '.join(OPEN)}) is acted on")
        pseudonym = self.pseudonym(subject_id)
        if not hmac.compare_digest(self._pseudonym_of(request.id), pseudonym):
            raise Invalid("subject_id: does not match the request")
        erasure = self.erasure()
        plan = erasure.plan(pseudonym, subject_id)
        if dry_run:
            return {"request_id": request.id, "plan": plan.as_dict()}
        try:
            signed = erasure.erase(plan, pseudonym, subject_id, request.id, who)
        except ErasureRefused as e:
            raise Conflict(str(e)) from None
        withheld = f"; {len(plan.withheld)} places withheld under GDPR Art. 17(3)" \
            if plan.withheld else ""
        self.register.update(request.id, "completed", who,
                             f"erased under GDPR Art. 17: certificate {signed['id']}{withheld}")
        return {"certificate": signed}

    def get(self, data: dict[str, Any], who: str) -> dict[str, Any]:
        try:
            return {"certificate": self.certificates.get(data.get("id"))}
        except ValueError as e:
            raise Invalid(str(e)) from None
        except NoCertificate as e:
            raise NotFound(str(e)) from None

    def _pseudonym_of(self, request_id: str) -> bytes:
        t = requests_table.c
        with self.register.engine.connect() as c:
            found = c.execute(sa.select(t.pseudonym).where(t.id == request_id)).scalar_one()
        return bytes(found)


def noted(answer: dict[str, Any]) -> dict[str, str]:
    """The audit decision: each step by object id and counts, never the person's id."""
    if "plan" in answer:
        plan = answer["plan"]
        return {"request": answer["request_id"], "dry_run": "true",
                "places": str(len(plan["places"])), "withheld": str(len(plan["withheld"])),
                "versions_to_flag": ",".join(plan["versions_to_flag"])[:MAX_NOTED]}
    c = answer["certificate"]
    places = c["places"]
    return {
        "request": c["request_id"], "certificate": c["id"],
        "places": ",".join(f"{p['run_id']}/{p['dataset_name']}" for p in places)[:MAX_NOTED],
        "files_rewritten": str(sum(len(p["files"]) for p in places)),
        "rows_removed": str(sum(p["rows_removed"] for p in places)),
        "keys_shredded": ",".join(k for p in places for k in p["shredded_keys"])[:MAX_NOTED],
        "records_redacted": str(len(c["records_redacted"])),
        "index_rows_deleted": str(c["index_rows_deleted"]),
        "versions_flagged": ",".join(c["versions_flagged"])[:MAX_NOTED],
        "withheld": ",".join(f"{w['run_id']}/{w['dataset_name']}:{w['hold_id']}"
                             for w in c["withheld"])[:MAX_NOTED],
    }


REFUSED = [missing(NotFound), bad_input(Invalid), not_now(Conflict)]


def erasure_routes(uri: str, register: RequestRegister, pseudonym: Callable[[str], bytes],
                   signer: Signer | None = None) -> list[Route]:
    """The erasure routes, for the data-subject layer (server/subjects.py)."""
    service = ErasureService(uri, register, pseudonym, signer)
    return [
        Route(PREFIX + "subjects/erase", json_endpoint(service.erase, noted, REFUSED, "keyring"),
              methods=["POST"]),
        Route(PREFIX + "subjects/certificates/get", json_endpoint(
            service.get, lambda a: {"certificate": a["certificate"]["id"]}, REFUSED,
            "keyring"), methods=["GET"]),
    ]
