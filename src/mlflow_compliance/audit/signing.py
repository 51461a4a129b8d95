"""The server's Ed25519 key for the audit log, and the signed heads it produces.

The private key lives in the home (``audit-signing.key``, mode 0600), never in the audit
database, so whoever can edit the database still cannot sign a chain head. The public
half (``audit-signing.pub``) is all ``audit verify`` needs. The newest signed head is
also written to ``audit-head.json`` in the home (by the server at most every 0.5 s):
a copy outside the database that makes cutting off the newest entries (and rewinding
the tip) detectable.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

PRIVATE_KEY_FILE = "audit-signing.key"
PUBLIC_KEY_FILE = "audit-signing.pub"
HEAD_FILE = "audit-head.json"

TIP = "tip"  # the newest entry of the chain
ANCHOR = "anchor"  # the last entry purged: where the remaining chain starts


class KeyProblem(Exception):
    """The signing key is missing, unreadable or not an Ed25519 key."""


@dataclass(frozen=True)
class Head:
    """A signed statement: entry ``seq`` of the chain has hash ``hash``."""

    kind: str  # TIP or ANCHOR: a signature for one never passes as the other
    seq: int
    hash: str
    time_us: int
    key_id: str
    signature: str

    def message(self) -> bytes:
        return signed_message(self.kind, self.seq, self.hash, self.time_us, self.key_id)


def signed_message(kind: str, seq: int, chain_hash: str, time_us: int, key_id: str) -> bytes:
    return f"mlflow-compliance audit {kind} v1\n{seq}\n{chain_hash}\n{time_us}\n{key_id}".encode()


def key_id_of(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


class Signer:
    def __init__(self, private: Ed25519PrivateKey) -> None:
        self.private = private
        self.key_id = key_id_of(private.public_key())

    @classmethod
    def load(cls, home: Path) -> Signer:
        path = home / PRIVATE_KEY_FILE
        try:
            data = path.read_bytes()
        except OSError as e:
            raise KeyProblem(f"{path}: cannot read the audit signing key ({e.strerror})") from None
        key = serialization.load_pem_private_key(data, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyProblem(f"{path}: not an Ed25519 private key")
        return cls(key)

    @classmethod
    def load_or_create(cls, home: Path) -> Signer:
        """The home's key; created (0600) with its public half on first use."""
        path = home / PRIVATE_KEY_FILE
        if not path.exists():
            key = Ed25519PrivateKey.generate()
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:  # another process created it first
                return cls.load(home)
            with os.fdopen(fd, "wb") as f:
                f.write(pem)
            public = key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            (home / PUBLIC_KEY_FILE).write_bytes(public)
        return cls.load(home)

    def sign(self, kind: str, seq: int, chain_hash: str, time_us: int) -> Head:
        message = signed_message(kind, seq, chain_hash, time_us, self.key_id)
        return Head(kind, seq, chain_hash, time_us, self.key_id, self.private.sign(message).hex())


class Verifier:
    """Checks heads against the public key(s) an auditor trusts."""

    def __init__(self, keys: list[Ed25519PublicKey]) -> None:
        self.keys = {key_id_of(k): k for k in keys}

    @classmethod
    def load(cls, home: Path) -> Verifier:
        path = home / PUBLIC_KEY_FILE
        try:
            key = serialization.load_pem_public_key(path.read_bytes())
        except OSError as e:
            raise KeyProblem(f"{path}: cannot read the audit public key ({e.strerror})") from None
        if not isinstance(key, Ed25519PublicKey):
            raise KeyProblem(f"{path}: not an Ed25519 public key")
        return cls([key])

    def problem(self, head: Head, kind: str) -> str | None:
        """Why ``head`` is not a valid ``kind`` head signed by a trusted key, or None."""
        if head.kind != kind:
            return f"a {head.kind} signature where a {kind} one belongs"
        key = self.keys.get(head.key_id)
        if key is None:
            return f"signed by unknown key {head.key_id}"
        try:
            key.verify(bytes.fromhex(head.signature), head.message())
        except (InvalidSignature, ValueError):
            return "signature does not verify"
        return None


def write_head_file(home: Path, head: Head) -> None:
    """Keep ``head`` in the home's head file (atomically replaced, never half-written).

    With several writers the file may briefly hold another writer's slightly older
    head; any signed tip that was once true is a valid check, so verification stays
    sound and only the newest batch or so goes unpinned.
    """
    path = home / HEAD_FILE
    temporary = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
    temporary.write_text(json.dumps(asdict(head)))
    os.replace(temporary, path)


def read_head_file(home: Path) -> Head | None:
    try:
        return Head(**json.loads((home / HEAD_FILE).read_text()))
    except FileNotFoundError:
        return None
    except (ValueError, TypeError) as e:
        raise KeyProblem(f"{home / HEAD_FILE}: not a signed head ({e})") from None
