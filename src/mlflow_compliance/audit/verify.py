"""Checking the audit log: chain, signatures, and the head kept outside the database.

What is detected, and how (``docs/audit-log.md`` has the full scheme):

- an edited field: the record rebuilt from the stored columns no longer matches its
  hash;
- a deleted entry: ``seq`` has a gap;
- an inserted or reordered entry: a hash no longer chains to its predecessor's;
- the newest entries cut off: the signed tip (in the database) or the signed head kept
  in the home's ``audit-head.json`` names an entry the log no longer reaches;
- a forged tip or anchor: its Ed25519 signature does not verify with the public key.

Large logs are checked in ranges by one process per core: each range starts from the
stored hash of the entry before it, so ranges are independent, and their ends are
joined at the end.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import sqlalchemy as sa

from mlflow_compliance.audit.entry import GENESIS, HASHED, SEARCHED, SEPARATOR
from mlflow_compliance.audit.log import AuditLog
from mlflow_compliance.audit.signing import ANCHOR, TIP, Head, Verifier
from mlflow_compliance.audit.tables import INDEXED, entries

# The record opens with the fields stored in columns: verify rebuilds it from them.
assert HASHED[:SEARCHED] == ("seq", *INDEXED) and SEPARATOR == "\x1f"
CHUNK = 100_000
PARALLEL_FROM = 200_000  # below this, one process is faster than starting others


@dataclass(frozen=True)
class Report:
    entries: int  # entries checked
    first_seq: int
    last_seq: int
    problem: str | None = None  # one line naming the first bad entry
    bad_seq: int | None = None

    @property
    def intact(self) -> bool:
        return self.problem is None


@dataclass(frozen=True)
class _Range:
    count: int
    last_hash: str
    problem: str | None = None
    bad_seq: int | None = None


def _check_range(url: str, first: int, last: int, previous: str | None) -> _Range:
    """Check entries ``first``..``last``; ``previous`` is the hash before ``first``."""
    engine = sa.create_engine(url)
    sha256, fromhex = hashlib.sha256, bytes.fromhex
    expected = first
    try:
        with engine.connect() as conn:
            if previous is None:
                previous = conn.execute(
                    sa.select(entries.c.hash).where(entries.c.seq == first - 1)
                ).scalar()
                if previous is None:
                    return _Range(0, "", f"entry {first - 1} is missing (deleted)", first - 1)
            # The driver's own cursor: at a million rows, SQLAlchemy's row objects cost
            # more than the hashing. The statement has only integer literals.
            statement = str(
                sa.select(entries.c.seq, entries.c.hash, *(entries.c[n] for n in INDEXED),
                          entries.c.rest)
                .where(entries.c.seq.between(first, last))
                .order_by(entries.c.seq)
                .compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True})
            )
            cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            cursor.execute(statement)
            rows = (row for batch in iter(lambda: cursor.fetchmany(20_000), []) for row in batch)
            for seq, stored, time_us, principal, action, rest in rows:
                if seq != expected:
                    return _Range(expected - first, previous,
                                  f"entry {expected} is missing (deleted)", expected)
                record = f"{seq}\x1f{time_us}\x1f{principal}\x1f{action}\x1f{rest}"
                if sha256(fromhex(previous) + record.encode()).hexdigest() != stored:
                    return _Range(
                        expected - first, previous,
                        f"entry {seq} does not match its hash: it was edited, inserted, "
                        "reordered or re-hashed",
                        seq,
                    )
                previous = stored
                expected += 1
    finally:
        engine.dispose()
    if expected <= last:
        return _Range(expected - first, previous,
                      f"entry {expected} is missing (deleted or cut off)", expected)
    return _Range(expected - first, previous)


def verify(
    log: AuditLog,
    verifier: Verifier,
    outside: Head | None,
    progress: Callable[[int, int], None] | None = None,
    processes: int | None = None,
    chunk: int = CHUNK,
    parallel_from: int = PARALLEL_FROM,
) -> Report:
    """Check ``log`` against the trusted key and the head kept outside the database."""
    tip = log.tip()
    anchor = log.latest_anchor()
    first = anchor.seq + 1 if anchor else 1

    def bad(problem: str, seq: int | None = None, checked: int = 0) -> Report:
        return Report(checked, first, tip.seq, problem, seq)

    if (why := verifier.problem(tip, TIP)) is not None:
        return bad(f"the signed tip (entry {tip.seq}): {why}; the tip was forged or edited")
    if anchor is not None and (why := verifier.problem(anchor, ANCHOR)) is not None:
        return bad(f"the purge anchor at entry {anchor.seq}: {why}", anchor.seq)
    ranges = [(a, min(a + chunk - 1, tip.seq)) for a in range(first, tip.seq + 1, chunk)]
    total = tip.seq - first + 1
    starts = {first: anchor.hash if anchor else GENESIS}
    results: list[_Range] = []
    done = 0
    workers = processes or (os.cpu_count() or 1)
    if total >= parallel_from and workers > 1:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            futures = [pool.submit(_check_range, log.url, a, b, starts.get(a)) for a, b in ranges]
            for future in futures:
                results.append(future.result())
                done += results[-1].count
                if progress:
                    progress(done, total)
    else:
        for a, b in ranges:
            results.append(_check_range(log.url, a, b, starts.get(a)))
            done += results[-1].count
            if progress:
                progress(done, total)
            if results[-1].problem:
                break
    checked = 0
    for result in results:
        checked += result.count
        if result.problem:
            return bad(result.problem, result.bad_seq, checked)
    with log.engine.connect() as conn:
        beyond = conn.execute(
            sa.select(sa.func.min(entries.c.seq)).where(entries.c.seq > tip.seq)
        ).scalar()
    if beyond is not None:
        return bad(f"entry {beyond} lies beyond the signed tip (entry {tip.seq}): "
                   "inserted, or the tip was rewound", beyond, checked)
    last_hash = results[-1].last_hash if results else starts[first]
    if last_hash != tip.hash:
        return bad(f"entry {tip.seq} does not match the signed tip", tip.seq, checked)
    if outside is not None:
        if (why := verifier.problem(outside, TIP)) is not None:
            return bad(f"the head kept outside the database: {why}", checked=checked)
        if outside.seq > tip.seq:
            return bad(
                f"entries {tip.seq + 1}..{outside.seq} are missing: the head kept outside "
                f"the database names entry {outside.seq}, the log ends at {tip.seq} "
                "(cut off, and the tip rewound)",
                tip.seq + 1, checked,
            )
        if outside.seq >= first and log.hash_before(outside.seq + 1) != outside.hash:
            return bad(f"entry {outside.seq} differs from the head kept outside the database",
                       outside.seq, checked)
    return Report(checked, first, tip.seq)
