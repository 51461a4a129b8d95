"""The encrypting artifact repository: scheme ``encrypted+<inner>`` around any MLflow one.

``encrypted+file:///srv/artifacts`` wraps the local folder, ``encrypted+s3://bucket/path``
an S3 bucket. Registered in the ``mlflow.artifact_repository`` entry point group; the
compliance server points ``--artifacts-destination`` at it.

By composition, not subclassing (DESIGN.md): the inner repository only ever sees
ciphertext and never serves a file itself (``get_local_path`` is None, so MLflow streams
what ``download_artifacts`` decrypted), and it is no multipart or presigned mixin, so
MLflow keeps direct transfers to storage off. Names stay plaintext; each file's bytes
are sealed with its scope's data key (docs/encryption-format.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import posixpath
import shutil
import tempfile
from collections.abc import AsyncIterable, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import BinaryIO, cast

from mlflow.entities import FileInfo
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import (
    DATA_LOSS,
    INVALID_PARAMETER_VALUE,
    RESOURCE_DOES_NOT_EXIST,
    TEMPORARILY_UNAVAILABLE,
)
from mlflow.store.artifact.artifact_repo import ArtifactRepository, StreamUploadMixin
from mlflow.store.artifact.local_artifact_repo import LocalArtifactRepository
from mlflow.utils.uri import validate_path_is_safe, validate_path_within_directory

from mlflow_compliance.encryption.errors import UntrustedCiphertext
from mlflow_compliance.encryption.keys.errors import (
    ArtifactErased,
    KeyFileMissing,
    KeyringError,
    KeyServiceUnreachable,
)
from mlflow_compliance.encryption.keys.keyring import Keyring
from mlflow_compliance.encryption.keys.store import new_data_key_id
from mlflow_compliance.encryption.scope import SCHEME_PREFIX, scope_of
from mlflow_compliance.encryption.stream import (
    DEFAULT_SEGMENT_SIZE,
    EncryptingWriter,
    decrypt_segments,
    decrypt_whole,
    header_size,
    plaintext_size,
    plaintext_size_for,
    read_header,
)

STAGING_PREFIX = ".artifact.uploading."  # what MLflow's local listing already hides
_HEADER_SIZE = header_size(len(new_data_key_id()))


def inner_uri(artifact_uri: str) -> str:
    """``encrypted+s3://b/p`` -> ``s3://b/p``; ``encrypted+file:///x`` -> ``file:///x``."""
    if not artifact_uri.startswith(SCHEME_PREFIX):
        raise MlflowException(
            f"artifact URI {artifact_uri!r} does not start with {SCHEME_PREFIX!r}",
            error_code=INVALID_PARAMETER_VALUE,
        )
    return artifact_uri[len(SCHEME_PREFIX) :]


def problem(path: str, error: Exception) -> MlflowException:
    """MLflow's error shape for a key or integrity failure: one line, naming the artifact."""
    if isinstance(error, UntrustedCiphertext):
        return MlflowException(
            f"artifact {path} cannot be trusted and is not served: {error}", error_code=DATA_LOSS
        )
    if isinstance(error, ArtifactErased):
        return MlflowException(f"artifact {path} is {error}", error_code=RESOURCE_DOES_NOT_EXIST)
    if isinstance(error, KeyFileMissing | KeyServiceUnreachable):
        return MlflowException(
            f"artifact {path} cannot be decrypted now: {error}", error_code=TEMPORARILY_UNAVAILABLE
        )
    return MlflowException(f"artifact {path} cannot be decrypted: {error}", error_code=DATA_LOSS)


@dataclass
class OpenArtifact:
    """An artifact whose header was read and whose key was found: ready to stream."""

    path: str
    size: int
    _source: BinaryIO
    _segments: Iterator[bytes]

    def chunks(self) -> Iterator[bytes]:
        """Authentic plaintext, segment by segment. An integrity failure raises mid-way:
        whoever streams it on must abort, never end the response normally."""
        try:
            yield from self._segments
        except UntrustedCiphertext as error:
            raise problem(self.path, error) from None
        finally:
            self._source.close()

    def close(self) -> None:
        self._source.close()


