"""Since when every artifact written through this server was encrypted.

Each worker start is a row of ``compliance_server_starts`` in the tracking database
(start time, whether artifact encryption was on). ``encrypted_since`` is the time of the
first start after the last start with encryption off (the first start ever if it was
never off): every artifact written through the server since then was encrypted. None
while encryption is off. A rule compares it with when a run started
(BASE-ENCRYPTION-AT-REST): a run older than that may hold plaintext artifacts.
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from sqlalchemy.engine import Engine

metadata = sa.MetaData()

starts = sa.Table(
    "compliance_server_starts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("started_at_ms", sa.BigInteger, nullable=False),
    sa.Column("encryption", sa.Boolean, nullable=False),
)


def record_start(engine: Engine, encryption: bool, now_ms: int | None = None) -> int | None:
    """Record this start and answer ``encrypted_since`` (ms) as it stands after it."""
    metadata.create_all(engine)
    started = now_ms if now_ms is not None else int(time.time() * 1000)
    with engine.begin() as c:
        c.execute(starts.insert().values(started_at_ms=started, encryption=encryption))
    return encrypted_since(engine) if encryption else None


def encrypted_since(engine: Engine) -> int | None:
    with engine.connect() as c:
        last_off = c.execute(
            sa.select(sa.func.max(starts.c.started_at_ms)).where(starts.c.encryption.is_(False))
        ).scalar()
        query = sa.select(sa.func.min(starts.c.started_at_ms)).where(
            starts.c.encryption.is_(True))
        if last_off is not None:
            query = query.where(starts.c.started_at_ms > last_off)
        first_on = c.execute(query).scalar()
    return None if first_on is None else int(first_on)
