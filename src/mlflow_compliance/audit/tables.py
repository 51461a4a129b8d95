"""Where the audit log lives: three tables, in SQLite (embedded) or PostgreSQL (scale).

- ``compliance_audit_entries``: one row per entry, ``seq`` 1, 2, 3, ... with no gaps:
  the fields searched by (time, principal, action) in columns of their own, the other
  fields in ``rest`` (the tail of the entry's record, see ``entry``), and the hash
  that chains the record to its predecessor's. Nothing is stored twice, so every
  stored byte is covered by the hash.
- ``compliance_audit_tip``: one row, the newest ``seq`` and hash, signed. Appends lock
  this row, so every writer (worker process, replica) extends the same chain in order.
- ``compliance_audit_anchors``: signed (seq, hash) pairs kept when older entries are
  purged after the retention period, so the rest still verifies.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

entries = sa.Table(
    "compliance_audit_entries",
    metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
              autoincrement=False),
    sa.Column("time_us", sa.BigInteger, nullable=False, index=True),
    sa.Column("principal", sa.String(255), nullable=False, index=True),
    sa.Column("action", sa.String(128), nullable=False, index=True),
    sa.Column("rest", sa.Text, nullable=False),  # the record after its searched fields
    sa.Column("hash", sa.String(64), nullable=False),
)
INDEXED = ("time_us", "principal", "action")
"""The record's fields kept in columns of their own, to search by; they open the record."""

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
