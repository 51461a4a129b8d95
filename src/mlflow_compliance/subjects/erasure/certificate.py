"""The erasure certificate: what was done for one request, signed by the server.

GDPR Art. 5(2) and 24(1): the controller must be able to demonstrate that it erased
(Art. 17(1)), and Art. 19 that it can tell recipients what was erased. The certificate
is JSON: its id, the request's id (never the person's id), when and by whom, per place
the files rewritten (rows removed, SHA-256 of each new stored file) and the data keys
shredded, the records redacted, the model versions flagged, the places withheld with
their legal ground (Art. 17(3)), and the limits of what was done. It is signed with the
server's Ed25519 key (the audit log's, ``audit/signing.py``) over its canonical JSON
(keys sorted, no spaces), and stored in ``compliance_erasure_certificates``.

The signature covers the certificate and a digest of each of its top-level fields, so
a check of a changed copy names the field that changed.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.engine import Engine

from mlflow_compliance.audit.signing import Signer
from mlflow_compliance.tables import engine_with

ALGORITHM = "Ed25519"
SIGNATURE = "signature"

metadata = sa.MetaData()

erasure_certificates = sa.Table(
    "compliance_erasure_certificates",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("request_id", sa.String(32), nullable=False, index=True),
    sa.Column("issued_at", sa.DateTime, nullable=False),
    sa.Column("json", sa.Text, nullable=False),
)


class NotFound(LookupError):
    """No certificate of that id."""


def canonical(data: Any) -> bytes:
    """The bytes signed: JSON, keys sorted, no spaces, UTF-8."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def _digests(body: dict[str, Any]) -> dict[str, str]:
    return {name: hashlib.sha256(canonical(value)).hexdigest() for name, value in body.items()}


def _message(body: dict[str, Any], digests: dict[str, str]) -> bytes:
    return canonical({"certificate": body, "field_digests": digests})


def sign(body: dict[str, Any], signer: Signer) -> dict[str, Any]:
    """``body`` with its signature added under ``signature``."""
    digests = _digests(body)
    value = signer.private.sign(_message(body, digests)).hex()
    return {**body, SIGNATURE: {"algorithm": ALGORITHM, "key_id": signer.key_id,
                                "field_digests": digests, "value": value}}


def problem(document: Any, keys: dict[str, Ed25519PublicKey]) -> str | None:
    """Why ``document`` is not a certificate signed by one of ``keys``; None if it is.
    The answer names what is wrong (a field changed, an unknown key)."""
    if not isinstance(document, dict):
        return "the file is not a JSON object"
    signature = document.get(SIGNATURE)
    if not isinstance(signature, dict):
        return f"{SIGNATURE}: missing; the certificate is not signed"
    digests, value = signature.get("field_digests"), signature.get("value")
    if signature.get("algorithm") != ALGORITHM or not isinstance(digests, dict) \
            or not isinstance(value, str):
        return f"{SIGNATURE}: not an {ALGORITHM} signature of this format"
    key = keys.get(str(signature.get("key_id")))
    if key is None:
        return (f"{SIGNATURE}.key_id: signed by key {signature.get('key_id')}, not by this "
                "server's key")
    body = {k: v for k, v in document.items() if k != SIGNATURE}
    try:
        key.verify(bytes.fromhex(value), _message(body, digests))
        return None
    except (InvalidSignature, ValueError):
        pass
    now = _digests(body)
    changed = sorted(k for k in set(now) | set(digests) if now.get(k) != digests.get(k))
    if changed:
        return "changed after signing: " + ", ".join(
            f"{k} ({'added' if k not in digests else 'removed' if k not in now else 'altered'})"
            for k in changed)
    return f"{SIGNATURE}: does not verify (the signature or its digests were altered)"


class Certificates:
    """The stored certificates."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def connect(cls, uri: str) -> Certificates:
        return cls(engine_with(uri, metadata))

    def close(self) -> None:
        self.engine.dispose()

    def store(self, signed: dict[str, Any]) -> None:
        issued = datetime.fromisoformat(signed["issued_at"].rstrip("Z"))
        with self.engine.begin() as c:
            c.execute(erasure_certificates.insert().values(
                id=signed["id"], request_id=signed["request_id"], issued_at=issued,
                json=canonical(signed).decode("utf-8")))

    def get(self, certificate_id: Any) -> dict[str, Any]:
        if not isinstance(certificate_id, str) or not certificate_id.strip():
            raise ValueError("id: required, the certificate's id")
        with self.engine.connect() as c:
            row = c.execute(sa.select(erasure_certificates.c.json)
                            .where(erasure_certificates.c.id == certificate_id)).first()
        if row is None:
            raise NotFound(f"id: no erasure certificate {certificate_id!r}")
        found: dict[str, Any] = json.loads(row.json)
        return found


def issued_now() -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"
