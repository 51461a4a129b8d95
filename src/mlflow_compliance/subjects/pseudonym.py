"""A subject id as the index keeps it: HMAC-SHA256 under the index key.

GDPR Art. 4(5): pseudonymised data can no longer be attributed to a person without
additional information kept separately. Here that information is the index key, a data
key of the keyring (scope ``subject-index``): created on first use, stored only wrapped
by the key-encryption key, beside the other data keys, never beside the index. An
unkeyed hash of an e-mail falls to a dictionary attack (ENISA, "Pseudonymisation
techniques and best practices", 2019); a keyed one does not without the key. Art.
32(1)(a) names pseudonymisation among the measures of security of processing.
"""

from __future__ import annotations

import hmac
import unicodedata

from mlflow_compliance.encryption.keys.keyring import Keyring

INDEX_KEY_SCOPE = "subject-index"
"""The keyring scope of the index key (one key for the whole index)."""

PSEUDONYM_BYTES = 32


def normalise(subject_id: str) -> str:
    """The id as it is hashed: surrounding blanks removed, Unicode NFC (so the same
    name typed on two systems matches); case is kept (ids are case-sensitive unless a
    column says otherwise, which the record cannot say yet)."""
    return unicodedata.normalize("NFC", subject_id.strip())


def index_key(keyring: Keyring) -> bytes:
    """The index key, unwrapped in memory only (the keyring caches it there)."""
    if keyring.store.current_kek() is None:
        keyring.ensure_current_kek()
    _, key = keyring.key_for_writing(INDEX_KEY_SCOPE)
    return key


class Pseudonymiser:
    """Turns subject ids into pseudonyms under one key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("the index key must have at least 32 bytes")
        self._key = key

    def __repr__(self) -> str:  # never the key, in a log or a traceback
        return "Pseudonymiser(<key withheld>)"

    def pseudonym(self, subject_id: str) -> bytes:
        """32 bytes: HMAC-SHA256 of the normalised id."""
        # hmac.digest: the one-shot C implementation, several times faster than
        # hmac.new(...).digest() for short messages, same HMAC-SHA256 (RFC 2104)
        return hmac.digest(self._key, normalise(subject_id).encode("utf-8"), "sha256")
