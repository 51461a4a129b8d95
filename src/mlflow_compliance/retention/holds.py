"""Legal holds: experiments, runs and registered models kept past their retention and
against erasure, in the tracking database beside MLflow's tables.

GDPR Art. 17(3)(e): the right to erasure does not apply where processing is necessary
for the establishment, exercise or defence of legal claims. A hold says who placed it,
when, on what ground and why (a statement a reader can act on, Art. 5(2)); releasing
it records who, when and why, and the row stays: the register is its own history.
While a hold is active, neither retention apply nor an erasure touches what it covers.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.engine import Engine

from mlflow_compliance.record.values import Statement
from mlflow_compliance.tables import engine_with

KINDS = ("experiment", "run", "registered_model")
ART_17_3_E = "GDPR Art. 17(3)(e)"
GROUNDS = {
    "GDPR Art. 17(3)(b)": "a legal obligation or a task in the public interest",
    "GDPR Art. 17(3)(c)": "public health",
    "GDPR Art. 17(3)(d)": "archiving, research or statistics",
    ART_17_3_E: "the establishment, exercise or defence of legal claims",
}
MAX_TARGET = 500
STATEMENT = "text of 20 to 500 characters, at least 3 words, not a placeholder"

metadata = sa.MetaData()

legal_holds = sa.Table(
    "compliance_legal_holds",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("target", sa.String(MAX_TARGET), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("ground", sa.String(50), nullable=False),
    sa.Column("created_by", sa.String(250), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("released_by", sa.String(250)),
    sa.Column("released_at", sa.DateTime),
    sa.Column("release_reason", sa.Text),
    sa.Index("compliance_legal_holds_target", "kind", "target"),
)


class Invalid(ValueError):
    """A retention request (a hold, a run to apply or purge) names a field wrongly; the
    message starts with the field."""


class NotFound(LookupError):
    """No hold of that id."""


@dataclass(frozen=True)
class Hold:
    """A row of the register."""

    id: str
    kind: str
    target: str
    reason: str
    ground: str
    created_by: str
    created_at: datetime
    released_by: str | None = None
    released_at: datetime | None = None
    release_reason: str | None = None

    @property
    def active(self) -> bool:
        return self.released_at is None

    def covers(self, experiment_id: str, run_id: str, model_names: Sequence[str] = ()) -> bool:
        """Whether this hold, active or not, names the run, its experiment or a registered
        model made from it."""
        return (self.kind == "experiment" and self.target == experiment_id) or \
            (self.kind == "run" and self.target == run_id) or \
            (self.kind == "registered_model" and self.target in model_names)

    def as_dict(self) -> dict[str, Any]:
        def when(at: datetime | None) -> str | None:
            return at.isoformat(timespec="seconds") + "Z" if at else None

        return {
            "id": self.id, "kind": self.kind, "target": self.target, "reason": self.reason,
            "ground": self.ground, "active": self.active, "created_by": self.created_by,
            "created_at": when(self.created_at), "released_by": self.released_by,
            "released_at": when(self.released_at), "release_reason": self.release_reason,
        }


def hold_from_dict(data: dict[str, Any]) -> Hold:
    """A hold as :meth:`Hold.as_dict` wrote it (the CLI reads the list route's answer)."""
    def when(text: str | None) -> datetime | None:
        return datetime.fromisoformat(text.rstrip("Z")) if text else None

    created = when(data["created_at"])
    assert created is not None
    return Hold(id=data["id"], kind=data["kind"], target=data["target"],
                reason=data["reason"], ground=data["ground"], created_by=data["created_by"],
                created_at=created, released_by=data.get("released_by"),
                released_at=when(data.get("released_at")),
                release_reason=data.get("release_reason"))


_statement: TypeAdapter[str] = TypeAdapter(Statement)


def statement(value: Any, name: str) -> str:
    """A reason a reader can act on (record/values.py's Statement), else Invalid."""
    try:
        return _statement.validate_python(value)
    except ValidationError:
        raise Invalid(f"{name}: required, {STATEMENT}") from None


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _hold(row: Any) -> Hold:
    return Hold(**row._mapping)


class LegalHolds:
    """Placing, releasing and finding legal holds."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def connect(cls, uri: str) -> LegalHolds:
        return cls(engine_with(uri, metadata))

    def close(self) -> None:
        self.engine.dispose()

    def create(self, kind: Any, target: Any, reason: Any, by: str,
               ground: Any = ART_17_3_E) -> Hold:
        """Place a hold on ``target`` (an experiment id, a run id or a registered model
        name, by ``kind``)."""
        hold = self.check(kind, target, reason, by, ground)
        with self.engine.begin() as c:
            c.execute(legal_holds.insert().values(
                id=hold.id, kind=hold.kind, target=hold.target, reason=hold.reason,
                ground=hold.ground, created_by=by, created_at=hold.created_at))
        return hold

    @staticmethod
    def check(kind: Any, target: Any, reason: Any, by: str,
              ground: Any = ART_17_3_E) -> Hold:
        """The hold :meth:`create` would place, not stored; Invalid naming the field."""
        if kind not in KINDS:
            raise Invalid(f"kind: one of {', '.join(KINDS)}")
        if not isinstance(target, str) or not target.strip() or len(target) > MAX_TARGET:
            raise Invalid(f"target: required, the {kind.replace('_', ' ')}'s "
                          f"{'name' if kind == 'registered_model' else 'id'} "
                          f"(at most {MAX_TARGET} characters)")
        why = statement(reason, "reason")
        if ground not in GROUNDS:
            raise Invalid(f"ground: one of {', '.join(GROUNDS)}")
        return Hold(id=uuid.uuid4().hex, kind=kind, target=target.strip(), reason=why,
                    ground=ground, created_by=by, created_at=_now())

    def get(self, hold_id: Any) -> Hold:
        if not isinstance(hold_id, str) or not hold_id:
            raise Invalid("id: required, the hold's id")
        with self.engine.connect() as c:
            row = c.execute(sa.select(legal_holds).where(legal_holds.c.id == hold_id)).first()
        if row is None:
            raise NotFound(f"id: no legal hold {hold_id!r}")
        return _hold(row)

    def release(self, hold_id: Any, by: str, reason: Any) -> Hold:
        """End a hold; the row stays, with who released it, when and why."""
        hold = self.get(hold_id)
        why = statement(reason, "reason")
        if not hold.active:
            raise Invalid(f"id: legal hold {hold.id} was already released by "
                          f"{hold.released_by}")
        with self.engine.begin() as c:
            done = c.execute(
                legal_holds.update()
                .where(legal_holds.c.id == hold.id, legal_holds.c.released_at.is_(None))
                .values(released_by=by, released_at=_now(), release_reason=why))
            if done.rowcount != 1:  # released by someone else at the same moment
                raise Invalid(f"id: legal hold {hold.id} was already released")
        return self.get(hold.id)

    def list(self, active_only: bool = True) -> builtins.list[Hold]:
        """The holds, oldest first; released ones too unless ``active_only``."""
        query = sa.select(legal_holds).order_by(legal_holds.c.created_at, legal_holds.c.id)
        if active_only:
            query = query.where(legal_holds.c.released_at.is_(None))
        with self.engine.connect() as c:
            return [_hold(r) for r in c.execute(query)]

    def covering(self, experiment_id: str, run_id: str,
                 model_names: Sequence[str] = ()) -> builtins.list[Hold]:
        """The active holds that keep a run: on the run itself, its experiment, or a
        registered model with a version made from it."""
        t = legal_holds.c
        named = [sa.and_(t.kind == "experiment", t.target == experiment_id),
                 sa.and_(t.kind == "run", t.target == run_id)]
        if model_names:
            named.append(sa.and_(t.kind == "registered_model",
                                 t.target.in_(list(model_names))))
        query = sa.select(legal_holds).where(t.released_at.is_(None), sa.or_(*named)) \
            .order_by(t.created_at, t.id)
        with self.engine.connect() as c:
            return [_hold(r) for r in c.execute(query)]
