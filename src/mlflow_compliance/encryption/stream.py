"""The streaming encrypted artifact format, version 1, as docs/encryption-format.md specifies.

Tink's AES-GCM-HKDF streaming AEAD, read with age's STREAM rules: a per-file key from
HKDF over a random salt; per segment one AES-256-GCM seal whose nonce holds the segment
index and a final flag, and whose associated data is the exact header.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from mlflow_compliance.encryption.errors import UntrustedCiphertext

MAGIC = b"MLCE"
VERSION = 1
AES_256_GCM_HKDF_SHA256 = 1
MIN_SEGMENT_SIZE = 4 << 10
MAX_SEGMENT_SIZE = 64 << 20
DEFAULT_SEGMENT_SIZE = 1 << 20  # fastest of 64 KiB..4 MiB here; see the spec
MAX_SEGMENTS = 1 << 32  # the segment index in the nonce is a u32
KEY_SIZE = 32
TAG_SIZE = 16
SALT_SIZE = 32
NONCE_PREFIX_SIZE = 7
_FIXED = struct.Struct(">4sBBIB")  # magic, version, algorithm, segment size, key id length
_INFO = b"mlflow-compliance artifact v1 AES-256-GCM-HKDF-SHA256"


@dataclass(frozen=True)
class Header:
    """The clear, authenticated header of an encrypted artifact; ``raw`` is its exact bytes."""

    version: int
    algorithm: int
    segment_size: int
    key_id: str
    salt: bytes
    nonce_prefix: bytes
    raw: bytes

    @property
    def size(self) -> int:
        return len(self.raw)

    @classmethod
    def new(cls, key_id: str, segment_size: int = DEFAULT_SEGMENT_SIZE) -> Header:
        """A header for a new file, with a fresh random salt and nonce prefix."""
        name = key_id.encode()
        if not 1 <= len(name) <= 255:
            raise ValueError(f"key id must be 1 to 255 bytes of UTF-8, not {len(name)}")
        if not MIN_SEGMENT_SIZE <= segment_size <= MAX_SEGMENT_SIZE:
            raise ValueError(f"segment size {segment_size} is not within 4 KiB..64 MiB")
        salt, prefix = os.urandom(SALT_SIZE), os.urandom(NONCE_PREFIX_SIZE)
        fixed = _FIXED.pack(MAGIC, VERSION, AES_256_GCM_HKDF_SHA256, segment_size, len(name))
        raw = fixed + name + salt + prefix
        return cls(VERSION, AES_256_GCM_HKDF_SHA256, segment_size, key_id, salt, prefix, raw)


def read_header(src: BinaryIO) -> Header:
    """Read and check the header, leaving ``src`` at the first segment.

    Nothing is authenticated yet (that needs the key the header names): a header
    that passes here can still fail at segment 0.
    """
    fixed = _read_exactly(src, _FIXED.size)
    if len(fixed) < _FIXED.size:
        raise UntrustedCiphertext("truncated header")
    magic, version, algorithm, segment_size, name_size = _FIXED.unpack(fixed)
    if magic != MAGIC:
        raise UntrustedCiphertext("not an encrypted artifact (bad magic)")
    if version != VERSION:
        raise UntrustedCiphertext(f"unsupported format version {version}")
    if algorithm != AES_256_GCM_HKDF_SHA256:
        raise UntrustedCiphertext(f"unsupported algorithm {algorithm}")
    if not MIN_SEGMENT_SIZE <= segment_size <= MAX_SEGMENT_SIZE:
        raise UntrustedCiphertext(f"segment size {segment_size} out of range")
    if name_size == 0:
        raise UntrustedCiphertext("empty key id")
    rest = _read_exactly(src, name_size + SALT_SIZE + NONCE_PREFIX_SIZE)
    if len(rest) < name_size + SALT_SIZE + NONCE_PREFIX_SIZE:
        raise UntrustedCiphertext("truncated header")
    try:
        key_id = rest[:name_size].decode()
    except UnicodeDecodeError:
        raise UntrustedCiphertext("key id is not UTF-8") from None
    salt, prefix = rest[name_size:-NONCE_PREFIX_SIZE], rest[-NONCE_PREFIX_SIZE:]
    return Header(version, algorithm, segment_size, key_id, salt, prefix, fixed + rest)


class EncryptingWriter:
    """Encrypts what is written to it into ``dst``, one segment at a time.

    ``close()`` seals the final segment: a file not closed is truncated and will not
    decrypt. As a context manager it closes only if the block ends without an
    exception, so a failed upload never looks complete. ``dst`` must write all it
    is given (any buffered binary file does).
    """

    def __init__(
        self, dst: BinaryIO, key: bytes, key_id: str, segment_size: int = DEFAULT_SEGMENT_SIZE
    ) -> None:
        self.header = Header.new(key_id, segment_size)
        self._cipher = _file_cipher(key, self.header)
        self._dst = dst
        self._plain = bytearray(segment_size)
        self._filled = 0
        self._sealed = bytearray(segment_size + TAG_SIZE)
        self._index = 0
        self._closed = False
        dst.write(self.header.raw)
        self.bytes_written = self.header.size

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._check_open()
        view, size = memoryview(data).cast("B"), len(self._plain)
        while view:
            if self._filled == size:  # full, and more follows: not the final segment
                self._seal(self._plain, final=False)
                self._filled = 0
            n = min(size - self._filled, len(view))
            self._plain[self._filled : self._filled + n] = view[:n]
            self._filled += n
            view = view[n:]
        return len(data)

    def write_from(self, src: BinaryIO) -> None:
        """Encrypt the rest of ``src``, read straight into the segment buffer (no copy)."""
        self._check_open()
        while True:
            if self._filled == len(self._plain):  # full: seal it only if more follows
                ahead = src.read(1)
                if not ahead:
                    return
                self._seal(self._plain, final=False)
                self._plain[0:1] = ahead
                self._filled = 1
            read = _readinto(src, memoryview(self._plain)[self._filled :])
            if not read:
                return
            self._filled += read

    def close(self) -> int:
        """Seal the final segment; return the ciphertext bytes written in all."""
        if not self._closed:
            self._seal(memoryview(self._plain)[: self._filled], final=True)
            self._closed = True
        return self.bytes_written

    def __enter__(self) -> EncryptingWriter:
        return self

    def __exit__(self, error_type: object, error: object, traceback: object) -> None:
        if error_type is None:
            self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError("write to a closed EncryptingWriter")

    def _seal(self, plaintext: bytearray | memoryview, final: bool) -> None:
        if self._index >= MAX_SEGMENTS:
            raise ValueError(f"an encrypted file holds at most {MAX_SEGMENTS} segments")
        sealed = memoryview(self._sealed)[: len(plaintext) + TAG_SIZE]
        nonce = _nonce(self.header, self._index, final)
        self._cipher.encrypt_into(nonce, plaintext, self.header.raw, sealed)
        self._dst.write(sealed)
        self._index += 1
        self.bytes_written += len(sealed)


def encrypt_stream(
    src: BinaryIO, dst: BinaryIO, key: bytes, key_id: str, segment_size: int = DEFAULT_SEGMENT_SIZE
) -> int:
    """Encrypt all of ``src`` into ``dst``; return the ciphertext bytes written."""
    writer = EncryptingWriter(dst, key, key_id, segment_size)
    writer.write_from(src)
    return writer.close()


def decrypt_segments(src: BinaryIO, key: bytes, header: Header | None = None) -> Iterator[bytes]:
    """Yield the plaintext of each segment; raise UntrustedCiphertext at the first bad one.

    Pass ``header`` if it was already read with ``read_header`` (to find the key).
    Each yielded segment is authentic, but the file is only known to be complete
    and unmodified once the iterator is exhausted: a consumer streaming plaintext on
    (e.g. to an HTTP client) must not treat what it sent as trusted until then, and
    on an error must abort the response rather than end it normally.
    """
    header = header or read_header(src)
    views = _open_segments(src, _file_cipher(key, header), header)
    return (bytes(view) for view in views)  # a copy: the views share one buffer


def decrypt_whole(src: BinaryIO, key: bytes, header: Header, size: int) -> bytearray:
    """All of the plaintext, ``size`` bytes (``plaintext_size``), decrypted straight into
    one buffer; UntrustedCiphertext as ``decrypt_segments``. For work on a whole file
    (an erasure searching a dataset's rows), where copying segment by segment into a
    growing buffer cost as much as the decryption."""
    whole = bytearray(size)
    views = _open_segments(src, _file_cipher(key, header), header, memoryview(whole))
    if sum(len(view) for view in views) != size:
        raise UntrustedCiphertext("shorter than its size says")
    return whole


def decrypt_stream(src: BinaryIO, dst: BinaryIO, key: bytes, header: Header | None = None) -> int:
    """Decrypt all of ``src`` into ``dst``; return the plaintext bytes written.

    On UntrustedCiphertext, ``dst`` holds a partial plaintext that must be discarded.
    """
    header = header or read_header(src)
    written = 0
    for view in _open_segments(src, _file_cipher(key, header), header):
        dst.write(view)
        written += len(view)
    return written


def plaintext_size(ciphertext_size: int, header: Header) -> int:
    """The plaintext length of a file of ``ciphertext_size`` bytes, without decrypting."""
    return plaintext_size_for(ciphertext_size, header.size, header.segment_size)


def plaintext_size_for(ciphertext_size: int, header_size: int, segment_size: int) -> int:
    """The same, from the header's size and segment size alone (no read at all)."""
    body = ciphertext_size - header_size
    full = segment_size + TAG_SIZE
    segments = max(1, -(-body // full))
    last = body - (segments - 1) * full
    if last < TAG_SIZE or (segments > 1 and last == TAG_SIZE) or segments > MAX_SEGMENTS:
        raise UntrustedCiphertext(f"impossible ciphertext size {ciphertext_size}")
    return body - segments * TAG_SIZE


def header_size(key_id_size: int) -> int:
    """The size of a header naming a key id of ``key_id_size`` bytes."""
    return _FIXED.size + key_id_size + SALT_SIZE + NONCE_PREFIX_SIZE


def _open_segments(src: BinaryIO, cipher: AESGCM, header: Header,
                   into: memoryview | None = None) -> Iterator[memoryview]:
    """Plaintext segments as views of one reused buffer, each valid until the next; or,
    with ``into``, decrypted straight into it one after the other (no copy)."""
    sealed = memoryview(bytearray(header.segment_size + TAG_SIZE))
    plain = memoryview(bytearray(header.segment_size)) if into is None else into
    at = 0
    for index in range(MAX_SEGMENTS):
        size = _fill(src, sealed)
        if not size:
            raise UntrustedCiphertext("truncated: no final segment")
        length = max(0, size - TAG_SIZE)
        if into is not None and at + length > len(into):
            raise UntrustedCiphertext("longer than its size says")
        segment, out = sealed[:size], plain[at : at + length]
        if into is not None:
            at += length
        # A full-size segment is a middle one, or else a full-size final one (age's rule).
        if size == len(sealed) and _open(cipher, header, index, segment, out, final=False):
            yield out
            continue
        if index and size == TAG_SIZE:  # only an empty file has an empty segment
            raise UntrustedCiphertext(f"segment {index} is empty")
        if not _open(cipher, header, index, segment, out, final=True):
            raise UntrustedCiphertext(f"segment {index} failed authentication")
        if src.read(1):
            raise UntrustedCiphertext("data after the final segment")
        yield out
        return
    raise UntrustedCiphertext(f"more than {MAX_SEGMENTS} segments")


def _open(
    cipher: AESGCM, header: Header, index: int, sealed: memoryview, out: memoryview, final: bool
) -> bool:
    try:  # shorter than a tag also raises InvalidTag
        cipher.decrypt_into(_nonce(header, index, final), sealed, header.raw, out)
    except InvalidTag:
        return False
    return True


def _file_cipher(data_key: bytes, header: Header) -> AESGCM:
    """AES-256-GCM under this file's own key, HKDF-SHA256(data key, header salt)."""
    if len(data_key) != KEY_SIZE:
        raise ValueError(f"data key must be {KEY_SIZE} bytes, not {len(data_key)}")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_SIZE, salt=header.salt, info=_INFO)
    return AESGCM(hkdf.derive(data_key))


def _nonce(header: Header, index: int, final: bool) -> bytes:
    return header.nonce_prefix + struct.pack(">IB", index, final)


def _read_exactly(src: BinaryIO, size: int) -> bytes:
    buffer = bytearray(size)
    return bytes(buffer[: _fill(src, memoryview(buffer))])


def _fill(src: BinaryIO, buffer: memoryview) -> int:
    """Fill ``buffer``, short only at the end of ``src`` (a socket may return less per read)."""
    filled = 0
    while filled < len(buffer) and (read := _readinto(src, buffer[filled:])):
        filled += read
    return filled


def _readinto(src: BinaryIO, buffer: memoryview) -> int:
    # readinto saves a copy and an allocation per segment; not every file-like has it.
    readinto = getattr(src, "readinto", None)
    if readinto is not None:
        return int(readinto(buffer) or 0)
    data = src.read(len(buffer))
    buffer[: len(data)] = data
    return len(data)
