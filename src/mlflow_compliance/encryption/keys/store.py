"""Wrapped data keys and the key-encryption keys that wrap them, in the tracking database.

Beside MLflow's tables (prefix ``compliance_``), so every server replica and the CLI see
the same keys. A data key row holds only the wrapped key; shredding sets it to NULL and
keeps the row as a tombstone, so a later read says "erased" rather than "unknown".
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from mlflow_compliance.tables import engine_with

metadata = sa.MetaData()

key_encryption_keys = sa.Table(
    "compliance_key_encryption_keys",
    metadata,
    sa.Column("id", sa.String(400), primary_key=True),
    sa.Column("provider", sa.String(40), nullable=False),
    # current: wraps new data keys; previous: still wraps some until rotation ends;
    # retired: destroyed at the provider.
    sa.Column("state", sa.String(10), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
)

data_keys = sa.Table(
    "compliance_data_keys",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    # run:<run id> | run:<run id>/dataset:<name> | model:<model id> | path:<folder>
    sa.Column("scope", sa.String(700), nullable=False, unique=True),
    sa.Column("kek_id", sa.String(400), nullable=True, index=True),
    sa.Column("wrapped", sa.LargeBinary, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("shredded_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("shredded_by", sa.String(255), nullable=True),
)

_BY_ID = sa.text(
    "SELECT id, scope, kek_id, wrapped, shredded_at, shredded_by FROM compliance_data_keys "
    "WHERE id = :id"
).columns(shredded_at=sa.DateTime(timezone=True), wrapped=sa.LargeBinary)
_BY_SCOPE = sa.text(
    "SELECT id, scope, kek_id, wrapped, shredded_at, shredded_by FROM compliance_data_keys "
    "WHERE scope = :scope"
).columns(shredded_at=sa.DateTime(timezone=True), wrapped=sa.LargeBinary)


class _Refused(Exception):
    """One insert of a batch was refused: the whole batch is rolled back."""


@dataclass(frozen=True)
class DataKeyRow:
    id: str
    scope: str
    kek_id: str | None
    wrapped: bytes | None
    shredded_at: datetime | None
    shredded_by: str | None


@dataclass(frozen=True)
class KekRow:
    id: str
    provider: str
    state: str
    created_at: datetime


def new_data_key_id() -> str:
    """32 hex digits: fixed length, so every file header has the same size."""
    return uuid.uuid4().hex


def now() -> datetime:
    return datetime.now(UTC)


class DataKeyStore:
    """The rows; no cryptography happens here."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def connect(cls, uri: str) -> DataKeyStore:
        return cls(engine_with(uri, metadata))

    def close(self) -> None:
        self.engine.dispose()

    # --- key-encryption keys -------------------------------------------------------

    def current_kek(self) -> KekRow | None:
        with self.engine.connect() as c:
            row = c.execute(
                sa.select(key_encryption_keys).where(key_encryption_keys.c.state == "current")
            ).first()
        return KekRow(row.id, row.provider, row.state, row.created_at) if row else None

    def keks(self) -> list[KekRow]:
        with self.engine.connect() as c:
            rows = c.execute(
                sa.select(key_encryption_keys).order_by(key_encryption_keys.c.created_at)
            ).all()
        return [KekRow(r.id, r.provider, r.state, r.created_at) for r in rows]

    def make_current(self, kek_id: str, provider: str) -> None:
        """Record ``kek_id`` as the key new data keys are wrapped with; the old one, if
        any, becomes ``previous`` (it still wraps data keys until rotation moves them)."""
        with self.engine.begin() as c:
            c.execute(
                key_encryption_keys.update()
                .where(key_encryption_keys.c.state == "current")
                .values(state="previous")
            )
            c.execute(
                key_encryption_keys.insert().values(
                    id=kek_id, provider=provider, state="current", created_at=now()
                )
            )

    def retire(self, kek_id: str) -> None:
        with self.engine.begin() as c:
            c.execute(
                key_encryption_keys.update()
                .where(key_encryption_keys.c.id == kek_id)
                .values(state="retired", retired_at=now())
            )

    # --- data keys -------------------------------------------------------------------

    def by_id(self, key_id: str) -> DataKeyRow | None:
        with self.engine.connect() as c:
            row = c.execute(_BY_ID, {"id": key_id}).first()
        return DataKeyRow(*row) if row else None

    def by_scope(self, scope: str) -> DataKeyRow | None:
        with self.engine.connect() as c:
            row = c.execute(_BY_SCOPE, {"scope": scope}).first()
        return DataKeyRow(*row) if row else None

    def insert(self, key_id: str, scope: str, kek_id: str, wrapped: bytes) -> bool:
        """Store a new data key; False if another writer stored one for ``scope`` first,
        or ``kek_id`` stopped being the current key-encryption key (a rotation began:
        the caller wraps again under the new one, so rotation never misses a key)."""
        return self.insert_all([(key_id, scope, wrapped)], kek_id)

    def insert_all(self, keys: list[tuple[str, str, bytes]], kek_id: str) -> bool:
        """Store new data keys (id, scope, wrapped), all wrapped by ``kek_id``, in ONE
        transaction: all of them, or none (False) as :meth:`insert` says."""
        still_current = sa.exists().where(
            key_encryption_keys.c.id == kek_id, key_encryption_keys.c.state == "current"
        )
        columns = ["id", "scope", "kek_id", "wrapped", "created_at"]
        try:
            with self.engine.begin() as c:
                for key_id, scope, wrapped in keys:
                    row = sa.select(
                        sa.literal(key_id, sa.String),
                        sa.literal(scope, sa.String),
                        sa.literal(kek_id, sa.String),
                        sa.literal(wrapped, sa.LargeBinary),
                        sa.literal(now(), sa.DateTime(timezone=True)),
                    ).where(still_current)
                    # preserve_rowcount: without it an INSERT's rowcount is -1 on
                    # psycopg 3 (truthy), and a refused insert would look stored
                    inserted = c.execute(
                        data_keys.insert().from_select(columns, row),
                        execution_options={"preserve_rowcount": True},
                    )
                    if not inserted.rowcount:
                        raise _Refused
        except (sa.exc.IntegrityError, _Refused):
            return False
        return True

    def rewrap(self, key_id: str, old_kek: str, new_kek: str, wrapped: bytes) -> bool:
        """Move one data key to ``new_kek``, only if it is still under ``old_kek`` and
        not shredded meanwhile; whether it moved."""
        with self.engine.begin() as c:
            moved = c.execute(
                data_keys.update()
                .where(
                    data_keys.c.id == key_id,
                    data_keys.c.kek_id == old_kek,
                    data_keys.c.wrapped.is_not(None),
                )
                .values(kek_id=new_kek, wrapped=wrapped)
            )
        return bool(moved.rowcount)

    def under_kek(self, kek_id: str, limit: int = 500) -> list[DataKeyRow]:
        """Live data keys still wrapped by ``kek_id``, a batch at a time."""
        with self.engine.connect() as c:
            rows = c.execute(
                sa.select(
                    data_keys.c.id, data_keys.c.scope, data_keys.c.kek_id, data_keys.c.wrapped,
                    data_keys.c.shredded_at, data_keys.c.shredded_by,
                )
                .where(data_keys.c.kek_id == kek_id, data_keys.c.wrapped.is_not(None))
                .order_by(data_keys.c.id)
                .limit(limit)
            ).all()
        return [DataKeyRow(*r) for r in rows]

    def shred(self, scopes: list[str], by: str) -> list[str]:
        """Destroy the wrapped keys of ``scopes`` (tombstones stay); the scopes shredded."""
        if not scopes:
            return []
        with self.engine.begin() as c:
            c.execute(
                data_keys.update()
                .where(data_keys.c.scope.in_(scopes), data_keys.c.wrapped.is_not(None))
                .values(wrapped=None, kek_id=None, shredded_at=now(), shredded_by=by)
            )
        return scopes

    def replace(self, swaps: list[tuple[str, str, str, str]], by: str) -> list[str | None]:
        """In ONE transaction, for each (scope, pending id, pending scope, erased scope):
        the data key of ``scope`` (if any) is renamed to its erased scope (``{old}``
        there stands for its id) and shredded, and the pending key takes ``scope``; the
        old keys' ids. Nothing changes if one pending key is not there (live)."""
        d = data_keys.c
        olds: list[str | None] = []
        with self.engine.begin() as c:
            for scope, pending_id, pending_scope, erased_scope in swaps:
                pending = c.execute(sa.select(d.id).where(
                    d.id == pending_id, d.scope == pending_scope, d.wrapped.is_not(None)
                )).first()
                if pending is None:
                    raise LookupError(f"no live pending data key {pending_id} for {scope}")
                old = c.execute(sa.select(d.id).where(d.scope == scope)).first()
                if old is not None:
                    c.execute(data_keys.update().where(d.id == old.id).values(
                        scope=erased_scope.replace("{old}", old.id), wrapped=None,
                        kek_id=None, shredded_at=now(), shredded_by=by))
                c.execute(data_keys.update().where(d.id == pending_id).values(scope=scope))
                olds.append(old.id if old is not None else None)
        return olds

    def delete_unused(self, key_id: str, scope: str) -> None:
        """Remove a data key nothing was ever published under (a pending key given up)."""
        with self.engine.begin() as c:
            c.execute(data_keys.delete().where(data_keys.c.id == key_id,
                                               data_keys.c.scope == scope))

    def scopes_under(self, prefix: str) -> list[str]:
        """The live scopes equal to ``prefix`` or nested under it (``prefix/...``)."""
        with self.engine.connect() as c:
            rows = c.execute(
                sa.select(data_keys.c.scope).where(
                    data_keys.c.wrapped.is_not(None),
                    sa.or_(
                        data_keys.c.scope == prefix,
                        data_keys.c.scope.startswith(prefix + "/", autoescape=True),
                    ),
                )
            ).all()
        # LIKE ignores case on SQLite: keep only exact prefixes, or shredding run:ABC
        # would destroy the datasets of run:abc
        nested = prefix + "/"
        return [r.scope for r in rows if r.scope == prefix or r.scope.startswith(nested)]

    def counts(self) -> dict[tuple[str | None, str], int]:
        """Number of data keys per (kek id, or None when shredded; scope kind)."""
        counts: dict[tuple[str | None, str], int] = {}
        with self.engine.connect() as c:
            for kek_id, scope in c.execute(sa.select(data_keys.c.kek_id, data_keys.c.scope)):
                kind = "dataset" if "/dataset:" in scope else scope.split(":", 1)[0]
                counts[kek_id, kind] = counts.get((kek_id, kind), 0) + 1
        return counts
