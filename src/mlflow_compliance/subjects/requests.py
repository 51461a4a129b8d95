"""The register of data subjects' requests, in the tracking database.

One row per request a person makes of the controller: access (GDPR Art. 15),
rectification (Art. 16), erasure (Art. 17), restriction (Art. 18) or objection (Art.
21). It records when the request was received, when the answer is due (one month,
Art. 12(3), extended by at most two months with a reason), its status, who handled it
and, when refused, why (Art. 12(4): the subject is told the reasons). Every change is a
row of the history table: who changed what, when.

The person is named only by the pseudonym of the data-subject index (HMAC under the
index key, ``subjects/pseudonym.py``): the raw id is never stored (Art. 4(5)).
"""

from __future__ import annotations

import builtins
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from mlflow_compliance.subjects.deadline import days_left, deadline, extension
from mlflow_compliance.subjects.pseudonym import PSEUDONYM_BYTES
from mlflow_compliance.tables import engine_with

KINDS = {
    "access": "Art. 15", "rectification": "Art. 16", "erasure": "Art. 17",
    "restriction": "Art. 18", "objection": "Art. 21",
}
OPEN = ("received", "in_progress", "extended")
CLOSED = ("completed", "refused", "withdrawn")
STATUSES = OPEN + CLOSED
MAX_TEXT = 2000

metadata = sa.MetaData()

subject_requests = sa.Table(
    "compliance_subject_requests",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("pseudonym", sa.LargeBinary(PSEUDONYM_BYTES), nullable=False),
    sa.Column("received_on", sa.Date, nullable=False),
    sa.Column("deadline", sa.Date, nullable=False),
    sa.Column("extended_months", sa.Integer, nullable=False, default=0),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("handled_by", sa.String(250), nullable=False),
    sa.Column("note", sa.Text),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Index("compliance_subject_requests_pseudonym", "pseudonym"),
)

