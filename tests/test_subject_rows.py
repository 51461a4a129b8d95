"""A person's rows of a dataset file (subjects/rows.py): the fast search of ASCII CSV
agrees with the full parse on every generated file (quoted cells, embedded commas and
quotes, multiline cells, CRLF, BOM, blank lines, a last line without its ending); other
people's rows keep their bytes; a file without the person comes back as it was; Parquet
files are filtered; other formats and files without an id column are refused."""

from __future__ import annotations

import csv
import io
import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlflow_compliance.subjects.pseudonym import normalise
from mlflow_compliance.subjects.rows import (
    MissingColumns,
    UnsupportedFormat,
    _read_header,
    _split_csv_parsing,
    _split_csv_searching,
    split_person,
)

PERSON = "ana@example.org"
HEADER = ["customer", "email", "note", "backup_email"]


def rows_of(data: bytes) -> list[list[str]]:
    text = data.decode("utf-8-sig")
    return [r for r in csv.reader(io.StringIO(text, newline="")) if r]


def test_the_persons_rows_are_cut_and_the_others_keep_their_bytes() -> None:
    data = (b'customer,email,note\r\n'
            b'1,ana@example.org,"likes ""quotes"", commas"\r\n'
            b'2, "bob@example.org" ,plain\r\n'
            b'3,"  ana@example.org ","two\r\nlines"\r\n'
            b'4,carl@example.org,"mentions ana@example.org"\r\n')
    split = split_person("people.csv", data, ["email"], PERSON)
    assert split.kept == (b'customer,email,note\r\n'
                          b'2, "bob@example.org" ,plain\r\n'
                          b'4,carl@example.org,"mentions ana@example.org"\r\n')
    assert split.removed == [
        {"customer": "1", "email": "ana@example.org", "note": 'likes "quotes", commas'},
        {"customer": "3", "email": "  ana@example.org ", "note": "two\r\nlines"},
    ]


def test_a_file_without_the_person_is_returned_unchanged() -> None:
    data = b"\xef\xbb\xbfemail,x\nbob@example.org,1\nana@example.org.uk,2\n"
    split = split_person("people.csv", data, ["email"], PERSON)
    assert split.kept is data and split.removed == []
    assert split_person("p.csv", data, ["email"], "   ").kept is data


def test_the_bom_header_and_crlf_are_kept() -> None:
    data = "\ufeffemail,name\r\nana@example.org,Ana\r\nzoë@example.org,Zoë\r\n".encode()
    split = split_person("people.csv", data, ["email"], PERSON)
    assert split.kept == "\ufeffemail,name\r\nzoë@example.org,Zoë\r\n".encode()
    assert split.removed == [{"email": "ana@example.org", "name": "Ana"}]


def test_ids_are_compared_as_the_index_compares_them() -> None:
    decomposed = "Zoe\u0308@example.org"  # e + combining diaeresis; NFC is ë
    data = f"email,n\n{decomposed},1\n Zoë@example.org,2\nzoë@example.org,3\n".encode()
    split = split_person("people.csv", data, ["email"], "Zoë@example.org  ")
    assert [r["n"] for r in split.removed] == ["1", "2"]  # case is kept: 3 is someone else
    assert split.kept == b"email,n\n" + "zoë@example.org,3\n".encode()


def test_the_id_in_any_declared_column_counts_and_absent_columns_are_ignored() -> None:
    data = b"email,backup_email,n\nx@example.org,ana@example.org,1\nana@example.org,,2\n"
    split = split_person("p.csv", data, ["backup_email", "phone", "email"], PERSON)
    assert [r["n"] for r in split.removed] == ["1", "2"] and split.kept == b"email,backup_email,n\n"


def test_a_last_record_without_line_ending_is_cut() -> None:
    data = b"email,n\nbob@example.org,1\nana@example.org,2"
    split = split_person("p.csv", data, ["email"], PERSON)
    assert split.kept == b"email,n\nbob@example.org,1\n"
    assert split.removed == [{"email": "ana@example.org", "n": "2"}]


def test_cells_beyond_the_header_are_kept_in_the_copy() -> None:
    data = b"email\nana@example.org,extra\n"
    assert split_person("p.csv", data, ["email"], PERSON).removed == [
        {"email": "ana@example.org", "column 2": "extra"}]


def test_lone_carriage_returns_end_records_as_the_csv_module_says() -> None:
    data = b"email,n\rbob@example.org,1\rana@example.org,2\rcarl@example.org,3\r"
    split = split_person("p.csv", data, ["email"], PERSON)
    assert split.removed == [{"email": PERSON, "n": "2"}]
    assert split.kept == b"email,n\rbob@example.org,1\rcarl@example.org,3\r"


def test_an_id_with_a_quote_is_found_in_its_quoted_form() -> None:
    person = 'o"brien'
    data = b'email,n\n"o""brien",1\nobrien,2\n'
    split = split_person("p.csv", data, ["email"], person)
    assert split.removed == [{"email": person, "n": "1"}] and split.kept == b"email,n\nobrien,2\n"


