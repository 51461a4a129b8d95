"""One person's rows of a dataset file, and the file without them: pure, no I/O.

Used twice: the access report copies the rows out (GDPR Art. 15(3), "a copy of the
personal data undergoing processing"), erasure writes the file back without them (Art.
17(1)). A row is the person's when one of the dataset's subject-id columns holds their
id, compared as the index compares ids (``normalise``: blanks around removed, Unicode
NFC). Every other row is left exactly as it was: a CSV file keeps the bytes of its other
records (quoting, line endings), and a file with nothing of the person is returned as
given.

CSV is searched, not parsed, when it is ASCII and the id is: the id's bytes are looked
for with ``bytes.find`` and only the records around a hit are parsed (their boundaries
found by counting quotes, RFC 4180). Anything else is parsed whole with ``csv``.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mlflow_compliance.subjects.pseudonym import normalise

FORMATS = (".csv", ".parquet")
_BOM = b"\xef\xbb\xbf"
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")


class UnsupportedFormat(Exception):
    """The file cannot be searched for a person's rows; the message names the file."""


class MissingColumns(UnsupportedFormat):
    """None of the subject-id columns is in the file."""


@dataclass(frozen=True, eq=False)
class Split:
    """A file split in two: the rest of it, and the person's rows. Two splits are equal
    when they keep the same bytes and remove the same rows, however pieced."""

    pieces: tuple[bytes | memoryview, ...]
    """The file without the person's rows, same format, as consecutive pieces of the
    input (no copy: a writer takes them one by one); the input itself when nothing was
    removed."""
    removed: list[dict[str, str]]
    """The person's rows, column -> value as text, in file order."""

    @property
    def kept(self) -> bytes:
        """The file without the person's rows, in one piece (the input itself when
        nothing was removed)."""
        if len(self.pieces) == 1 and isinstance(self.pieces[0], bytes):
            return self.pieces[0]
        return b"".join(self.pieces)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Split):
            return NotImplemented
        return self.kept == other.kept and self.removed == other.removed

    __hash__ = None  # type: ignore[assignment]  # mutable parts: not hashable


def _whole(data: bytes, removed: list[dict[str, str]]) -> Split:
    return Split((data,), removed)


def split_person(file_name: str, data: bytes, id_columns: Sequence[str],
                 subject_id: str) -> Split:
    """Split ``data`` (the file ``file_name``) into the person's rows and the rest."""
    wanted = normalise(subject_id)
    lower = file_name.lower()
    if lower.endswith(".csv"):
        if not wanted:
            return _whole(data, [])
        return _split_csv(file_name, data, id_columns, wanted)
    if lower.endswith(".parquet"):
        return _split_parquet(file_name, data, id_columns, wanted)
    raise UnsupportedFormat(f"{file_name}: format not supported; allowed: "
                            f"{', '.join(FORMATS)}")


def _missing(file_name: str, id_columns: Sequence[str]) -> MissingColumns:
    return MissingColumns(f"{file_name}: none of the subject-id columns "
                          f"({', '.join(id_columns) or 'none declared'}) is in the file")


def _row_dict(header: list[str], row: list[str]) -> dict[str, str]:
    """Column -> value; cells past the header keep their place as ``column N``."""
    shown = {name: (row[at] if at < len(row) else "") for at, name in enumerate(header)}
    for at in range(len(header), len(row)):
        shown[f"column {at + 1}"] = row[at]
    return shown


# --- CSV --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Csv:
    """A CSV file's header, read once: where the records start, which columns to look at."""

    name: str
    prefix: int  # bytes of the BOM and the header record
    header: list[str]
    at: list[int]  # the positions of the id columns present


def _read_header(file_name: str, data: bytes, id_columns: Sequence[str]) -> _Csv:
    start = len(_BOM) if data.startswith(_BOM) else 0
    end = _record_end(data, start, start)
    try:
        lines = _LINE.findall(data[start:end].decode("utf-8"))
        feed = _Lines(lines)
        first = next(csv.reader(feed), [])
    except (UnicodeDecodeError, csv.Error):
        raise UnsupportedFormat(f"{file_name}: not a UTF-8 CSV file with a header row") \
            from None
    # a lone carriage return ends the header before the first line feed
    end = start + len("".join(lines[:feed.taken]).encode("utf-8"))
    header = [h.strip() for h in first]
    at = [i for i, name in enumerate(header) if name in set(id_columns)]
    if not at:
        raise _missing(file_name, id_columns)
    return _Csv(file_name, end, header, at)


def _record_end(data: bytes, start: int, hit: int) -> int:
    """The end (after its line ending) of the record that starts at ``start`` (outside
    quotes) and holds position ``hit``: the first line end after ``hit`` with an even
    number of quotes since ``start``."""
    quotes = data.count(b'"', start, hit)
    at = hit
    while True:
        newline = data.find(b"\n", at)
        if newline < 0:
            return len(data)
        quotes += data.count(b'"', at, newline)
        if quotes % 2 == 0:
            return newline + 1
        at = newline + 1


def _record_start(data: bytes, floor: int, hit: int) -> int:
    """The start of the record holding ``hit``, given that ``floor`` is a record start:
    the last line end before ``hit`` with an even number of quotes since ``floor``."""
    quotes = data.count(b'"', floor, hit)
    at = hit
    while True:
        newline = data.rfind(b"\n", floor, at)
        if newline < 0:
            return floor
        # quotes between floor and just after this newline
        quotes -= data.count(b'"', newline, at)
        if quotes % 2 == 0:
            return newline + 1
        at = newline


def _matches(row: list[str], at: list[int], wanted: str) -> bool:
    return any(i < len(row) and normalise(row[i]) == wanted for i in at)