@dataclass
class StagedFile:
    """A file written whole beside where it goes, not yet visible there: ``publish``
    replaces the artifact atomically (a rename on a folder, one PUT on S3), ``discard``
    leaves nothing behind. ``sha256`` is of the bytes stored (the ciphertext)."""

    path: str
    sha256: str
    size: int
    _local: str
    _publish: Callable[[str], None]
    _scratch: str | None = None
    _done: bool = field(default=False)

    def publish(self) -> None:
        if self._done:
            raise RuntimeError(f"{self.path}: already published or discarded")
        try:
            self._publish(self._local)
        finally:
            self.discard()

    def discard(self) -> None:
        self._done = True
        with contextlib.suppress(FileNotFoundError):
            os.remove(self._local)
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)


class _Hashing:
    """A file that hashes what is written to it. The hashing runs in a thread of its
    own, beside the encryption that writes (hashlib releases the GIL on large pieces):
    an erasure's rewrite then costs little more than the encryption alone."""

    def __init__(self, file: BinaryIO) -> None:
        self.file, self.hash, self.size = file, hashlib.sha256(), 0
        self._hasher = ThreadPoolExecutor(1, thread_name_prefix="sha256")  # in order

    def write(self, data: bytes | bytearray | memoryview) -> int:
        piece = bytes(data)  # the writer reuses its buffer for the next segment
        self._hasher.submit(self.hash.update, piece)
        self.size += len(piece)
        return self.file.write(piece)

    def hexdigest(self) -> str:
        """The SHA-256 of everything written; waits for the hashing to finish."""
        self._hasher.shutdown(wait=True)
        return self.hash.hexdigest()

    def close(self) -> None:
        self._hasher.shutdown(wait=True)


def stage_into(inner: ArtifactRepository, folder: str | None, path: str,
               fill: Callable[[BinaryIO], None]) -> StagedFile:
    """Write the file ``path`` (relative to the repository) with ``fill`` into a staging
    file: in the target folder itself for a local ``folder`` (hidden by MLflow's local
    listing, renamed into place), else in a scratch folder to upload from."""
    path = validate_path_is_safe(path)
    directory, name = posixpath.split(path)
    scratch = None
    if folder is not None:
        target = os.path.join(folder, os.path.normpath(path))
        validate_path_within_directory(folder, target)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        descriptor, local = tempfile.mkstemp(dir=os.path.dirname(target), prefix=STAGING_PREFIX)

        def publish(staged: str) -> None:
            os.replace(staged, target)
    else:
        scratch = tempfile.mkdtemp()
        local = os.path.join(scratch, name)
        descriptor = os.open(local, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)

        def publish(staged: str) -> None:
            inner.log_artifact(staged, directory or None)
    try:
        with os.fdopen(descriptor, "wb") as file:
            hashing = _Hashing(file)
            try:
                fill(hashing)  # type: ignore[arg-type]
            finally:
                hashing.close()
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(local)
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
        raise
    return StagedFile(path, hashing.hexdigest(), hashing.size, local, publish, scratch)


