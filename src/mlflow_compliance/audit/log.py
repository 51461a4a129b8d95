"""Appending to, reading and purging the audit log (SQLAlchemy: SQLite or PostgreSQL).

Appends are serialized: each batch locks the tip row (PostgreSQL ``SELECT ... FOR
UPDATE``; SQLite ``BEGIN IMMEDIATE``), numbers its entries after the tip, chains their
hashes, signs the new tip and commits once. One chain for every worker and replica,
with no gaps, and one commit per batch however many requests it carries.

Durability on SQLite (WAL mode): by default (``normal``) a commit is in the operating
system's hands when ``append`` returns, so it survives the server being killed, even
with SIGKILL, but the newest commits can be lost if the machine itself loses power;
``MLFLOW_COMPLIANCE_AUDIT_SYNC=full`` fsyncs every commit and survives that too, at a
measured cost (docs/benchmarks.md). PostgreSQL commits are fsynced by the server
(``synchronous_commit`` on, its default).
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Dialect, Engine

from mlflow_compliance.audit.entry import GENESIS, Entry, link, now_us, record_of, rest_of
from mlflow_compliance.audit.signing import ANCHOR, TIP, Head, Signer, write_head_file
from mlflow_compliance.audit.tables import anchors, entries, metadata, tip
from mlflow_compliance.settings import audit_sync

READ = (entries.c.seq, entries.c.time_us, entries.c.principal, entries.c.action,
        entries.c.rest, entries.c.hash)


def _entry(row: Any) -> Entry:
    return Entry.from_record(record_of(*row[:5]), row[5])


def _engine(url: str, immediate: bool) -> Engine:
    """An engine; for SQLite, in WAL mode (synchronous as MLFLOW_COMPLIANCE_AUDIT_SYNC says)."""
    engine = sa.create_engine(url, pool_pre_ping=not url.startswith("sqlite"))
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={audit_sync().upper()}")
            cursor.execute("PRAGMA busy_timeout=60000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(connection: Connection) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _head(row: Any, kind: str) -> Head:
    return Head(kind, row.seq, row.hash, row.time_us, row.key_id, row.signature)


class AuditLog:
    def __init__(self, url: str, home: Path | None, signer: Signer | None) -> None:
        self.url = url
        self.home = home  # where the head file is kept (None: nowhere outside the database)
        self.signer = signer  # None: read-only
        self.engine = _engine(url, immediate=False)
        self.writer = _engine(url, immediate=True) if self.engine.dialect.name == "sqlite" \
            else self.engine
        self._raw: Any = None
        database = self.engine.url.database if self.dialect == "sqlite" else None
        self.lock_path = f"{database}.lock" if database and database != ":memory:" else None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def create(self) -> None:
        """Create the tables and the signed genesis tip, if they are not there yet."""
        metadata.create_all(self.writer)
        with self.writer.begin() as conn:
            if conn.execute(sa.select(tip.c.id)).first() is None:
                head = self._signer().sign(TIP, 0, GENESIS, now_us())
                conn.execute(tip.insert().values(id=1, **_head_columns(head)))

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self._raw is not None:
            self._raw.close()
            self._raw = None
        self.engine.dispose()
        self.writer.dispose()

    def _signer(self) -> Signer:
        if self.signer is None:
            raise RuntimeError("this audit log was opened read-only")
        return self.signer

    # --- writing --------------------------------------------------------------------
    def append(self, batch: list[Entry], keep_head: bool = True) -> Head:
        """Number, chain and store ``batch`` in one transaction; the new signed tip.

        This runs for every request, so it uses one held database connection and
        statements compiled once, through the driver directly: through SQLAlchemy's
        connection per batch it cost about 3 ms of CPU, which the server then lacked.
        """
        signer = self._signer()
        with self._serialized():
            head = self._append(signer, batch, self.engine.dialect)
        if keep_head:
            self.keep_head(head)
        return head

    def try_append(self, batch: list[Entry]) -> Head | None:
        """Like ``append`` (without the head file), but only if the file lock is free
        right now, so it never waits: None if another writer holds it, or if there is no
        file lock (PostgreSQL, an in-memory SQLite)."""
        if self.lock_path is None:
            return None
        with self._serialized(wait=False) as held:
            return self._append(self._signer(), batch, self.engine.dialect) if held else None

    def checkpoint(self) -> None:
        """Copy the SQLite WAL into the database without blocking any writer (PASSIVE)."""
        if self.dialect == "sqlite":
            raw = self.engine.raw_connection()  # autocommit (see _engine): no transaction
            try:
                raw.cursor().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            finally:
                raw.close()

    def keep_head(self, head: Head) -> None:
        """Keep ``head`` outside the database too (the home's head file), if there is one."""
        if self.home is not None:
            write_head_file(self.home, head)

    @contextmanager
    def _serialized(self, wait: bool = True) -> Iterator[bool]:
        """On SQLite, queue for the write lock with a file lock the kernel hands over at
        once, instead of SQLite's busy handler, which sleeps 1, 2, 5, 10 ms, ...
        With ``wait`` false, yields False at once if another writer holds it."""
        if self.lock_path is None:
            yield True
            return
        with open(self.lock_path, "a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _append(self, signer: Signer, batch: list[Entry], dialect: Dialect) -> Head:
        raw = self._raw_writer()
        cursor = raw.cursor()
        try:
            if self.dialect == "sqlite":
                cursor.execute("BEGIN IMMEDIATE")
            cursor.execute(*_TIP_FOR_UPDATE.bind(dialect, {}))
            seq, previous = cursor.fetchone()
            rows = []
            for entry in batch:
                seq += 1
                entry.seq = seq
                record = entry.canonical()
                entry.hash = previous = link(previous, record)
                rows.append(_INSERT.bind(dialect, {
                    "seq": seq, "time_us": entry.time_us, "principal": entry.principal,
                    "action": entry.action, "rest": rest_of(record), "hash": entry.hash,
                })[1])
            cursor.executemany(_INSERT.sql(dialect), rows)
            head = signer.sign(TIP, seq, previous, now_us())
            cursor.execute(*_TIP_UPDATE.bind(dialect, _head_columns(head)))
            raw.commit()
        except BaseException:
            self._drop_raw_writer(raw)
            raise
        finally:
            cursor.close()
        return head

    def _raw_writer(self) -> Any:
        if self._raw is None:
            self._raw = self.writer.raw_connection()
        return self._raw

    def _drop_raw_writer(self, raw: Any) -> None:
        """After a failure: roll back and give the connection up (it may be broken)."""
        self._raw = None
        try:
            raw.rollback()
            raw.close()
        except Exception:
            raw.invalidate()

    def purge(self, before_us: int) -> tuple[int, Head | None]:
        """Delete entries older than ``before_us``, leaving a signed anchor at the cut."""
        signer = self._signer()
        with self._serialized(), self.writer.begin() as conn:
            conn.execute(sa.select(tip.c.seq).where(tip.c.id == 1).with_for_update()).one()
            first_kept = conn.execute(
                sa.select(sa.func.min(entries.c.seq)).where(entries.c.time_us >= before_us)
            ).scalar()
            if first_kept is None:
                first_kept = (conn.execute(sa.select(sa.func.max(entries.c.seq))).scalar() or 0) + 1
            cut = conn.execute(
                sa.select(entries.c.seq, entries.c.hash).where(entries.c.seq == first_kept - 1)
            ).first()
            if cut is None:  # nothing older is left
                return 0, None
            anchor = signer.sign(ANCHOR, cut.seq, cut.hash, now_us())
            conn.execute(anchors.insert().values(**_head_columns(anchor)))
            deleted = conn.execute(entries.delete().where(entries.c.seq <= cut.seq)).rowcount
        return deleted, anchor

    # --- reading --------------------------------------------------------------------
    def tip(self) -> Head:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(tip).where(tip.c.id == 1)).first()
        if row is None:
            raise LookupError("the audit log has no tip: it was never created, or it was deleted")
        return _head(row, TIP)

    def latest_anchor(self) -> Head | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(anchors).order_by(anchors.c.seq.desc()).limit(1)).first()
        return None if row is None else _head(row, ANCHOR)

    def entries(self, after_seq: int = 0, batch: int = 10_000) -> Iterator[Entry]:
        """Every entry after ``after_seq`` in order, streamed (constant memory)."""
        last = after_seq
        while True:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    sa.select(*READ).where(entries.c.seq > last)
                    .order_by(entries.c.seq).limit(batch)
                ).all()
            for row in rows:
                yield _entry(row)
            if len(rows) < batch:
                return
            last = rows[-1].seq

    def search(
        self,
        principal: str | None = None,
        action: str | None = None,
        resource: str | None = None,
        since_us: int | None = None,
        until_us: int | None = None,
        after_seq: int = 0,
        limit: int = 100,
    ) -> list[Entry]:
        """Entries matching every filter given, oldest first. ``action`` may end in ``*``;
        ``resource`` is text that the entry's named resources contain."""
        query = sa.select(*READ)
        if principal:
            query = query.where(entries.c.principal == principal)
        if action:
            query = query.where(
                entries.c.action.like(_escape(action[:-1]) + "%", escape="\\")
                if action.endswith("*") else entries.c.action == action
            )
        if resource:  # narrowed in SQL, then checked against the resources field itself
            query = query.where(entries.c.rest.like(f"%{_escape(resource)}%", escape="\\"))
        if since_us is not None:
            query = query.where(entries.c.time_us >= since_us)
        if until_us is not None:
            query = query.where(entries.c.time_us < until_us)
        found: list[Entry] = []
        last = after_seq
        with self.engine.connect() as conn:
            while len(found) < limit:
                rows = conn.execute(
                    query.where(entries.c.seq > last).order_by(entries.c.seq).limit(limit)
                ).all()
                for row in rows:
                    entry = _entry(row)
                    if resource is None or resource in entry.resources:
                        found.append(entry)
                        if len(found) == limit:
                            break
                if len(rows) < limit:
                    break
                last = rows[-1].seq
        return found

    def hash_before(self, seq: int) -> str | None:
        """The stored hash of entry ``seq - 1`` (GENESIS before the first), or None."""
        if seq <= 1:
            return GENESIS
        with self.engine.connect() as conn:
            return conn.execute(sa.select(entries.c.hash).where(entries.c.seq == seq - 1)).scalar()


