"""Where the audit log lives: three tables, in SQLite (embedded) or PostgreSQL (scale).

- ``compliance_audit_entries``: one row per entry, ``seq`` 1, 2, 3, ... with no gaps,
  each with the hash that chains it to its predecessor.
- ``compliance_audit_tip``: one row, the newest ``seq`` and hash, signed. Appends lock
  this row, so every writer (worker process, replica) extends the same chain in order.
- ``compliance_audit_anchors``: signed (seq, hash) pairs kept when older entries are
  purged after the retention period, so the rest still verifies.
"""

from __future__ import annotations

import sqlalchemy as sa

from mlflow_compliance.audit.entry import HASHED

metadata = sa.MetaData()

entries = sa.Table(
    "compliance_audit_entries",
    metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
              autoincrement=False),
    sa.Column("time_us", sa.BigInteger, nullable=False, index=True),
    sa.Column("request_id", sa.String(64), nullable=False),
    sa.Column("principal", sa.String(255), nullable=False, index=True),
    sa.Column("auth_method", sa.String(20), nullable=False),
    sa.Column("client", sa.String(255), nullable=False),
    sa.Column("method", sa.String(16), nullable=False),
    sa.Column("route", sa.Text, nullable=False),
    sa.Column("action", sa.String(128), nullable=False, index=True),
    sa.Column("resources", sa.Text, nullable=False),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("bytes_in", sa.BigInteger, nullable=False),
    sa.Column("bytes_out", sa.BigInteger, nullable=False),
    sa.Column("duration_us", sa.BigInteger, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

tip = sa.Table(
    "compliance_audit_tip",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),  # always 1
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("time_us", sa.BigInteger, nullable=False),
    sa.Column("key_id", sa.String(64), nullable=False),
    sa.Column("signature", sa.String(200), nullable=False),
)

anchors = sa.Table(
    "compliance_audit_anchors",
    metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("time_us", sa.BigInteger, nullable=False),
    sa.Column("key_id", sa.String(64), nullable=False),
    sa.Column("signature", sa.String(200), nullable=False),
)


def canonical_sql() -> sa.ColumnElement[str]:
    """``Entry.canonical()`` computed by the database, from the stored columns.

    Verification hashes what the database holds, column by column, so an edited field
    changes the hash; building the string in SQL keeps Python's work per entry to one
    SHA-256.
    """
    parts: list[sa.ColumnElement[str]] = []
    for name in HASHED:
        text = sa.cast(entries.c[name], sa.Text)
        parts += [sa.cast(sa.func.length(text), sa.Text), sa.literal(":", sa.Text), text]
    expression = parts[0]
    for part in parts[1:]:
        expression = expression.concat(part)
    return expression