class EncryptedArtifactRepository(ArtifactRepository, StreamUploadMixin):
    """Any artifact repository, with every file encrypted under its scope's data key."""

    def __init__(
        self,
        artifact_uri: str,
        tracking_uri: str | None = None,
        registry_uri: str | None = None,
        keyring: Keyring | None = None,
    ) -> None:
        # Imported here: MLflow's registry loads this module while it is being imported.
        from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

        super().__init__(artifact_uri, tracking_uri, registry_uri)
        self.inner = get_artifact_repository(inner_uri(artifact_uri))
        if keyring is None:
            from mlflow_compliance.encryption.keys.configure import server_keyring

            keyring = server_keyring()
        self.keyring = keyring
        self._folder = (
            self.inner.artifact_dir if isinstance(self.inner, LocalArtifactRepository) else None
        )
        self._scope_prefix = _scope_prefix(artifact_uri)

    # --- writing ------------------------------------------------------------------

    def log_artifact(self, local_file: str, artifact_path: str | None = None) -> None:
        with open(local_file, "rb") as source:
            self.log_artifact_from_stream(source, os.path.basename(local_file), artifact_path)

    def log_artifacts(self, local_dir: str, artifact_path: str | None = None) -> None:
        for folder, _, names in os.walk(local_dir):
            relative = os.path.relpath(folder, local_dir)
            parts = [artifact_path or "", "" if relative == "." else relative]
            destination = posixpath.join(*(p.replace(os.sep, "/") for p in parts)) or None
            for name in sorted(names):
                self.log_artifact(os.path.join(folder, name), destination)

    def log_artifact_from_stream(
        self, stream: BinaryIO, artifact_file_name: str, artifact_path: str | None = None
    ) -> None:
        with self._staged(artifact_file_name, artifact_path) as writer:
            writer.write_from(stream)

    async def log_artifact_from_async_stream(
        self,
        chunks: AsyncIterable[bytes],
        artifact_file_name: str,
        artifact_path: str | None = None,
    ) -> None:
        staged = self._staged(artifact_file_name, artifact_path)
        writer = await asyncio.to_thread(staged.__enter__)

        def write(pieces: list[bytes]) -> None:
            for piece in pieces:
                writer.write(piece)

        try:
            # The server hands over small pieces; one thread hop per segment's worth.
            pending: list[bytes] = []
            size = 0
            async for chunk in chunks:
                pending.append(chunk)
                size += len(chunk)
                if size >= DEFAULT_SEGMENT_SIZE:
                    await asyncio.to_thread(write, pending)
                    pending, size = [], 0
            await asyncio.to_thread(write, pending)
        except BaseException as error:
            await asyncio.to_thread(staged.__exit__, type(error), error, error.__traceback__)
            raise
        await asyncio.to_thread(staged.__exit__, None, None, None)

    @contextlib.contextmanager
    def _staged(self, name: str, artifact_path: str | None) -> Iterator[EncryptingWriter]:
        """An encrypting writer for the file ``artifact_path/name``; published whole when
        the block ends, nothing left behind when it fails."""
        name = os.path.basename(name)
        path = posixpath.join(artifact_path or "", name)
        validate_path_is_safe(path)
        try:
            key_id, key = self.keyring.key_for_writing(scope_of(self._scope_prefix + path))
        except KeyringError as error:
            raise problem(path, error) from None
        if self._folder is not None:
            folder = os.path.join(self._folder, os.path.normpath(artifact_path or "."))
            validate_path_within_directory(self._folder, folder)
            os.makedirs(folder, exist_ok=True)
            descriptor, staging = tempfile.mkstemp(dir=folder, prefix=STAGING_PREFIX)
            try:
                with os.fdopen(descriptor, "wb") as file:
                    writer = EncryptingWriter(file, key, key_id)
                    yield writer
                    writer.close()
                os.replace(staging, os.path.join(folder, name))
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(staging)
                raise
            return
        with tempfile.TemporaryDirectory() as scratch:
            staging = os.path.join(scratch, name)
            with open(staging, "wb") as file:
                writer = EncryptingWriter(file, key, key_id)
                yield writer
                writer.close()
            self.inner.log_artifact(staging, artifact_path)

    def stage_with_key(self, path: str,
                       data: bytes | Sequence[bytes | memoryview] | BinaryIO,
                       key_id: str, key: bytes) -> StagedFile:
        """The file ``path`` encrypted under the GIVEN data key (not its scope's current
        one), staged: nothing is visible until ``publish``. An erasure stages every file
        of a dataset under a new key before any is replaced (GDPR Art. 17(1))."""

        def fill(file: BinaryIO) -> None:
            writer = EncryptingWriter(file, key, key_id)
            if isinstance(data, bytes | bytearray | memoryview):
                writer.write(data)
            elif isinstance(data, tuple | list):
                for piece in data:  # consecutive pieces of one file, e.g. rows.Split
                    writer.write(piece)
            else:
                writer.write_from(cast(BinaryIO, data))
            writer.close()

        return stage_into(self.inner, self._folder, path, fill)

    def write_with_key(self, path: str, data: bytes | BinaryIO, key_id: str,
                       key: bytes) -> str:
        """Replace ``path`` atomically with ``data`` encrypted under the given key; the
        SHA-256 of the ciphertext stored."""
        staged = self.stage_with_key(path, data, key_id, key)
        staged.publish()
        return staged.sha256

    def read_with_key_id(self, path: str) -> tuple[bytearray, str]:
        """The whole plaintext of ``path`` and the id of the data key it is under."""
        path = validate_path_is_safe(path)
        source, ciphertext_size = self._open_ciphertext(path)
        try:
            header = read_header(source)
            key = self.keyring.key_for_reading(header.key_id)
            size = plaintext_size(ciphertext_size, header)
            return decrypt_whole(source, key, header, size), header.key_id
        except (UntrustedCiphertext, KeyringError) as error:
            raise problem(path, error) from None
        finally:
            source.close()

    # --- reading ------------------------------------------------------------------

    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        """The inner listing, with plaintext sizes (computed, no file is read)."""
        infos = []
        for info in self.inner.list_artifacts(path):
            if info.is_dir or info.file_size is None:
                infos.append(info)
                continue
            try:
                size: int | None = plaintext_size_for(
                    info.file_size, _HEADER_SIZE, DEFAULT_SEGMENT_SIZE
                )
            except UntrustedCiphertext:
                size = None  # not a file this repository wrote; reading it will say why
            infos.append(FileInfo(info.path, False, size))
        return infos

    def get_local_path(self, artifact_path: str) -> str | None:
        """Never: the files on disk are ciphertext, MLflow must not serve them as they are."""
        return None

    def download_artifacts(self, artifact_path: str, dst_path: str | None = None) -> str:
        """As MLflow's, but a single file fails with its own one-line error, not MLflow's
        multi-line summary of a folder download."""
        if dst_path is None or self._is_directory(artifact_path):
            return str(super().download_artifacts(artifact_path, dst_path))
        if not os.path.isdir(dst_path):
            return str(super().download_artifacts(artifact_path, dst_path))  # its error
        local = self._create_download_destination(artifact_path, os.path.abspath(dst_path))
        self._download_file(artifact_path, local)
        return str(local)

    def _download_file(self, remote_file_path: str, local_path: str) -> None:
        artifact = self.open_artifact(remote_file_path)
        partial = f"{local_path}.partial"
        try:
            with open(partial, "wb") as destination:
                for chunk in artifact.chunks():
                    destination.write(chunk)
            os.replace(partial, local_path)
        finally:
            artifact.close()
            with contextlib.suppress(FileNotFoundError):
                os.remove(partial)

    def open_artifact(self, path: str) -> OpenArtifact:
        """Open ``path`` for streaming: its header is read and its data key found now, so
        a missing, erased or unreadable artifact fails before any byte is sent."""
        path = validate_path_is_safe(path)
        source, ciphertext_size = self._open_ciphertext(path)
        try:
            header = read_header(source)
            key = self.keyring.key_for_reading(header.key_id)
            size = plaintext_size(ciphertext_size, header)
        except (UntrustedCiphertext, KeyringError) as error:
            source.close()
            raise problem(path, error) from None
        except BaseException:
            source.close()
            raise
        return OpenArtifact(path, size, source, decrypt_segments(source, key, header))

    def _open_ciphertext(self, path: str) -> tuple[BinaryIO, int]:
        if self._folder is not None:
            local = os.path.join(self._folder, os.path.normpath(path))
            validate_path_within_directory(self._folder, local)
            if not os.path.isfile(local):
                raise MlflowException(
                    f"No such artifact: '{path}'", error_code=RESOURCE_DOES_NOT_EXIST
                )
            source = open(local, "rb")  # noqa: SIM115 - closed by OpenArtifact
            return source, os.fstat(source.fileno()).st_size
        # Elsewhere (S3, ...): fetch the ciphertext to an unlinked scratch file.
        scratch = tempfile.mkdtemp()
        try:
            local = os.path.join(scratch, "ciphertext")
            self.inner._download_file(path, local)
            source = open(local, "rb")  # noqa: SIM115 - closed by OpenArtifact
            os.remove(local)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return source, os.fstat(source.fileno()).st_size

    # --- deleting -----------------------------------------------------------------

    def delete_artifacts(self, artifact_path: str | None = None) -> None:
        """Really delete (the base class silently does nothing)."""
        self.inner.delete_artifacts(artifact_path)


def _scope_prefix(artifact_uri: str) -> str:
    """Where this repository sits below the server's artifact root, for data-key scopes."""
    from mlflow.server import ARTIFACTS_DESTINATION_ENV_VAR

    root = os.environ.get(ARTIFACTS_DESTINATION_ENV_VAR, "").rstrip("/")
    if root and artifact_uri.startswith(root + "/"):
        return artifact_uri[len(root) + 1 :].rstrip("/") + "/"
    return ""


__all__ = ["SCHEME_PREFIX", "EncryptedArtifactRepository", "OpenArtifact", "StagedFile",
           "inner_uri",
           "stage_into"]
