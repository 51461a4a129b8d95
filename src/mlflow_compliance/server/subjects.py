"""REST endpoints of the data-subject index (``/api/2.0/compliance/subjects/...``).

``subjects/index`` adds a batch of subject ids of one run's dataset column;
``subjects/find`` says where one person appears (GDPR Art. 15(1)); this layer also
answers the request register's routes (``subject_requests.py``). Index and find are
POST, so a subject id is never in a URL or an access log line. The route table marks
them ``PRIVACY`` (admins and the privacy role): the index is pseudonymised personal
data (Art. 4(5), 32(1)(a)). The audit log records who asked and the run, never the id:
the table names no id field, and the decision noted here holds counts only.
"""

from __future__ import annotations

from typing import Any

from mlflow.exceptions import MlflowException
from starlette.routing import Route
from starlette.types import ASGIApp

from mlflow_compliance.audit.signing import Signer
from mlflow_compliance.server.administration import PREFIX
from mlflow_compliance.server.json_endpoint import bad_input, json_endpoint
from mlflow_compliance.server.routed import RoutedLayer
from mlflow_compliance.server.subject_erasure import erasure_routes
from mlflow_compliance.server.subject_report import report_routes
from mlflow_compliance.server.subject_requests import RequestService, request_routes
from mlflow_compliance.subjects.declared import Refused, declared_place
from mlflow_compliance.subjects.index import SubjectIndex, occurrences_json
from mlflow_compliance.subjects.pseudonym import Pseudonymiser, index_key, normalise
from mlflow_compliance.subjects.requests import RequestRegister

REFUSED = [bad_input(Refused)]
MAX_BATCH = 10_000
"""Subject ids one ``subjects/index`` request may carry."""
MAX_ID_LENGTH = 1000


def _text(data: dict[str, Any], name: str, required: bool = True) -> str | None:
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise Refused(f"{name}: required, a non-empty string")
    return value


def _ids(data: dict[str, Any]) -> list[str]:
    """The batch, checked without ever quoting an id back."""
    ids = data.get("ids")
    if not isinstance(ids, list):
        raise Refused("ids: required, a list of subject ids (strings)")
    if len(ids) > MAX_BATCH:
        raise Refused(f"ids: {len(ids)} in one request; at most {MAX_BATCH}")
    for at, value in enumerate(ids):
        if not isinstance(value, str) or not normalise(value):
            raise Refused(f"ids[{at}]: not a non-blank string")
        if len(value) > MAX_ID_LENGTH:
            raise Refused(f"ids[{at}]: longer than {MAX_ID_LENGTH} characters")
    return ids


def _tracking() -> Any:
    from mlflow.server.handlers import _get_tracking_store

    return _get_tracking_store()


def _keyring() -> Any:
    from mlflow_compliance.encryption.keys.configure import server_keyring

    return server_keyring()


class SubjectService:
    """What the two routes do, without HTTP."""

    def __init__(self, index: SubjectIndex) -> None:
        self.index = index

    def _pseudonymiser(self) -> Pseudonymiser:
        return Pseudonymiser(index_key(_keyring()))

    def add(self, data: dict[str, Any]) -> dict[str, Any]:
        run_id = _text(data, "run_id")
        name = _text(data, "dataset_name")
        digest = _text(data, "dataset_digest", required=False)
        column = _text(data, "column")
        ids = _ids(data)
        assert run_id is not None and name is not None and column is not None
        try:
            run = _tracking().get_run(run_id)
        except MlflowException:
            raise Refused(f"run_id: no run {run_id!r}") from None
        place = declared_place(run, name, digest, column)
        if not ids:  # a check before a long upload: the place is indexable
            return {"indexed": 0, "dataset_digest": place.dataset_digest}
        hasher = self._pseudonymiser()
        indexed = self.index.add(place, (hasher.pseudonym(i) for i in ids))
        return {"indexed": indexed, "dataset_digest": place.dataset_digest}

    def find(self, data: dict[str, Any]) -> dict[str, Any]:
        subject_id = data.get("subject_id")
        if not isinstance(subject_id, str) or not normalise(subject_id):
            raise Refused("subject_id: required, a non-blank string")
        found = self.index.find(self._pseudonymiser().pseudonym(subject_id))
        return {"occurrences": occurrences_json(found)}


class Subjects(RoutedLayer):
    """ASGI layer: answers the ``subjects/...`` routes, hands the rest on."""

    def __init__(self, app: ASGIApp, uri: str, signer: Signer | None = None) -> None:
        service = SubjectService(SubjectIndex.connect(uri))
        routes = [
            Route(PREFIX + "subjects/index",
                  json_endpoint(lambda data, _who: service.add(data),
                                lambda a: {"indexed": str(a["indexed"])}, REFUSED,
                                keys="index key"),
                  methods=["POST"]),
            Route(PREFIX + "subjects/find",
                  json_endpoint(lambda data, _who: service.find(data),
                                lambda a: {"occurrences": str(len(a["occurrences"]))},
                                REFUSED, keys="index key"),
                  methods=["POST"]),
            # the request register (GDPR Art. 12(3), 15-18, 21): server/subject_requests.py
            *request_routes(RequestService(
                RequestRegister.connect(uri),
                lambda subject_id: service._pseudonymiser().pseudonym(subject_id))),
            # the access report (GDPR Art. 15): server/subject_report.py
            *report_routes(service.index, RequestRegister.connect(uri),
                           lambda subject_id: service._pseudonymiser().pseudonym(subject_id)),
            # erasure (GDPR Art. 17) and its certificates: server/subject_erasure.py
            *erasure_routes(uri, RequestRegister.connect(uri),
                            lambda subject_id: service._pseudonymiser().pseudonym(subject_id),
                            signer),
        ]
        super().__init__(app, routes)
