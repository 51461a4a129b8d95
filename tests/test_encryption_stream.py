"""The streaming encrypted artifact format (docs/encryption-format.md)."""

from __future__ import annotations

import hashlib
import io
import os
import random
import re
import struct
import tracemalloc
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from mlflow_compliance.encryption import (
    DEFAULT_SEGMENT_SIZE,
    EncryptingWriter,
    Header,
    UntrustedCiphertext,
    decrypt_segments,
    decrypt_stream,
    encrypt_stream,
    plaintext_size,
    read_header,
)

KEY = bytes(range(32))
S = 4096  # small segments keep the suite fast; the format is the same at any size
FULL = S + 16  # one ciphertext segment
APPENDED = [b"\x00", os.urandom(16), os.urandom(FULL)]
SIZES = [0, 1, S - 1, S, S + 1, 3 * S, *random.Random(32).sample(range(2, 8 * S), 4)]


def fails(message: str) -> AbstractContextManager[pytest.ExceptionInfo[UntrustedCiphertext]]:
    """Expect UntrustedCiphertext with exactly this one-line message."""
    return pytest.raises(UntrustedCiphertext, match=f"^{re.escape(message)}$")


def encrypt(plaintext: bytes, key: bytes = KEY, key_id: str = "run-1", size: int = S) -> bytes:
    out = io.BytesIO()
    encrypt_stream(io.BytesIO(plaintext), out, key, key_id, size)
    return out.getvalue()


def decrypt(ciphertext: bytes, key: bytes = KEY) -> bytes:
    out = io.BytesIO()
    decrypt_stream(io.BytesIO(ciphertext), out, key)
    return out.getvalue()


def segments(ciphertext: bytes) -> tuple[bytes, list[bytes]]:
    """Header bytes and the ciphertext segments, cut as a reader would."""
    size = read_header(io.BytesIO(ciphertext)).size
    body = ciphertext[size:]
    return ciphertext[:size], [body[i : i + FULL] for i in range(0, len(body), FULL)]


def flip(data: bytes, offset: int, bit: int = 0x01) -> bytes:
    return data[:offset] + bytes([data[offset] ^ bit]) + data[offset + 1 :]


# Round trips and sizes


@pytest.mark.parametrize("size", SIZES)
def test_round_trip_restores_the_plaintext(size: int) -> None:
    plaintext = os.urandom(size)
    assert decrypt(encrypt(plaintext)) == plaintext


@pytest.mark.parametrize("size", SIZES)
def test_plaintext_size_is_computed_from_the_ciphertext_size_alone(size: int) -> None:
    ciphertext = encrypt(os.urandom(size))
    assert plaintext_size(len(ciphertext), read_header(io.BytesIO(ciphertext))) == size


