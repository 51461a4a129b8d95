"""Group commit: one writer thread per server process appends entries in batches.

A request hands its entry over and waits (without blocking the event loop) until the
batch holding it is committed; whatever arrives while one batch commits goes into the
next. Concurrent requests share one transaction and one fsync, so durability costs a
little latency per request and almost no throughput.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from typing import Any

from mlflow_compliance.audit.entry import Entry
from mlflow_compliance.audit.log import AuditLog

MAX_BATCH = 1000
_log = logging.getLogger(__name__)

Waiting = tuple[Entry, asyncio.AbstractEventLoop, "asyncio.Future[None]"]


class AuditWriteFailed(Exception):
    """The entry could not be stored: the request must not be answered as a success."""


class GroupWriter:
    def __init__(self, log: AuditLog) -> None:
        self.log = log
        self.pending: queue.SimpleQueue[Waiting] = queue.SimpleQueue()
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()

    async def append(self, entry: Entry) -> None:
        """Return once ``entry`` is committed; raise AuditWriteFailed if it cannot be."""
        self._start()
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self.pending.put((entry, loop, done))
        await done

    def _start(self) -> None:
        if self.thread is None:
            with self.lock:
                if self.thread is None:
                    self.thread = threading.Thread(
                        target=self._run, name="audit-writer", daemon=True
                    )
                    self.thread.start()

    def _run(self) -> None:
        while True:
            batch = [self.pending.get()]
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self.pending.get_nowait())
                except queue.Empty:
                    break
            failure: Exception | None = None
            try:
                self.log.append([entry for entry, _, _ in batch])
            except Exception as e:  # the database is down, the disk is full, ...
                _log.error("audit log: %d entries could not be stored: %s", len(batch), e)
                failure = AuditWriteFailed(str(e))
            for _, loop, done in batch:
                loop.call_soon_threadsafe(_settle, done, failure)


def _settle(done: asyncio.Future[Any], failure: Exception | None) -> None:
    if done.done():
        return
    if failure is None:
        done.set_result(None)
    else:
        done.set_exception(failure)
