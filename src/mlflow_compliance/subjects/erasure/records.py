"""MLflow's own records of the erased datasets, and the index rows of the person.

MLflow keeps a dataset's ``source``, ``schema`` and ``profile`` in its ``datasets`` table
and the tags of each use in ``input_tags``; no API edits them, and ``mlflow gc`` leaves
them behind (DESIGN.md). Where such a value holds the person's id it is redacted in
place, through SQLAlchemy on MLflow's tables (GDPR Art. 17(1)). The id is compared as
the index compares ids (Unicode NFC), also in its JSON-escaped form, since ``source``
and ``profile`` are JSON text. The person's index rows for the erased places are
deleted: the index no longer says they are there, because they are not.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from mlflow_compliance.subjects.erasure.plan import Place
from mlflow_compliance.subjects.index import subject_index
from mlflow_compliance.subjects.pseudonym import normalise

REDACTED = "[erased: GDPR Art. 17]"
INPUT_TAG_MAX = 500  # MLflow's input_tags.value is String(500)
DATASET_FIELDS = ("dataset_source", "dataset_schema", "dataset_profile")

_datasets = sa.table("datasets", sa.column("dataset_uuid"), sa.column("experiment_id"),
                     sa.column("name"), sa.column("digest"),
                     *(sa.column(f) for f in DATASET_FIELDS))
_inputs = sa.table("inputs", sa.column("input_uuid"), sa.column("source_type"),
                   sa.column("source_id"), sa.column("destination_type"),
                   sa.column("destination_id"))
_input_tags = sa.table("input_tags", sa.column("input_uuid"), sa.column("name"),
                       sa.column("value"))


def redacted(text: str | None, subject_id: str) -> str | None:
    """``text`` with every occurrence of the id replaced, or None if it has none."""
    if not text:
        return None
    wanted = normalise(subject_id)
    forms = {wanted, json.dumps(wanted)[1:-1], json.dumps(wanted, ensure_ascii=False)[1:-1]}
    value = unicodedata.normalize("NFC", text)
    if not any(f and f in value for f in forms):
        return None
    for form in sorted(forms, key=len, reverse=True):
        if form:
            value = value.replace(form, REDACTED)
    return value


@dataclass(frozen=True)
class Redaction:
    """One record changed: a field of a dataset row, or an input tag of a run."""

    table: str
    run_id: str
    dataset_name: str
    field: str

    def as_dict(self) -> dict[str, str]:
        return {"table": self.table, "run_id": self.run_id, "dataset_name": self.dataset_name,
                "field": self.field}


def redact(engine: Engine, places: Sequence[Place], kept: Sequence[tuple[str, str, str]],
           subject_id: str) -> list[Redaction]:
    """Redact the id from the ``datasets`` rows of ``places`` (except rows also used by
    a withheld place, ``kept``: (experiment, name, digest)) and from the input tags of
    the places' runs; one transaction."""
    done: list[Redaction] = []
    with engine.begin() as c:
        for place in places:
            done += _dataset_rows(c, place, set(kept), subject_id)
        for run_id in sorted({p.run_id for p in places}):
            done += _input_tags_of(c, run_id, subject_id)
    return done


def _dataset_rows(c: Connection, place: Place, kept: set[tuple[str, str, str]],
                  subject_id: str) -> list[Redaction]:
    d = _datasets.c
    rows = c.execute(sa.select(d.dataset_uuid, d.digest, *(d[f] for f in DATASET_FIELDS))
                     .where(d.experiment_id == int(place.experiment_id),
                            d.name == place.dataset_name,
                            d.digest.in_(place.digests))).all()
    done = []
    for row in rows:
        if (place.experiment_id, place.dataset_name, row.digest) in kept:
            continue
        changes = {f: new for f in DATASET_FIELDS
                   if (new := redacted(row._mapping[f], subject_id)) is not None}
        if changes:
            c.execute(_datasets.update().where(d.dataset_uuid == row.dataset_uuid)
                      .values(**changes))
            done += [Redaction("datasets", place.run_id, place.dataset_name, f)
                     for f in sorted(changes)]
    return done


def _input_tags_of(c: Connection, run_id: str, subject_id: str) -> list[Redaction]:
    i, t, d = _inputs.c, _input_tags.c, _datasets.c
    rows = c.execute(
        sa.select(t.input_uuid, t.name, t.value, d.name.label("dataset"))
        .select_from(_input_tags.join(_inputs, t.input_uuid == i.input_uuid)
                     .outerjoin(_datasets, d.dataset_uuid == i.source_id))
        .where(i.destination_type == "RUN", i.destination_id == run_id)).all()
    done = []
    for row in rows:
        new = redacted(row.value, subject_id)
        if new is None:
            continue
        c.execute(_input_tags.update()
                  .where(t.input_uuid == row.input_uuid, t.name == row.name)
                  .values(value=new[:INPUT_TAG_MAX]))
        done.append(Redaction("input_tags", run_id, row.dataset or "", row.name))
    return done


def delete_index_rows(engine: Engine, pseudonym: bytes, places: Sequence[Place]) -> int:
    """Delete the person's index rows of ``places``; how many."""
    t = subject_index.c
    deleted = 0
    with engine.begin() as c:
        for place in places:
            done = c.execute(subject_index.delete().where(
                t.pseudonym == pseudonym, t.run_id == place.run_id,
                t.dataset_name == place.dataset_name))
            deleted += done.rowcount or 0
    return deleted


def dataset_sources(engine: Engine, place: Place) -> list[str]:
    """The ``dataset_source`` texts of the place's dataset rows."""
    d = _datasets.c
    with engine.connect() as c:
        return [r.dataset_source for r in c.execute(
            sa.select(d.dataset_source).where(d.experiment_id == int(place.experiment_id),
                                              d.name == place.dataset_name,
                                              d.digest.in_(place.digests)))
                if r.dataset_source]