subject_request_history = sa.Table(
    "compliance_subject_request_history",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("request_id", sa.String(32), nullable=False, index=True),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Column("who", sa.String(250), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("deadline", sa.Date, nullable=False),
    sa.Column("reason", sa.Text),
)


class Invalid(ValueError):
    """The request to the register is wrong; the message starts with the field."""


class NotFound(LookupError):
    """No request of that id."""


@dataclass(frozen=True)
class SubjectRequest:
    """A row of the register, as shown: without the pseudonym."""

    id: str
    kind: str
    received_on: date
    deadline: date
    extended_months: int
    status: str
    reason: str | None
    handled_by: str
    note: str | None
    updated_at: datetime

    def as_dict(self, today: date) -> dict[str, Any]:
        left = days_left(self.deadline, today)
        return {
            "id": self.id, "kind": self.kind, "article": KINDS[self.kind],
            "received_on": self.received_on.isoformat(),
            "deadline": self.deadline.isoformat(), "extended_months": self.extended_months,
            "status": self.status, "reason": self.reason, "handled_by": self.handled_by,
            "note": self.note, "updated_at": self.updated_at.isoformat(timespec="seconds"),
            "days_left": left, "overdue": self.status in OPEN and left < 0,
        }


_SHOWN = [c for c in subject_requests.c if c.name != "pseudonym"]


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _text(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise Invalid(f"{name}: a string of at most {MAX_TEXT} characters")
    return value.strip() or None


def check_kind(kind: Any) -> str:
    if kind not in KINDS:
        raise Invalid(f"kind: one of {', '.join(KINDS)}")
    return str(kind)


def check_status(status: Any) -> str:
    if status not in STATUSES:
        raise Invalid(f"status: one of {', '.join(STATUSES)}")
    return str(status)


def check_received(value: Any, today: date) -> date:
    if value is None:
        return today
    try:
        day = date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        day = None
    if day is None:
        raise Invalid("received_on: a date, YYYY-MM-DD")
    if day > today:
        raise Invalid("received_on: in the future")
    return day


class RequestRegister:
    """Recording requests and their changes; each change is a history row."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def connect(cls, uri: str) -> RequestRegister:
        return cls(engine_with(uri, metadata))

    def close(self) -> None:
        self.engine.dispose()

    def create(self, kind: Any, pseudonym: bytes, who: str, received_on: Any = None,
               note: Any = None, today: date | None = None) -> SubjectRequest:
        """A new request, status ``received``, due one month after receipt."""
        today = today or _now().date()
        received = check_received(received_on, today)
        row = {"id": uuid.uuid4().hex, "kind": check_kind(kind), "pseudonym": pseudonym,
               "received_on": received, "deadline": deadline(received),
               "extended_months": 0, "status": "received", "reason": None,
               "handled_by": who, "note": _text(note, "note"), "updated_at": _now()}
        with self.engine.begin() as c:
            c.execute(subject_requests.insert().values(**row))
            self._history(c, row)
        return self.get(row["id"])

    def update(self, request_id: Any, status: Any, who: str, reason: Any = None,
               extend_months: Any = None) -> SubjectRequest:
        """A new status. ``extended`` needs ``extend_months`` and a reason (Art.
        12(3)); ``refused`` needs the reason the subject is told (Art. 12(4)). A closed
        request (completed, refused, withdrawn) stays closed."""
        status = check_status(status)
        reason = _text(reason, "reason")
        current = self.get(request_id)
        if current.status in CLOSED:
            raise Invalid(f"status: the request is {current.status} already; it stays so")
        months = current.extended_months
        if extend_months is not None or status == "extended":
            if status != "extended":
                raise Invalid("extend_months: only with status extended")
            if not isinstance(extend_months, int) or isinstance(extend_months, bool):
                raise Invalid("extend_months: required with status extended, 1 or 2")
            try:
                months = extension(months, extend_months, reason)
            except ValueError as e:
                raise Invalid(str(e)) from None
        if status == "refused" and not reason:
            raise Invalid("reason: a refusal needs the reasons the subject is told "
                          "(GDPR Art. 12(4))")
        row = {"id": current.id, "status": status, "extended_months": months,
               "deadline": deadline(current.received_on, months), "handled_by": who,
               "reason": reason if reason is not None else current.reason,
               "updated_at": _now()}
        with self.engine.begin() as c:
            c.execute(subject_requests.update()
                      .where(subject_requests.c.id == current.id).values(**row))
            self._history(c, {**row, "reason": reason})
        return self.get(current.id)

    def get(self, request_id: Any) -> SubjectRequest:
        if not isinstance(request_id, str) or not request_id:
            raise Invalid("id: required, the request's id")
        with self.engine.connect() as c:
            row = c.execute(sa.select(*_SHOWN)
                            .where(subject_requests.c.id == request_id)).first()
        if row is None:
            raise NotFound(f"id: no request {request_id!r}")
        return SubjectRequest(*row)

    def list(self, status: str | None = None, overdue: bool = False,
             today: date | None = None) -> list[SubjectRequest]:
        """Requests by deadline, earliest first; ``overdue``: open and past due."""
        today = today or _now().date()
        t = subject_requests.c
        query = sa.select(*_SHOWN).order_by(t.deadline, t.received_on, t.id)
        if status is not None:
            query = query.where(t.status == check_status(status))
        if overdue:
            query = query.where(t.status.in_(OPEN), t.deadline < today)
        with self.engine.connect() as c:
            return [SubjectRequest(*row) for row in c.execute(query).all()]

    def of_subject(self, pseudonym: bytes) -> builtins.list[SubjectRequest]:
        """The requests of one person (by pseudonym), oldest first."""
        t = subject_requests.c
        with self.engine.connect() as c:
            rows = c.execute(sa.select(*_SHOWN).where(t.pseudonym == pseudonym)
                             .order_by(t.received_on, t.id)).all()
        return [SubjectRequest(*row) for row in rows]

    def history(self, request_id: str) -> builtins.list[dict[str, Any]]:
        """Who changed the request, to what, when; oldest first."""
        h = subject_request_history.c
        with self.engine.connect() as c:
            rows = c.execute(sa.select(h.at, h.who, h.status, h.deadline, h.reason)
                             .where(h.request_id == request_id).order_by(h.seq)).all()
        return [{"at": at.isoformat(timespec="seconds"), "who": who, "status": status,
                 "deadline": due.isoformat(), "reason": reason}
                for at, who, status, due, reason in rows]

    @staticmethod
    def _history(c: Connection, row: dict[str, Any]) -> None:
        c.execute(subject_request_history.insert().values(
            request_id=row["id"], at=row["updated_at"], who=row["handled_by"],
            status=row["status"], deadline=row["deadline"], reason=row["reason"]))
