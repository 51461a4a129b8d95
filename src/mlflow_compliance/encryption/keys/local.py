"""The default keyring provider: key-encryption keys in one local key file.

``<home>/artifact-keys.json``, mode 0600, outside the artifact folder, so a copy of the
artifacts (a backup, a bucket) holds no key. The file holds every key-encryption key
not yet retired; losing it loses every artifact (docs/encryption.md says how to back it
up). Data keys are wrapped with AES-256-GCM under a key from the file, the data key's id
bound as associated data.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mlflow_compliance.encryption.keys.errors import KeyFileMissing, UnknownKey, WrongKey

_FORMAT = "mlflow-compliance key-encryption keys"
_NONCE_SIZE = 12
_AAD = b"mlflow-compliance data key v1\x00"


class LocalKeyFile:
    """Key-encryption keys in a JSON file only its owner can read."""

    name = "local"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._keys: dict[str, bytes] | None = None
        self._lock = threading.Lock()

    def create_key(self) -> str:
        """Add a fresh random key to the file (creating the file, 0600); its id."""
        with self._lock, self._file_lock():
            keys = self._read() if self.path.exists() else {}
            kek_id = f"local-{secrets.token_hex(8)}"
            keys[kek_id] = secrets.token_bytes(32)
            self._write(keys)
            return kek_id

    def wrap(self, kek_id: str, data_key: bytes, context: str) -> bytes:
        nonce = secrets.token_bytes(_NONCE_SIZE)
        return nonce + AESGCM(self._key(kek_id)).encrypt(nonce, data_key, _AAD + context.encode())

    def unwrap(self, kek_id: str, wrapped: bytes, context: str) -> bytes:
        nonce, sealed = wrapped[:_NONCE_SIZE], wrapped[_NONCE_SIZE:]
        try:
            return AESGCM(self._key(kek_id)).decrypt(nonce, sealed, _AAD + context.encode())
        except (InvalidTag, ValueError):
            raise WrongKey(
                f"data key {context} does not open with key-encryption key {kek_id} "
                f"of {self.path}: the wrapped key was altered or belongs to another key file"
            ) from None

    def destroy_key(self, kek_id: str) -> None:
        """Remove the key from the file: whatever only it wraps is unreadable from now on."""
        with self._lock, self._file_lock():
            keys = self._read()
            if keys.pop(kek_id, None) is not None:
                self._write(keys)

    def key_ids(self) -> list[str]:
        with self._lock:
            return sorted(self._read())

    def _key(self, kek_id: str) -> bytes:
        with self._lock:
            if self._keys is None or kek_id not in self._keys:
                self._keys = self._read()  # another process may have rotated
            try:
                return self._keys[kek_id]
            except KeyError:
                raise UnknownKey(
                    f"key-encryption key {kek_id} is not in {self.path} (retired, or another "
                    "key file)"
                ) from None

    @contextmanager
    def _file_lock(self) -> Iterator[None]:
        """Serialize read-modify-write of the file across processes (server start, CLI)."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        lock = self.path.with_name(self.path.name + ".lock")
        descriptor = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            os.close(descriptor)

    def _read(self) -> dict[str, bytes]:
        try:
            document = json.loads(self.path.read_text())
        except FileNotFoundError:
            raise KeyFileMissing(
                f"key file {self.path} is missing: without it no encrypted artifact can be "
                "read; restore it from your key backup (docs/encryption.md)"
            ) from None
        except (OSError, ValueError) as error:
            raise KeyFileMissing(f"key file {self.path} cannot be read: {error}") from None
        if not isinstance(document, dict) or document.get("format") != _FORMAT:
            raise KeyFileMissing(f"key file {self.path} is not a {_FORMAT} file")
        try:
            keys = {k: base64.b64decode(v, validate=True) for k, v in document["keys"].items()}
        except (KeyError, AttributeError, TypeError, ValueError):
            raise KeyFileMissing(f"key file {self.path}: field keys is damaged") from None
        if any(len(key) != 32 for key in keys.values()):
            raise KeyFileMissing(f"key file {self.path}: a key is not 32 bytes")
        return keys

    def _write(self, keys: dict[str, bytes]) -> None:
        """Replace the file atomically; the new file is 0600 from its first byte."""
        document = {
            "format": _FORMAT,
            "keys": {k: base64.b64encode(v).decode() for k, v in keys.items()},
        }
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "w") as file:
                json.dump(document, file, indent=1)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        self._keys = keys