@pytest.mark.parametrize("size", SIZES)
def test_ciphertext_size_is_header_plus_plaintext_plus_a_tag_per_segment(size: int) -> None:
    ciphertext = encrypt(os.urandom(size), key_id="run-1")
    assert len(ciphertext) == 50 + len("run-1") + size + 16 * max(1, -(-size // S))


@pytest.mark.parametrize("size", [2 * DEFAULT_SEGMENT_SIZE, 3 * DEFAULT_SEGMENT_SIZE + 5])
def test_round_trip_at_the_default_segment_size(size: int) -> None:
    plaintext = os.urandom(size)
    out = io.BytesIO()
    encrypt_stream(io.BytesIO(plaintext), out, KEY, "run-1")
    assert read_header(io.BytesIO(out.getvalue())).segment_size == DEFAULT_SEGMENT_SIZE
    assert decrypt(out.getvalue()) == plaintext


def test_writer_fed_in_uneven_chunks_decrypts_to_the_same_plaintext() -> None:
    plaintext, rng, out = os.urandom(5 * S + 7), random.Random(7), io.BytesIO()
    with EncryptingWriter(out, KEY, "run-1", S) as writer:
        offset = 0
        while offset < len(plaintext):
            step = rng.choice([1, 100, S - 1, S, S + 1, 3 * S])
            writer.write(plaintext[offset : offset + step])
            offset += step
    assert writer.bytes_written == len(out.getvalue())
    assert decrypt(out.getvalue()) == plaintext


def test_decrypt_segments_yields_one_plaintext_segment_at_a_time() -> None:
    plaintext = os.urandom(2 * S + 10)
    parts = list(decrypt_segments(io.BytesIO(encrypt(plaintext)), KEY))
    assert [len(p) for p in parts] == [S, S, 10]
    assert b"".join(parts) == plaintext


class Trickle:
    """A socket-like source: at most 1000 bytes per read, and no readinto."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self._data.read(min(size, 1000))


def test_short_reads_from_a_socket_like_source_are_waited_out() -> None:
    plaintext = os.urandom(3 * S + 5)
    ciphertext = io.BytesIO()
    encrypt_stream(Trickle(plaintext), ciphertext, KEY, "run-1", S)  # type: ignore[arg-type]
    parts = decrypt_segments(Trickle(ciphertext.getvalue()), KEY)  # type: ignore[arg-type]
    assert b"".join(parts) == plaintext


# Compatibility: a decryptor and an encryptor written from the spec alone

INFO = b"mlflow-compliance artifact v1 AES-256-GCM-HKDF-SHA256"
VECTOR = (  # docs/encryption-format.md, "Test vector"
    "4d4c43450101000010000572756e2d31202122232425262728292a2b2c2d2e2f303132333435363738393a3b"
    "3c3d3e3f404142434445461db2f217333a92fab371e6ab405e39f3c11fbb732c75fab8673b32fcc9d4cd"
)


def encrypt_by_the_spec(
    plaintext: bytes,
    key_id: bytes = b"run-1",
    size: int = S,
    salt: bytes | None = None,
    prefix: bytes | None = None,
    empty_final_segment: bool = False,  # what the spec forbids after a full one
) -> bytes:
    salt, prefix = salt or os.urandom(32), prefix or os.urandom(7)
    header = b"MLCE" + struct.pack(">BBIB", 1, 1, size, len(key_id)) + key_id + salt + prefix
    aead = AESGCM(HKDF(hashes.SHA256(), 32, salt, INFO).derive(KEY))
    pieces = [plaintext[i : i + size] for i in range(0, len(plaintext), size)] or [b""]
    pieces += [b""] if empty_final_segment else []
    return header + b"".join(
        aead.encrypt(prefix + struct.pack(">IB", i, i == len(pieces) - 1), piece, header)
        for i, piece in enumerate(pieces)
    )


def decrypt_by_the_spec(ciphertext: bytes) -> bytes:
    magic, version, algorithm, size, name_size = struct.unpack(">4sBBIB", ciphertext[:11])
    assert (magic, version, algorithm) == (b"MLCE", 1, 1)
    header, body = ciphertext[: 50 + name_size], ciphertext[50 + name_size :]
    salt, prefix = header[11 + name_size : 43 + name_size], header[43 + name_size :]
    aead = AESGCM(HKDF(hashes.SHA256(), 32, salt, INFO).derive(KEY))
    pieces = [body[i : i + size + 16] for i in range(0, len(body), size + 16)]
    return b"".join(
        aead.decrypt(prefix + struct.pack(">IB", i, i == len(pieces) - 1), piece, header)
        for i, piece in enumerate(pieces)
    )


@pytest.mark.parametrize("size", SIZES)
def test_our_files_decrypt_with_a_decryptor_written_from_the_spec(size: int) -> None:
    plaintext = os.urandom(size)
    assert decrypt_by_the_spec(encrypt(plaintext)) == plaintext


@pytest.mark.parametrize("size", SIZES)
def test_files_written_from_the_spec_decrypt_with_ours(size: int) -> None:
    plaintext = os.urandom(size)
    assert decrypt(encrypt_by_the_spec(plaintext)) == plaintext


def test_an_empty_final_segment_after_a_full_one_is_rejected() -> None:
    ciphertext = encrypt_by_the_spec(os.urandom(2 * S), empty_final_segment=True)
    with fails("segment 2 is empty"):
        decrypt(ciphertext)
    with fails(f"impossible ciphertext size {len(ciphertext)}"):
        plaintext_size(len(ciphertext), read_header(io.BytesIO(ciphertext)))


def test_the_published_test_vector_decrypts() -> None:
    salt, prefix = bytes(range(32, 64)), bytes(range(64, 71))
    vector = encrypt_by_the_spec(b"hello, artifact", b"run-1", S, salt, prefix)
    assert vector.hex() == VECTOR
    assert decrypt(vector) == b"hello, artifact"
    spec = (Path(__file__).parent.parent / "docs" / "encryption-format.md").read_text()
    assert VECTOR in "".join(spec.split())  # the hex, wrapped over lines


# Confidentiality and the header


def test_ciphertext_contains_no_plaintext() -> None:
    marker = b"PERSONAL-DATA-MARKER"
    ciphertext = encrypt(marker * 1000)
    assert marker not in ciphertext
    assert marker[:8] not in ciphertext


def test_two_encryptions_of_the_same_data_differ() -> None:
    plaintext = os.urandom(2 * S)
    first, second = encrypt(plaintext), encrypt(plaintext)
    assert first != second
    one, two = read_header(io.BytesIO(first)), read_header(io.BytesIO(second))
    assert one.salt != two.salt
    assert one.nonce_prefix != two.nonce_prefix


def test_read_header_names_the_key_before_anything_is_decrypted() -> None:
    src = io.BytesIO(encrypt(b"model weights", key_id="run-9f3c/dataset-ü"))
    header = read_header(src)
    assert (header.version, header.algorithm, header.segment_size) == (1, 1, S)
    assert header.key_id == "run-9f3c/dataset-ü"
    assert (len(header.salt), len(header.nonce_prefix)) == (32, 7)
    assert header.size == src.tell() == 50 + len("run-9f3c/dataset-ü".encode())
    assert b"".join(decrypt_segments(src, KEY, header)) == b"model weights"


# Tampering: every case raises the one error


def test_flipping_any_byte_anywhere_is_detected() -> None:
    ciphertext = encrypt(os.urandom(2 * S + 100))
    for offset in range(len(ciphertext)):
        with pytest.raises(UntrustedCiphertext):
            decrypt(flip(ciphertext, offset, 1 << (offset % 8)))


@pytest.mark.parametrize(
    ("offset", "value", "message"),
    [
        (0, b"X", "not an encrypted artifact (bad magic)"),
        (4, b"\x07", "unsupported format version 7"),
        (5, b"\x09", "unsupported algorithm 9"),
        (6, b"\xff", f"segment size {0xFF001000} out of range"),
        (9, b"\x01", "segment 0 failed authentication"),  # 4096 -> 4097
        (10, b"\x00", "empty key id"),
        (10, b"\x04", "segment 0 failed authentication"),  # shorter key id
        (11, b"\xff", "key id is not UTF-8"),
        (11, b"R", "segment 0 failed authentication"),  # another key id
        (20, b"\x00", "segment 0 failed authentication"),  # salt
        (54, b"\x00", "segment 0 failed authentication"),  # nonce prefix (last byte)
    ],
)
def test_every_header_field_edit_is_detected(offset: int, value: bytes, message: str) -> None:
    ciphertext = encrypt(os.urandom(S + 1), key_id="run-1")  # header: 55 bytes
    edited = ciphertext[:offset] + value + ciphertext[offset + 1 :]
    assert edited != ciphertext
    with fails(message):
        decrypt(edited)


def test_a_key_id_renamed_in_a_rebuilt_header_is_detected() -> None:
    header, body = segments(encrypt(os.urandom(S + 1), key_id="run-1"))
    renamed = header[:10] + bytes([6]) + b"run-22" + header[15:]
    with fails("segment 0 failed authentication"):
        decrypt(renamed + b"".join(body))


def test_a_flipped_byte_in_a_middle_segment_is_named_by_index() -> None:
    header, body = segments(encrypt(os.urandom(3 * S + 1)))
    body[2] = flip(body[2], 100)
    with fails("segment 2 failed authentication"):
        decrypt(header + b"".join(body))


def test_a_flipped_bit_in_the_last_tag_is_detected() -> None:
    ciphertext = encrypt(os.urandom(3 * S + 1))
    with fails("segment 3 failed authentication"):
        decrypt(flip(ciphertext, len(ciphertext) - 1, 0x80))


def test_segments_before_a_tampered_one_are_yielded_then_it_raises() -> None:
    plaintext = os.urandom(4 * S)
    header, body = segments(encrypt(plaintext))
    body[2] = flip(body[2], 0)
    parts = decrypt_segments(io.BytesIO(header + b"".join(body)), KEY)
    assert [next(parts), next(parts)] == [plaintext[:S], plaintext[S : 2 * S]]
    with fails("segment 2 failed authentication"):
        next(parts)


def test_truncation_at_any_byte_is_detected() -> None:
    ciphertext = encrypt(os.urandom(2 * S + 100))
    for length in range(len(ciphertext)):
        with pytest.raises(UntrustedCiphertext):
            decrypt(ciphertext[:length])


@pytest.mark.parametrize("plaintext_size", [3 * S, 3 * S + 100])
def test_truncation_at_every_segment_boundary_reports_no_final_segment(
    plaintext_size: int,
) -> None:
    header, body = segments(encrypt(os.urandom(plaintext_size)))
    for kept in range(len(body)):  # kept = 0 is the header alone
        with fails("truncated: no final segment"):
            decrypt(header + b"".join(body[:kept]))


def test_truncation_inside_a_segment_names_that_segment() -> None:
    header, body = segments(encrypt(os.urandom(3 * S)))
    cut = header + b"".join(body[:1]) + body[1][: S // 2]
    with fails("segment 1 failed authentication"):
        decrypt(cut)


def test_truncation_inside_the_header_is_detected() -> None:
    ciphertext = encrypt(b"x")
    for length in (0, 5, 11, 30):
        with fails("truncated header"):
            decrypt(ciphertext[:length])


def test_swapped_segments_are_detected() -> None:
    header, body = segments(encrypt(os.urandom(3 * S + 1)))
    body[0], body[1] = body[1], body[0]
    with fails("segment 0 failed authentication"):
        decrypt(header + b"".join(body))


def test_a_duplicated_segment_is_detected() -> None:
    header, body = segments(encrypt(os.urandom(3 * S + 1)))
    body.insert(2, body[1])
    with fails("segment 2 failed authentication"):
        decrypt(header + b"".join(body))


def test_a_segment_from_another_file_under_the_same_key_is_detected() -> None:
    header, body = segments(encrypt(os.urandom(3 * S + 1)))
    _, other = segments(encrypt(os.urandom(3 * S + 1)))
    body[1] = other[1]
    with fails("segment 1 failed authentication"):
        decrypt(header + b"".join(body))


def test_dropping_a_short_final_segment_is_detected() -> None:
    header, body = segments(encrypt(os.urandom(2 * S + 1)))
    with fails("truncated: no final segment"):
        decrypt(header + b"".join(body[:-1]))


@pytest.mark.parametrize("extra", APPENDED, ids=["1 byte", "16 bytes", "a segment"])
def test_data_appended_after_a_full_final_segment_is_reported(extra: bytes) -> None:
    ciphertext = encrypt(os.urandom(2 * S))
    with fails("data after the final segment"):
        decrypt(ciphertext + extra)


@pytest.mark.parametrize("extra", APPENDED, ids=["1 byte", "16 bytes", "a segment"])
def test_data_appended_after_a_short_final_segment_is_detected(extra: bytes) -> None:
    ciphertext = encrypt(os.urandom(2 * S + 10))
    with fails("segment 2 failed authentication"):
        decrypt(ciphertext + extra)


def test_a_whole_valid_file_appended_is_detected() -> None:
    with fails("data after the final segment"):
        decrypt(encrypt(os.urandom(S)) + encrypt(os.urandom(S)))


def test_the_wrong_key_fails_at_segment_0() -> None:
    ciphertext = encrypt(os.urandom(S))
    with fails("segment 0 failed authentication"):
        decrypt(ciphertext, key=bytes(32))


def test_an_empty_file_under_the_wrong_key_is_detected() -> None:
    with fails("segment 0 failed authentication"):
        decrypt(encrypt(b""), key=bytes(32))


def test_a_plain_file_is_not_an_encrypted_artifact() -> None:
    with fails("not an encrypted artifact (bad magic)"):
        decrypt(b"weights,bias\n0.1,0.2\n" * 10)


def test_a_writer_leaving_with_an_exception_writes_no_final_segment() -> None:
    out = io.BytesIO()
    with pytest.raises(RuntimeError), EncryptingWriter(out, KEY, "run-1", S) as writer:
        writer.write(os.urandom(2 * S))
        raise RuntimeError("upload interrupted")
    with fails("truncated: no final segment"):
        decrypt(out.getvalue())


@pytest.mark.parametrize(
    "size", [0, 15, FULL + 16, 2 * FULL + 16, 2 * FULL + 5, (1 << 32) * FULL + 17]
)
def test_plaintext_size_rejects_impossible_ciphertext_sizes(size: int) -> None:
    header = Header.new("run-1", S)
    with fails(f"impossible ciphertext size {header.size + size}"):
        plaintext_size(header.size + size, header)


# Usage errors are ValueError, not integrity failures


@pytest.mark.parametrize("length", [0, 16, 31, 33, 64])
def test_keys_must_be_exactly_32_bytes(length: int) -> None:
    with pytest.raises(ValueError, match=f"data key must be 32 bytes, not {length}$"):
        encrypt(b"x", key=bytes(length))
    with pytest.raises(ValueError, match=f"data key must be 32 bytes, not {length}$"):
        decrypt(encrypt(b"x"), key=bytes(length))


@pytest.mark.parametrize("key_id", ["", "k" * 256, "é" * 128])
def test_key_ids_must_be_1_to_255_utf8_bytes(key_id: str) -> None:
    with pytest.raises(ValueError, match="key id must be 1 to 255 bytes"):
        encrypt(b"x", key_id=key_id)


@pytest.mark.parametrize("size", [0, 4095, (64 << 20) + 1])
def test_segment_size_must_be_4_kib_to_64_mib(size: int) -> None:
    with pytest.raises(ValueError, match=f"segment size {size} is not within"):
        encrypt(b"x", size=size)


def test_writing_after_close_is_refused() -> None:
    writer = EncryptingWriter(io.BytesIO(), KEY, "run-1", S)
    writer.close()
    with pytest.raises(ValueError, match="closed"):
        writer.write(b"more")


# Constant memory


class Pattern(io.RawIOBase):
    """``size`` bytes made up on demand, so the source itself takes no memory."""

    def __init__(self, size: int) -> None:
        self._left, self._block = size, hashlib.sha256(b"block").digest() * 4096

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), self._left, len(self._block))
        buffer[:n] = self._block[:n]
        self._left -= n
        return n


def peak_memory_of_a_round_trip(size: int, folder: Path) -> int:
    tracemalloc.start()
    try:
        with open(folder / "artifact.enc", "wb") as dst:
            encrypt_stream(Pattern(size), dst, KEY, "run-1")  # type: ignore[arg-type]
        total = 0
        with open(folder / "artifact.enc", "rb") as src:
            for part in decrypt_segments(src, KEY):
                total += len(part)
        assert total == size
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_stays_flat_from_8_to_64_mib(tmp_path: Path) -> None:
    small = peak_memory_of_a_round_trip(8 << 20, tmp_path)
    large = peak_memory_of_a_round_trip(64 << 20, tmp_path)
    assert large < 4 * DEFAULT_SEGMENT_SIZE + (1 << 20)
    assert abs(large - small) < 256 << 10, (small, large)
