"""The index rows, in the tracking database beside MLflow's tables.

One row per (pseudonym, run, dataset, column): where a person appears. Nothing here
holds the raw id (GDPR Art. 4(5)); the rows are still personal data, pseudonymised, so
only admins read them (Art. 32(1)(a)). Indexing the same ids again adds nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from mlflow_compliance.subjects.pseudonym import PSEUDONYM_BYTES
from mlflow_compliance.tables import engine_with

CHUNK = 1000
"""Rows per executemany."""

metadata = sa.MetaData()

subject_index = sa.Table(
    "compliance_subject_index",
    metadata,
    sa.Column("pseudonym", sa.LargeBinary(PSEUDONYM_BYTES), primary_key=True),
    sa.Column("run_id", sa.String(32), primary_key=True),
    sa.Column("dataset_name", sa.String(500), primary_key=True),
    sa.Column("dataset_digest", sa.String(64), primary_key=True),
    sa.Column("id_column", sa.String(250), primary_key=True),
    sa.Column("experiment_id", sa.String(32), nullable=False),
    # Erasure (GDPR Art. 17) and retention walk the index by run.
    sa.Index("compliance_subject_index_run", "run_id"),
)


@dataclass(frozen=True)
class Place:
    """A dataset column of a run, where subject ids were found."""

    run_id: str
    experiment_id: str
    dataset_name: str
    dataset_digest: str
    column: str


@dataclass(frozen=True)
class Occurrence(Place):
    """One place a person appears."""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


class SubjectIndex:
    """Adding pseudonyms at a place, and finding the places of one pseudonym."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def connect(cls, uri: str) -> SubjectIndex:
        return cls(engine_with(uri, metadata))

    def close(self) -> None:
        self.engine.dispose()

    def add(self, place: Place, pseudonyms: Iterable[bytes]) -> int:
        """Record that each of ``pseudonyms`` appears at ``place``; how many were given
        (distinct). Rows already there stay as they are."""
        distinct = sorted(set(pseudonyms))
        base = {"run_id": place.run_id, "experiment_id": place.experiment_id,
                "dataset_name": place.dataset_name, "dataset_digest": place.dataset_digest,
                "id_column": place.column}
        statement = self._insert_ignoring_duplicates()
        with self.engine.begin() as c:
            for start in range(0, len(distinct), CHUNK):
                rows = [{**base, "pseudonym": p} for p in distinct[start:start + CHUNK]]
                c.execute(statement, rows)
        return len(distinct)

    def find(self, pseudonym: bytes) -> list[Occurrence]:
        """Every place ``pseudonym`` appears, in a stable order."""
        t = subject_index.c
        with self.engine.connect() as c:
            rows = c.execute(
                sa.select(t.run_id, t.experiment_id, t.dataset_name, t.dataset_digest,
                          t.id_column)
                .where(t.pseudonym == pseudonym)
                .order_by(t.experiment_id, t.run_id, t.dataset_name, t.dataset_digest,
                          t.id_column)
            ).all()
        return [Occurrence(*row) for row in rows]

    def _insert_ignoring_duplicates(self) -> Any:
        dialect = self.engine.dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            return pg_insert(subject_index).on_conflict_do_nothing()
        if dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            return sqlite_insert(subject_index).on_conflict_do_nothing()
        if dialect == "mysql":
            return subject_index.insert().prefix_with("IGNORE")
        return subject_index.insert()


def occurrences_json(found: Sequence[Occurrence]) -> list[dict[str, str]]:
    return [o.as_dict() for o in found]