def _split_csv(file_name: str, data: bytes, id_columns: Sequence[str],
               wanted: str) -> Split:
    layout = _read_header(file_name, data, id_columns)
    quoted = data.find(b'"', layout.prefix) >= 0
    # The search needs RFC 4180 quoting: an odd count means a stray quote somewhere.
    if data.isascii() and wanted.isascii() and not (quoted and data.count(b'"') % 2):
        found = _split_csv_searching(data, layout, wanted, quoted)
        if found is not None:
            return found
    return _split_csv_parsing(file_name, data, layout, wanted)


def _split_csv_searching(data: bytes, layout: _Csv, wanted: str,
                         quoted: bool = True) -> Split | None:
    """ASCII: find the id's bytes, parse only the records around each hit; None when a
    record around a hit is not one record ending in a line feed (a lone carriage
    return ends records too: the full parse decides)."""
    needles = [wanted.encode("ascii")]
    if '"' in wanted:
        needles.append(wanted.replace('"', '""').encode("ascii"))
    hits: list[int] = []
    for needle in needles:
        at = data.find(needle, layout.prefix)
        while at >= 0:
            hits.append(at)
            at = data.find(needle, at + 1)
    if not hits:
        return _whole(data, [])
    cuts: list[tuple[int, int]] = []
    removed: list[dict[str, str]] = []
    floor = layout.prefix  # a record start: everything before it is decided
    for hit in sorted(hits):
        if hit < floor:
            continue  # in a record already looked at
        if quoted:
            start = _record_start(data, floor, hit)
            end = _record_end(data, start, hit)
        else:
            start = data.rfind(b"\n", floor, hit) + 1 or floor
            newline = data.find(b"\n", hit)
            end = len(data) if newline < 0 else newline + 1
        record = data[start:end]
        if record.count(b"\r") != record.count(b"\r\n"):
            return None
        try:
            rows = list(csv.reader(io.StringIO(record.decode("ascii"), newline="")))
        except csv.Error:
            raise UnsupportedFormat(f"{layout.name}: not a well-formed CSV file") from None
        if len(rows) != 1:
            return None
        if _matches(rows[0], layout.at, wanted):
            cuts.append((start, end))
            removed.append(_row_dict(layout.header, rows[0]))
        floor = end
    return Split(_without(data, cuts), removed)


def _without(data: bytes, cuts: list[tuple[int, int]]) -> tuple[bytes | memoryview, ...]:
    """The pieces of ``data`` between the cuts, as views (no copy)."""
    if not cuts:
        return (data,)
    view = memoryview(data)
    kept: list[bytes | memoryview] = []
    at = 0
    for start, end in cuts:
        kept.append(view[at:start])
        at = end
    kept.append(view[at:])
    return tuple(kept)


class _Lines:
    """Lines handed to ``csv.reader`` one by one, counted: a record is the lines taken
    while it was read."""

    def __init__(self, lines: list[str]) -> None:
        self._lines = lines
        self.taken = 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self.taken >= len(self._lines):
            raise StopIteration
        self.taken += 1
        return self._lines[self.taken - 1]


def _split_csv_parsing(file_name: str, data: bytes, layout: _Csv, wanted: str) -> Split:
    """Any UTF-8 CSV: parse every record, keep the others' own bytes."""
    try:
        text = data[layout.prefix:].decode("utf-8")
    except UnicodeDecodeError:
        raise UnsupportedFormat(f"{file_name}: not UTF-8 text") from None
    lines = [m.group(0) for m in _LINE.finditer(text)]
    feed = _Lines(lines)
    reader = csv.reader(feed)
    kept: list[str] = []
    removed: list[dict[str, str]] = []
    used = 0
    try:
        for row in reader:
            record = lines[used:feed.taken]
            used = feed.taken
            if _matches(row, layout.at, wanted):
                removed.append(_row_dict(layout.header, row))
            else:
                kept.extend(record)
    except csv.Error:
        raise UnsupportedFormat(f"{file_name}: not a well-formed CSV file") from None
    kept.extend(lines[used:])
    if not removed:
        return _whole(data, [])
    return _whole(data[:layout.prefix] + "".join(kept).encode("utf-8"), removed)


# --- Parquet ----------------------------------------------------------------------


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _split_parquet(file_name: str, data: bytes, id_columns: Sequence[str],
                   wanted: str) -> Split:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowException, OSError):
        raise UnsupportedFormat(f"{file_name}: not a readable Parquet file") from None
    present = [c for c in id_columns if c in table.column_names]
    if not present:
        raise _missing(file_name, id_columns)
    if not wanted:
        return _whole(data, [])
    mine = [False] * table.num_rows
    for name in present:
        column = table.column(name)
        flags = None
        if wanted.isascii() and pa.types.is_string(column.type):
            # a cell equals the id only if it contains it, or is not ASCII (NFC)
            flags = pc.or_(pc.match_substring(column, wanted),
                           pc.invert(pc.string_is_ascii(column))).to_pylist()
        for at, value in enumerate(column.to_pylist()):
            if value is None or (flags is not None and not flags[at]):
                continue
            if normalise(str(value)) == wanted:
                mine[at] = True
    if not any(mine):
        return _whole(data, [])
    mask = pa.array(mine)
    removed_table = table.filter(mask)
    kept_table = table.filter(pc.invert(mask))
    removed = [{k: _text(v) for k, v in row.items()} for row in removed_table.to_pylist()]
    out = pa.BufferOutputStream()
    pq.write_table(kept_table, out)
    return _whole(out.getvalue().to_pybytes(), removed)