class _Compiled:
    """A statement compiled once per dialect, bound to the driver's parameter style."""

    def __init__(self, statement: sa.ClauseElement) -> None:
        self.statement = statement
        self.cache: dict[str, Any] = {}

    def _compiled(self, dialect: Dialect) -> Any:
        if dialect.name not in self.cache:
            self.cache[dialect.name] = self.statement.compile(dialect=dialect)
        return self.cache[dialect.name]

    def sql(self, dialect: Dialect) -> str:
        return str(self._compiled(dialect).string)

    def bind(self, dialect: Dialect, values: dict[str, Any]) -> tuple[str, Any]:
        compiled = self._compiled(dialect)
        if dialect.positional:
            return compiled.string, tuple(values[name] for name in compiled.positiontup)
        return compiled.string, values


_TIP_FOR_UPDATE = _Compiled(
    sa.select(tip.c.seq, tip.c.hash).where(tip.c.id == sa.literal_column("1")).with_for_update()
)
_INSERT = _Compiled(
    entries.insert().values({c.name: sa.bindparam(c.name) for c in entries.c})
)
_TIP_UPDATE = _Compiled(
    tip.update().where(tip.c.id == sa.literal_column("1")).values(
        {name: sa.bindparam(name) for name in ("seq", "hash", "time_us", "key_id", "signature")}
    )
)


def _head_columns(head: Head) -> dict[str, Any]:
    return {
        "seq": head.seq,
        "hash": head.hash,
        "time_us": head.time_us,
        "key_id": head.key_id,
        "signature": head.signature,
    }


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
