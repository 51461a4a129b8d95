"""The index rows, in the tracking database beside MLflow's tables.

One row per (pseudonym, run, dataset, column): where a person appears. Nothing here
holds the raw id (GDPR Art. 4(5)); the rows are still personal data, pseudonymised, so
only admins read them (Art. 32(1)(a)). Indexing the same ids again adds nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from mlflow_compliance.subjects.pseudonym import PSEUDONYM_BYTES
from mlflow_compliance.tables import engine_with

CHUNK = 1000
"""Rows per executemany (PostgreSQL)."""
TRANSACTION = 1_000_000
"""Pseudonyms added per transaction, at most (about 100 MB of memory while sorted)."""

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
        (distinct within each transaction). Rows already there stay as they are.

        Up to TRANSACTION pseudonyms go in one transaction, sorted: a B-tree page is then
        written once per transaction, not once per small batch (indexing 1,000,000 ids
        in 10,000-id transactions took 4-5x longer; benchmarks/subject_index.py)."""
        base = {"run_id": place.run_id, "experiment_id": place.experiment_id,
                "dataset_name": place.dataset_name, "dataset_digest": place.dataset_digest,
                "id_column": place.column}
        given = 0
        for chunk in _chunks(pseudonyms, TRANSACTION):
            distinct = sorted(set(chunk))
            given += len(distinct)
            if self.engine.dialect.name == "sqlite":
                self._add_sqlite(base, distinct)
                continue
            statement = self._insert_ignoring_duplicates()
            with self.engine.begin() as c:
                for start in range(0, len(distinct), CHUNK):
                    rows = [{**base, "pseudonym": p} for p in distinct[start:start + CHUNK]]
                    c.execute(statement, rows)
        return given

    def _add_sqlite(self, base: dict[str, str], distinct: list[bytes]) -> None:
        """The same rows, through the driver's own executemany: SQLAlchemy's per-row
        parameter building costs as much as SQLite's insert (benchmarks/subject_index.py)."""
        columns = ["pseudonym", *base]
        sql = (f"INSERT OR IGNORE INTO {subject_index.name} ({', '.join(columns)}) "
               f"VALUES ({', '.join('?' * len(columns))})")
        fixed = tuple(base.values())
        with self.engine.begin() as c:
            c.exec_driver_sql(sql, [(p, *fixed) for p in distinct])

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


def _chunks(items: Iterable[bytes], size: int) -> Iterator[list[bytes]]:
    chunk: list[bytes] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def occurrences_json(found: Sequence[Occurrence]) -> list[dict[str, str]]:
    return [o.as_dict() for o in found]
