"""Human sign-offs of model versions: the documented release decision of the quality
management system (AI Act Art. 17(1)(b)-(d): design verification, development and
testing procedures; Annex IV 2(g): the validation and testing, signed and dated by the
persons responsible): who, when, why, what the checks said and what evidence was seen.

Kept in the tracking database (``compliance_approvals``) and signed with the server's
Ed25519 key (the audit log's, whose private half is never in the database), so a row
inserted or edited behind the server's back does not verify and admits nothing. The
approval request is also an entry in the audit log, naming the approval's id.

Each sign-off (message v2) vouches for its *evidence* (checks/signoff_evidence.py: the
record, data description, datasets, metrics, the SHA-256 of every model file, the run
and the version's creation time), stored with it and covered by the signature;
``record_digest`` is the evidence's digest. When any of it changes, the sign-off is
stale. Rows signed before the evidence existed (message v1, no ``evidence``) still
verify, but are always stale: they do not say what was seen.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature
from sqlalchemy.engine import Engine

from mlflow_compliance.audit.signing import Signer, Verifier
from mlflow_compliance.tables import engine_with

metadata = sa.MetaData()

approvals = sa.Table(
    "compliance_approvals",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("model_name", sa.String(500), nullable=False),
    sa.Column("version", sa.String(20), nullable=False),
    sa.Column("approver", sa.String(255), nullable=False),
    sa.Column("approved_at_us", sa.BigInteger, nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("results", sa.Text, nullable=False),  # JSON: [[rule id, status], ...]
    sa.Column("record_digest", sa.String(64), nullable=False),
    sa.Column("key_id", sa.String(64), nullable=False),
    sa.Column("signature", sa.String(200), nullable=False),
    sa.Column("evidence", sa.Text, nullable=True),  # JSON: Evidence.as_dict(); v2 only
    sa.Index("compliance_approvals_version", "model_name", "version"),
)


@dataclass(frozen=True)
class Approval:
    id: str
    model_name: str
    version: str
    approver: str
    approved_at_us: int
    note: str
    results: list[list[str]]
    record_digest: str
    key_id: str
    signature: str
    evidence: dict[str, Any] | None = None  # None: a v1 sign-off, from before the evidence

    def message(self) -> bytes:
        fields: list[Any] = [self.id, self.model_name, self.version, self.approver,
                             self.approved_at_us, self.note, self.results, self.record_digest,
                             self.key_id]
        if self.evidence is None:
            return b"mlflow-compliance approval v1\n" + json.dumps(fields).encode()
        fields.append(self.evidence)
        return b"mlflow-compliance approval v2\n" + json.dumps(fields, sort_keys=True).encode()

    @property
    def approved_at(self) -> str:
        return datetime.fromtimestamp(self.approved_at_us / 1e6, UTC).isoformat()

    def as_dict(self) -> dict[str, object]:
        return {"id": self.id, "name": self.model_name, "version": self.version,
                "approver": self.approver, "approved_at": self.approved_at, "note": self.note,
                "results": self.results, "record_digest": self.record_digest,
                "evidence": self.evidence}


class ApprovalStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def connect(cls, uri: str) -> ApprovalStore:
        engine = engine_with(uri, metadata)
        _add_evidence_column(engine)
        return cls(engine)

    def record(
        self,
        signer: Signer,
        name: str,
        version: str,
        approver: str,
        note: str,
        results: list[list[str]],
        record_digest: str,
        evidence: dict[str, Any] | None = None,
    ) -> Approval:
        unsigned = Approval(uuid.uuid4().hex, name, version, approver,
                            int(datetime.now(UTC).timestamp() * 1e6), note, results,
                            record_digest, signer.key_id, "", evidence)
        signature = signer.private.sign(unsigned.message()).hex()
        approval = Approval(**{**unsigned.__dict__, "signature": signature})
        with self.engine.begin() as c:
            c.execute(approvals.insert().values(
                id=approval.id, model_name=name, version=version, approver=approver,
                approved_at_us=approval.approved_at_us, note=note, results=json.dumps(results),
                record_digest=record_digest, key_id=approval.key_id, signature=signature,
                evidence=None if evidence is None else json.dumps(evidence, sort_keys=True),
            ))
        return approval

    def of_version(self, name: str, version: str) -> list[Approval]:
        """The version's sign-offs, newest first."""
        with self.engine.connect() as c:
            rows = c.execute(
                sa.select(approvals)
                .where(approvals.c.model_name == name, approvals.c.version == version)
                .order_by(approvals.c.approved_at_us.desc())
            ).all()
        return [Approval(r.id, r.model_name, r.version, r.approver, r.approved_at_us, r.note,
                         json.loads(r.results), r.record_digest, r.key_id, r.signature,
                         None if r.evidence is None else json.loads(r.evidence))
                for r in rows]


def _add_evidence_column(engine: Engine) -> None:
    """A table made before sign-offs kept their evidence gets the (nullable) column."""
    columns = {c["name"] for c in sa.inspect(engine).get_columns(approvals.name)}
    if "evidence" in columns:
        return
    try:
        with engine.begin() as c:
            c.execute(sa.text(f"ALTER TABLE {approvals.name} ADD COLUMN evidence TEXT"))
    except sa.exc.DBAPIError:
        # Another worker added it first (each worker connects at start).
        columns = {c["name"] for c in sa.inspect(engine).get_columns(approvals.name)}
        if "evidence" not in columns:
            raise


def forged(approval: Approval, verifier: Verifier) -> bool:
    """Whether the sign-off was not signed by this server's key as it stands."""
    key = verifier.keys.get(approval.key_id)
    if key is None:
        return True
    try:
        key.verify(bytes.fromhex(approval.signature), approval.message())
    except (InvalidSignature, ValueError):
        return True
    return False