def test_other_formats_and_files_without_id_columns_are_refused() -> None:
    with pytest.raises(UnsupportedFormat, match=r"^people\.json: format not supported; "
                                                r"allowed: \.csv, \.parquet$"):
        split_person("people.json", b"{}", ["email"], PERSON)
    with pytest.raises(MissingColumns, match=r"^people\.csv: .*email, phone"):
        split_person("people.csv", b"name,n\nana,1\n", ["email", "phone"], PERSON)
    with pytest.raises(UnsupportedFormat, match=r"^people\.csv: "):
        split_person("people.csv", b"\xff\xfe,email\n", ["email"], PERSON)


# --- the fast path against the full parse -------------------------------------------


def _cell(rng: random.Random, person: str) -> str:
    pick = rng.random()
    if pick < 0.15:
        return rng.choice([person, f" {person}", f"{person} ", f"\t{person}\t"])
    if pick < 0.25:
        return rng.choice([f"x{person}", f"{person}.uk", f"{person}, {person}",
                           f"mentions {person}\nin a note", person.upper()])
    parts = rng.choices(["a", "b", " ", ",", '"', "\n", "\r\n", "x@y.org", "1"],
                        k=rng.randint(0, 6))
    return "".join(parts)


def _csv_file(rng: random.Random, person: str) -> bytes:
    out = io.StringIO(newline="")
    terminator = rng.choice(["\n", "\r\n"])
    writer = rng.choice([
        csv.writer(out, lineterminator=terminator, quoting=csv.QUOTE_MINIMAL),
        csv.writer(out, lineterminator=terminator, quoting=csv.QUOTE_ALL),
        csv.writer(out, lineterminator=terminator, quoting=csv.QUOTE_NONNUMERIC)])
    writer.writerow(HEADER)
    for n in range(rng.randint(0, 25)):
        if rng.random() < 0.05:
            out.write(terminator)  # a blank line
            continue
        writer.writerow([str(n), _cell(rng, person), _cell(rng, person), _cell(rng, person)])
    text = out.getvalue()
    if rng.random() < 0.2:
        text = text.removesuffix(terminator)
    prefix = "\ufeff" if rng.random() < 0.3 else ""
    return (prefix + text).encode("utf-8")


@pytest.mark.parametrize("person", [PERSON, 'q"uote@example.org', "42", "a,b"])
def test_the_fast_search_agrees_with_the_full_parse(person: str) -> None:
    rng = random.Random(20261130)
    columns = ["email", "backup_email"]
    hits = 0
    for _ in range(400):
        data = _csv_file(rng, person)
        layout = _read_header("f.csv", data, columns)
        fast = _split_csv_searching(data, layout, normalise(person))
        full = _split_csv_parsing("f.csv", data, layout, normalise(person))
        assert fast is not None and fast == full, data
        if b'"' not in data[layout.prefix:]:  # the search without quote counting
            assert _split_csv_searching(data, layout, normalise(person), False) == full
        assert split_person("f.csv", data, columns, person) == fast
        # what the parse says: the person's rows went, everyone else's stayed, in order
        every = rows_of(data)[1:]
        mine = [r for r in every if any(normalise(c) == normalise(person) for c in r[1:4:2])]
        assert [list(r.values()) for r in fast.removed] == mine
        assert rows_of(fast.kept)[1:] == [r for r in every if r not in mine]
        if not mine:
            assert fast.kept is data
        hits += len(mine)
    assert hits > 100  # the generator does put the person in


# --- Parquet ------------------------------------------------------------------------


def _parquet(table: pa.Table) -> bytes:
    out = pa.BufferOutputStream()
    pq.write_table(table, out)
    return bytes(out.getvalue().to_pybytes())


def test_parquet_rows_of_the_person_are_filtered_out() -> None:
    table = pa.table({"email": [PERSON, "bob@example.org", f" {PERSON}", None],
                      "customer": [1, 2, 3, 4], "score": [0.5, 0.25, None, 1.0]})
    split = split_person("part-0.parquet", _parquet(table), ["email"], PERSON)
    assert split.removed == [{"email": PERSON, "customer": "1", "score": "0.5"},
                             {"email": f" {PERSON}", "customer": "3", "score": ""}]
    kept = pq.read_table(pa.BufferReader(split.kept))
    assert kept.to_pydict() == {"email": ["bob@example.org", None], "customer": [2, 4],
                                "score": [0.25, 1.0]}
    assert kept.schema == table.schema


def test_parquet_number_ids_and_unchanged_files() -> None:
    data = _parquet(pa.table({"customer": [41, 42, 43], "n": ["a", "b", "c"]}))
    split = split_person("x.parquet", data, ["customer"], "42")
    assert split.removed == [{"customer": "42", "n": "b"}]
    nobody = split_person("x.parquet", data, ["customer"], "44")
    assert nobody.kept is data and nobody.removed == []
    with pytest.raises(MissingColumns):
        split_person("x.parquet", data, ["email"], PERSON)
    with pytest.raises(UnsupportedFormat, match=r"^x\.parquet: not a readable Parquet"):
        split_person("x.parquet", b"not parquet", ["email"], PERSON)
