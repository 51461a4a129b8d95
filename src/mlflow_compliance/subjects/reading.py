"""Reading subject ids from where they are: a CSV file (streamed, any size) or a pandas
DataFrame column. Blank cells are skipped: they identify nobody."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import IO, Any


class ReadError(Exception):
    """The file or frame cannot give the ids asked for; the message names why."""


def ids_from_csv(stream: IO[str], column: str) -> Iterator[str]:
    """The non-blank values of ``column`` (named in the header row), row by row; the
    header is read now, so a missing column is said before anything else happens."""
    reader = csv.reader(stream)
    header = next(reader, None)
    if header is None:
        raise ReadError("the file is empty: no header row")
    names = [h.strip() for h in header]
    if column not in names:
        shown = ", ".join(names[:20]) or "none"
        raise ReadError(f"--id-column: {column!r} is not a column of the file; it has: {shown}")
    return _values(reader, names.index(column))


def _values(rows: Iterator[list[str]], at: int) -> Iterator[str]:
    for row in rows:
        if at < len(row):
            value = row[at].strip()
            if value:
                yield value


def ids_from_frame(frame: Any, column: str) -> Iterator[str]:
    """The non-blank values of ``column`` of a pandas DataFrame, as text."""
    if column not in frame.columns:
        raise ReadError(f"column: {column!r} is not a column of the dataset")
    for value in frame[column].dropna():
        text = str(value).strip()
        if text:
            yield text


def batches(ids: Iterable[str], size: int) -> Iterator[list[str]]:
    """``ids`` in lists of at most ``size``."""
    batch: list[str] = []
    for subject_id in ids:
        batch.append(subject_id)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
