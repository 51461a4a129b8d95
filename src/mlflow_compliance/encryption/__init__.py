"""Encryption of artifacts at rest (GDPR Art. 32): the streaming file format.

The format is specified in docs/encryption-format.md; every integrity failure
raises the one error, UntrustedCiphertext.
"""

from mlflow_compliance.encryption.errors import UntrustedCiphertext
from mlflow_compliance.encryption.stream import (
    DEFAULT_SEGMENT_SIZE,
    EncryptingWriter,
    Header,
    decrypt_segments,
    decrypt_stream,
    encrypt_stream,
    plaintext_size,
    read_header,
)

__all__ = [
    "DEFAULT_SEGMENT_SIZE",
    "EncryptingWriter",
    "Header",
    "UntrustedCiphertext",
    "decrypt_segments",
    "decrypt_stream",
    "encrypt_stream",
    "plaintext_size",
    "read_header",
]
