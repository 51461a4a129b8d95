"""The dataset files of one place, rewritten without the person's rows.

On an encrypting repository every file of the dataset's folder is rewritten under a
NEW data key: those holding the person without their rows, the others unchanged; then,
in one transaction, the folder's old key is shredded and the new one takes its scope
(``Keyring.replace``). Old copies of the files (backups, object versions) were sealed
under the old key: from then on nothing decrypts them (crypto-shredding; GDPR Art.
17(1), and Art. 32(1)(a) for the encryption itself).

The work is in three steps, so that nothing is changed until every file was read and
understood: ``prepare`` reads, splits and stages every file (a format it cannot search
fails here, naming the file, and the staged files are thrown away), ``publish`` puts
them in place (each an atomic replace: a rename, or one PUT), ``swap`` shreds the old
key. A crash between publish and swap leaves every file readable (they name the new key,
which is live) and the old key live too: the erasure is then simply not done, and no
certificate says it is.

Without encryption (a plain ``file://`` or ``s3://`` destination) the files holding the
person are replaced in place and nothing can be shredded: copies in backups keep the
rows, which the certificate says.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Any, BinaryIO, cast

from mlflow.store.artifact.artifact_repo import ArtifactRepository
from mlflow.store.artifact.local_artifact_repo import LocalArtifactRepository

from mlflow_compliance.encryption.keys.keyring import Keyring
from mlflow_compliance.encryption.repository import (
    EncryptedArtifactRepository,
    StagedFile,
    stage_into,
)
from mlflow_compliance.encryption.scope import dataset_scope
from mlflow_compliance.subjects.dataset_files import read_whole
from mlflow_compliance.subjects.erasure.plan import Place
from mlflow_compliance.subjects.rows import split_person


@dataclass
class FileDone:
    path: str
    rows_removed: int
    sha256: str

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "rows_removed": self.rows_removed, "sha256": self.sha256}


@dataclass
class FolderRewrite:
    """One place's files, staged; then published; then its old key shredded."""

    place: Place
    scope: str
    pending_id: str | None = None
    staged: list[tuple[StagedFile, int]] = field(default_factory=list)
    old_keys: set[str] = field(default_factory=set)
    shredded: list[str] = field(default_factory=list)
    published: bool = False

    @property
    def files(self) -> list[FileDone]:
        return [FileDone(s.path, removed, s.sha256) for s, removed in self.staged]

    @property
    def rows_removed(self) -> int:
        return sum(removed for _, removed in self.staged)

    def unshredded(self) -> list[str]:
        """Keys the old files were under that this rewrite did not shred (shared with
        other artifacts, e.g. a run-wide key of files written before per-dataset keys)."""
        return sorted(self.old_keys - set(self.shredded) - {self.pending_id or ""})


class Rewriter:
    """Rewrites places of one artifact repository, as ``by``."""

    def __init__(self, repository: ArtifactRepository, keyring: Keyring | None,
                 by: str) -> None:
        self.repository, self.by = repository, by
        self.encrypted = isinstance(repository, EncryptedArtifactRepository)
        self.keyring = keyring if keyring is not None else (
            repository.keyring if isinstance(repository, EncryptedArtifactRepository) else None)

    def reserve(self, places: list[Place]) -> list[tuple[str, bytes] | None]:
        """New (pending) data keys for the places' folders, stored in one transaction;
        for :meth:`prepare`. None for each place when the artifacts are not encrypted."""
        if not self.encrypted or self.keyring is None or not places:
            return [None] * len(places)
        scopes = [dataset_scope(p.run_id, p.dataset_name) for p in places]
        return list(self.keyring.pending_keys(scopes))

    def prepare(self, place: Place, subject_id: str,
                reserved: tuple[str, bytes] | None = None) -> FolderRewrite:
        """Read, split and stage every file of the place (under ``reserved``, a key from
        :meth:`reserve`, or a new one); UnsupportedFormat (naming the file) or any read
        failure discards what was staged and changes nothing."""
        work = FolderRewrite(place, dataset_scope(place.run_id, place.dataset_name))
        try:
            key: bytes | None = None
            if reserved is not None:
                work.pending_id, key = reserved
            elif self.encrypted:
                assert self.keyring is not None
                work.pending_id, key = self.keyring.pending_key(work.scope)
            for path in place.files:
                data, key_id = self._read(path)
                if key_id:
                    work.old_keys.add(key_id)
                # a bytearray (decrypted in place) reads like bytes: find, count, decode
                split = split_person(posixpath.basename(path), cast(bytes, data),
                                     place.columns, subject_id)
                if key is not None and work.pending_id is not None:
                    repo: Any = self.repository
                    staged = repo.stage_with_key(path, split.pieces, work.pending_id, key)
                elif split.removed:
                    staged = self._stage_plain(path, split.kept)
                else:
                    continue  # unencrypted and without the person: left as it is
                work.staged.append((staged, len(split.removed)))
        except BaseException:
            self.discard(work)
            raise
        return work

    def publish(self, work: FolderRewrite) -> None:
        """Put every staged file in place (each replace atomic)."""
        for staged, _ in work.staged:
            staged.publish()
        work.published = True

    def swap(self, works: list[FolderRewrite]) -> None:
        """Shred the folders' old keys; the new ones take their scopes (one transaction
        for all of them)."""
        pending = [w for w in works if w.pending_id is not None]
        if self.keyring is None or not pending:
            return
        olds = self.keyring.replace_all([(w.scope, str(w.pending_id)) for w in pending],
                                        self.by)
        for work, old in zip(pending, olds, strict=True):
            work.shredded = [old] if old else []

    def discard(self, work: FolderRewrite) -> None:
        """Throw away what ``prepare`` staged (only before ``publish``)."""
        for staged, _ in work.staged:
            staged.discard()
        if self.keyring is not None and work.pending_id is not None and not work.published:
            self.keyring.discard_pending(work.scope, work.pending_id)

    def _read(self, path: str) -> tuple[bytes | bytearray, str | None]:
        if isinstance(self.repository, EncryptedArtifactRepository):
            return self.repository.read_with_key_id(path)
        return read_whole(self.repository, path), None

    def _stage_plain(self, path: str, data: bytes) -> StagedFile:
        folder = (self.repository.artifact_dir
                  if isinstance(self.repository, LocalArtifactRepository) else None)

        def fill(file: BinaryIO) -> None:
            file.write(data)

        return stage_into(self.repository, folder, path, fill)
