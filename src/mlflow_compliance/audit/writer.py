"""Committing entries: on the event loop when that is quick, else in groups on a thread.

On SQLite with ``synchronous=normal`` (the default), when no commit of this process is
under way and no other process holds the write lock, an entry is committed right on
the event loop: about 0.3 ms of work and no fsync, where handing it to a thread cost
the request a GIL hand-over each way (up to 5 ms each while MLflow's request threads
run), time in which a worker with every request waiting on its entry sat idle.

Otherwise (PostgreSQL, ``synchronous=full``, or the lock is held) a request hands its
entry over and waits (its coroutine, not the event loop) until the batch holding it is
committed. One commit runs at a time per process, on a thread of its own so the event
loop keeps serving while it waits for the database; every entry handed over meanwhile
goes into the next batch. Concurrent requests thus share one transaction.

The newest signed head is copied to the home's head file at most every
``HEAD_INTERVAL`` seconds (and always shortly after the last batch), not after every
batch: that file write cost as much as the commit itself. It is written on a second
thread, together with a passive SQLite checkpoint of the audit database's WAL, so
neither the event loop nor a waiting commit pays for them (SQLite would otherwise
checkpoint inside whichever commit crosses 1000 pages, with an fsync).
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from mlflow_compliance.audit.entry import Entry
from mlflow_compliance.audit.log import AuditLog
from mlflow_compliance.audit.signing import Head
from mlflow_compliance.settings import audit_sync

HEAD_INTERVAL = 0.5

_log = logging.getLogger(__name__)


class AuditWriteFailed(Exception):
    """The entry could not be stored: the request must not be answered as a success."""


class GroupWriter:
    def __init__(self, log: AuditLog) -> None:
        self.log = log
        self.pending: list[tuple[Entry, asyncio.Future[None]]] = []
        self.committing = False
        self.task: asyncio.Future[None] | None = None
        self.newest: Head | None = None  # committed, not yet in the head file
        self.head_due = False
        self.thread = ThreadPoolExecutor(1, thread_name_prefix="audit-commit")
        self.upkeep = ThreadPoolExecutor(1, thread_name_prefix="audit-upkeep")
        self.inline = log.dialect == "sqlite" and audit_sync() == "normal"

    async def append(self, entry: Entry) -> None:
        """Return once ``entry`` is committed; raise AuditWriteFailed if it cannot be."""
        if not self.committing and self.inline:
            try:
                head = self.log.try_append([entry])
            except Exception as e:
                _log.error("audit log: an entry could not be stored: %s", e)
                raise AuditWriteFailed(str(e)) from e
            if head is not None:
                self._committed(asyncio.get_running_loop(), head)
                return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.pending.append((entry, done))
        if not self.committing:
            self.committing = True
            self.task = asyncio.ensure_future(self._commit_all())
        await done

    async def _commit_all(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self.pending:
                batch, self.pending = self.pending, []
                failure: Exception | None = None
                try:
                    head = await loop.run_in_executor(
                        self.thread, self.log.append, [entry for entry, _ in batch], False
                    )
                    self._committed(loop, head)
                except Exception as e:  # the database is down, the disk is full, ...
                    _log.error("audit log: %d entries could not be stored: %s", len(batch), e)
                    failure = AuditWriteFailed(str(e))
                for _, done in batch:
                    if done.done():
                        continue
                    if failure is None:
                        done.set_result(None)
                    else:
                        done.set_exception(failure)
        finally:
            self.committing = False

    def _committed(self, loop: asyncio.AbstractEventLoop, head: Head) -> None:
        self.newest = head
        if not self.head_due:
            self.head_due = True
            loop.call_later(HEAD_INTERVAL, self._keep_head)

    def _keep_head(self) -> None:
        self.head_due = False
        head, self.newest = self.newest, None
        if head is not None:
            self.upkeep.submit(self._upkeep, head)

    def _upkeep(self, head: Head) -> None:
        try:
            self.log.keep_head(head)
        except OSError as e:
            _log.error("audit log: the head file could not be written: %s", e)
        try:
            self.log.checkpoint()
        except Exception as e:  # the next commit's own checkpoint still runs
            _log.warning("audit log: checkpoint failed: %s", e)
