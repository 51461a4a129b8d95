"""REST endpoint of the access report (``POST /api/2.0/compliance/subjects/report``).

Answers a data subject's access request (GDPR Art. 15(1)-(3)) with the report of
``subjects/access_report.py``: where the person appears, the record's answers letter by
letter, their own rows (decrypted, Art. 15(3)) and what was made from them. POST, so the
id is never in a URL or an access log line. The route table marks it ``PRIVACY``
(admins and the ``privacy`` role). The audit entry holds counts only (places, rows,
problems), never the id.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mlflow.exceptions import MlflowException
from starlette.routing import Route

from mlflow_compliance.server.administration import PREFIX
from mlflow_compliance.server.json_endpoint import bad_input, json_endpoint
from mlflow_compliance.subjects.access_report import Sources, build_report
from mlflow_compliance.subjects.index import SubjectIndex
from mlflow_compliance.subjects.pseudonym import normalise
from mlflow_compliance.subjects.requests import RequestRegister

MAX_ID_LENGTH = 1000


class Refused(ValueError):
    """The request is wrong; the message starts with the field."""


def _sources(index: SubjectIndex, register: RequestRegister) -> Sources:
    from mlflow.server.handlers import _get_model_registry_store, _get_tracking_store

    from mlflow_compliance.subjects.dataset_files import artifact_root

    try:
        artifacts = artifact_root()
    except MlflowException:
        artifacts = None  # the server does not proxy artifacts: no files to read
    return Sources(index, register, _get_tracking_store(), _get_model_registry_store(),
                   artifacts)


class ReportService:
    """What the route does, without HTTP."""

    def __init__(self, index: SubjectIndex, register: RequestRegister,
                 pseudonymise: Callable[[str], bytes]) -> None:
        self.index = index
        self.register = register
        self.pseudonymise = pseudonymise

    def report(self, data: dict[str, Any]) -> dict[str, Any]:
        subject_id = data.get("subject_id")
        if not isinstance(subject_id, str) or not normalise(subject_id) \
                or len(subject_id) > MAX_ID_LENGTH:
            raise Refused(f"subject_id: required, a non-blank string of at most "
                          f"{MAX_ID_LENGTH} characters")
        return build_report(subject_id, self.pseudonymise(subject_id),
                            _sources(self.index, self.register))


def _counts(report: dict[str, Any]) -> dict[str, str]:
    return {"found": str(report["found"]).lower(), "places": str(len(report["places"])),
            "rows": str(sum(p["rows"] for p in report["places"])),
            "problems": str(len(report["problems"]))}


def report_routes(index: SubjectIndex, register: RequestRegister,
                  pseudonymise: Callable[[str], bytes]) -> list[Route]:
    """The ``subjects/report`` route."""
    service = ReportService(index, register, pseudonymise)

    return [Route(PREFIX + "subjects/report",
                  json_endpoint(lambda data, _who: service.report(data), _counts,
                                [bad_input(Refused)], keys="index key"),
                  methods=["POST"])]
