"""The subject ids of one column of a dataset file (CSV or Parquet), from its bytes.

What the server reads to index a dataset logged with its rows (GDPR Art. 15(1), 17:
where a person's data is). Ids are read as the rest of the index reads them: every
value as text, blanks around removed, blank cells skipped (they identify nobody). A
reason given here names the file's format or column, never a value: it goes to the
server log and the audit log.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from mlflow_compliance.subjects.reading import ReadError, ids_from_csv

FORMATS = (".csv", ".parquet")
"""Dataset files the server reads; others in a dataset's folder are left alone."""


class Unreadable(Exception):
    """The file cannot give its ids; the message says why, without a value of it."""


def readable(path: str) -> bool:
    """Whether ``path`` is a dataset file of a format the server reads."""
    return path.lower().endswith(FORMATS)


def columns_of(path: str, data: bytes) -> list[str]:
    """The file's column names (CSV: its header row)."""
    if path.lower().endswith(".parquet"):
        return list(_parquet(data).schema_arrow.names)
    reader = csv.reader(io.StringIO(_text(data), newline=""))
    try:
        header = next(reader, None)
    except csv.Error:
        raise Unreadable("not a well-formed CSV file") from None
    if header is None:
        raise Unreadable("the file is empty: no header row")
    return [name.strip() for name in header]


def ids_of(path: str, data: bytes, column: str) -> Iterator[str]:
    """The non-blank values of ``column``, as text."""
    if path.lower().endswith(".parquet"):
        return _parquet_ids(data, column)
    return _csv_ids(data, column)


def _csv_ids(data: bytes, column: str) -> Iterator[str]:
    try:
        yield from ids_from_csv(io.StringIO(_text(data), newline=""), column)
    except csv.Error:
        raise Unreadable("not a well-formed CSV file") from None
    except ReadError:
        raise Unreadable(f"the column {column!r} is not in the file") from None


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Unreadable("not UTF-8 text") from None


def _parquet(data: bytes) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(pa.BufferReader(data))
    except (pa.ArrowException, OSError):
        raise Unreadable("not a readable Parquet file") from None


def _parquet_ids(data: bytes, column: str) -> Iterator[str]:
    import pyarrow as pa

    try:
        table = _parquet(data).read(columns=[column])
    except (pa.ArrowException, OSError, KeyError):
        raise Unreadable(f"the column {column!r} cannot be read") from None
    for chunk in table.column(0).chunks:
        for value in chunk.to_pylist():
            if value is not None:
                text = str(value).strip()
                if text:
                    yield text
