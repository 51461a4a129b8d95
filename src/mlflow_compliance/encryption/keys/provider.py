"""What a keyring provider is: the holder of key-encryption keys (KEKs).

Small on purpose, so Vault, another cloud KMS or an HSM fits later. A provider never
sees artifacts, only 32-byte data keys, and never stores them: the data key store does,
wrapped. ``context`` is the data key's id; a provider binds it to the wrapping (AEAD
associated data, KMS encryption context) so a wrapped key moved to another row fails.
"""

from __future__ import annotations

from typing import Protocol


class KeyProvider(Protocol):
    """Key-encryption keys, addressed by id."""

    #: The provider's name in settings and in ``keys status``: "local", "aws-kms".
    name: str

    def create_key(self) -> str:
        """A new key-encryption key; its id. (A provider configured with an existing
        key may return that key's id the first time.)"""
        ...

    def wrap(self, kek_id: str, data_key: bytes, context: str) -> bytes:
        """``data_key`` sealed under key ``kek_id``, bound to ``context``."""
        ...

    def unwrap(self, kek_id: str, wrapped: bytes, context: str) -> bytes:
        """The data key inside ``wrapped``.

        Raises WrongKey if it does not open (altered, other key, other context),
        UnknownKey if ``kek_id`` is not held, KeyFileMissing or KeyServiceUnreachable
        if the keys cannot be reached at all.
        """
        ...

    def destroy_key(self, kek_id: str) -> None:
        """Retire key ``kek_id`` for good (after every data key moved off it)."""
        ...
