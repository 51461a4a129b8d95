"""Errors about keys, each one line a user can act on."""

from __future__ import annotations


class KeyringError(Exception):
    """A data key or key-encryption key cannot be used; the message names the cause."""


class KeyFileMissing(KeyringError):
    """The local key file is gone or unreadable: without it no artifact can be decrypted."""


class KeyServiceUnreachable(KeyringError):
    """The key service (e.g. AWS KMS) did not answer, or refused the request."""


class WrongKey(KeyringError):
    """A wrapped data key does not open with the key-encryption key it names."""


class UnknownKey(KeyringError):
    """A file or wrapped key names a key this keyring has never had (or has retired)."""


class ArtifactErased(KeyringError):
    """The data key was shredded: the artifacts it encrypted are erased for good."""
