"""The project's own tables beside MLflow's, in the tracking (or audit) database."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine


def engine_with(uri: str, metadata: sa.MetaData) -> Engine:
    """An engine on ``uri`` whose database holds ``metadata``'s tables.

    SQLite gets no liveness ping (it has no connection to lose; elsewhere a ping per
    checkout keeps a dropped connection from failing a request). Two server workers
    starting at once may both create the tables: the loser's error is retried once,
    when the tables exist.
    """
    engine = sa.create_engine(uri, pool_pre_ping=not uri.startswith("sqlite"))
    try:
        metadata.create_all(engine)
    except sa.exc.DatabaseError:  # another worker created them at the same moment
        metadata.create_all(engine)
    return engine
