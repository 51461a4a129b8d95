"""REST endpoints of the request register (``/api/2.0/compliance/subjects/requests/...``).

``create`` records a request of GDPR Art. 15-18 or 21, ``update`` changes its status
(an extension under Art. 12(3) and a refusal under Art. 12(4) need a reason), ``list``
shows the register with days left and what is overdue. The route table marks them
``ADMIN``. ``create`` takes the subject's raw id only to compute its pseudonym (the
index's HMAC): the id is not stored, not returned, and not in the audit log, which
records the request's id and status (the table names no id field). Who handles a
request is the authenticated principal, never a field of the request.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from starlette.routing import Route

from mlflow_compliance.server.administration import PREFIX
from mlflow_compliance.server.json_endpoint import bad_input, json_endpoint, missing
from mlflow_compliance.subjects.pseudonym import normalise
from mlflow_compliance.subjects.requests import Invalid, NotFound, RequestRegister

MAX_ID_LENGTH = 1000



class RequestService:
    """What the three routes do, without HTTP."""

    def __init__(self, register: RequestRegister,
                 pseudonym: Callable[[str], bytes]) -> None:
        self.register = register
        self.pseudonym = pseudonym

    def create(self, data: dict[str, Any], who: str) -> dict[str, Any]:
        subject_id = data.get("subject_id")
        if not isinstance(subject_id, str) or not normalise(subject_id) \
                or len(subject_id) > MAX_ID_LENGTH:
            raise Invalid(f"subject_id: required, a non-blank string of at most "
                          f"{MAX_ID_LENGTH} characters")
        made = self.register.create(data.get("kind"), self.pseudonym(subject_id), who,
                                    data.get("received_on"), data.get("note"))
        return self._shown(made.id)

    def update(self, data: dict[str, Any], who: str) -> dict[str, Any]:
        made = self.register.update(data.get("id"), data.get("status"), who,
                                    data.get("reason"), data.get("extend_months"))
        return self._shown(made.id)

    def list(self, data: dict[str, Any], who: str) -> dict[str, Any]:
        overdue = data.get("overdue", "false")
        if overdue not in ("true", "false"):
            raise Invalid("overdue: true or false")
        today = datetime.now(UTC).date()
        found = self.register.list(data.get("status") or None, overdue == "true", today)
        return {"requests": [r.as_dict(today) for r in found]}

    def _shown(self, request_id: str) -> dict[str, Any]:
        answer = self.register.get(request_id).as_dict(datetime.now(UTC).date())
        return {"request": {**answer, "history": self.register.history(request_id)}}


REFUSED = [missing(NotFound), bad_input(Invalid)]


def _one(answer: dict[str, Any]) -> dict[str, str]:
    r = answer["request"]
    return {"request": r["id"], "status": r["status"], "deadline": r["deadline"]}


def request_routes(service: RequestService) -> list[Route]:
    base = PREFIX + "subjects/requests/"
    return [
        Route(base + "create", json_endpoint(service.create, _one, REFUSED, keys="index key"),
              methods=["POST"]),
        Route(base + "update", json_endpoint(service.update, _one, REFUSED, keys="index key"),
              methods=["POST"]),
        Route(base + "list",
              json_endpoint(service.list, lambda a: {"requests": str(len(a["requests"]))},
                            REFUSED, keys="index key"),
              methods=["GET"]),
    ]
