"""One person's erasure, in an order that fails safe (GDPR Art. 17(1), 17(3), 5(2)).

1. The plan: every place the index finds the person, minus what a legal hold
   withholds (reported with its ground, Art. 17(3)).
2. Every file of every place is read, split and staged: a format that cannot be
   searched fails the whole erasure here, naming the file, before anything changed.
3. The staged files replace the old ones; then each folder's old data key is shredded.
4. MLflow's records of the datasets are redacted, the person's index rows deleted, the
   downstream model versions flagged.
5. The certificate is signed and stored.

A crash before 5 leaves every artifact readable and no certificate: the erasure is not
done, and running it again finishes it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mlflow.store.artifact.artifact_repo import ArtifactRepository
from sqlalchemy.engine import Engine

from mlflow_compliance.audit.signing import Signer
from mlflow_compliance.encryption.keys.keyring import Keyring
from mlflow_compliance.encryption.repository import EncryptedArtifactRepository
from mlflow_compliance.encryption.scope import dataset_scope
from mlflow_compliance.retention.holds import LegalHolds
from mlflow_compliance.subjects.dataset_files import dataset_folder, files_in
from mlflow_compliance.subjects.erasure.certificate import Certificates, issued_now, sign
from mlflow_compliance.subjects.erasure.flags import downstream_versions, flag
from mlflow_compliance.subjects.erasure.plan import (
    Place,
    Plan,
    Withheld,
    places_of,
    source_outside,
)
from mlflow_compliance.subjects.erasure.records import (
    dataset_sources,
    delete_index_rows,
    redact,
    redacted,
)
from mlflow_compliance.subjects.erasure.rewrite import FolderRewrite, Rewriter
from mlflow_compliance.subjects.index import SubjectIndex
from mlflow_compliance.subjects.rows import UnsupportedFormat

NOT_ENCRYPTED = ("no crypto-shredding: artifacts not encrypted; the files were rewritten "
                 "in place, and copies of the old files (backups, object versions) still "
                 "hold the rows")
NOT_LEGAL_ADVICE = "This tool records and checks evidence; it is not legal advice."


class ErasureRefused(Exception):
    """The erasure cannot be done; nothing was changed. The message names why (the
    file, for a format that cannot be searched)."""


@dataclass
class Sources:
    """Where an erasure reads and writes (the server's stores, or a test's)."""

    index: SubjectIndex
    tracking: Engine  # MLflow's tracking database
    repository: ArtifactRepository  # the server's artifact root
    root: str  # its URI, to tell a dataset source outside it
    holds: LegalHolds
    certificates: Certificates
    registry: Any  # MLflow's model registry store: set_model_version_tag
    declared: Any  # (run_id, dataset_name) -> the record's subject-id columns
    keyring: Keyring | None = None


class Erasure:
    def __init__(self, sources: Sources, signer: Signer) -> None:
        self.sources, self.signer = sources, signer

    @property
    def encrypted(self) -> bool:
        return isinstance(self.sources.repository, EncryptedArtifactRepository)

    def plan(self, pseudonym: bytes, subject_id: str) -> Plan:
        """What :meth:`erase` would do; reads only."""
        s = self.sources
        plan = Plan(encrypted=self.encrypted)
        for place in places_of(s.index.find(pseudonym), s.declared):
            names = sorted({n for n, _ in downstream_versions(s.tracking, [place.run_id])})
            holds = s.holds.covering(place.experiment_id, place.run_id, names)
            if holds:
                plan.withheld += [Withheld(place.run_id, place.experiment_id,
                                           place.dataset_name, place.digests, h.id,
                                           h.reason, h.ground) for h in holds]
                continue
            folder = dataset_folder(place.experiment_id, place.run_id, place.dataset_name)
            files = tuple(files_in(s.repository, folder)) if folder else ()
            plan.places.append(Place(**{**place.__dict__, "folder": folder, "files": files}))
            plan.limits += self._limits(place, files, subject_id)
        plan.versions = downstream_versions(s.tracking, plan.run_ids)
        if not self.encrypted and plan.places:
            plan.limits.append(NOT_ENCRYPTED)
        return plan

    def _limits(self, place: Place, files: Sequence[str], subject_id: str) -> list[str]:
        found = []
        where = f"dataset {place.dataset_name} of run {place.run_id}"
        if not files:
            found.append(f"{where}: no files on the server (datasets/{place.dataset_name}/ "
                         "of the run); only MLflow's records of it were redacted, and the "
                         "index still lists it")
        for source in dataset_sources(self.sources.tracking, place):
            uri = source_outside(source, self.sources.root)
            if uri:
                shown = redacted(uri, subject_id) or uri
                found.append(f"{where}: dataset source outside the server: {shown}; erase "
                             "the person there too")
        return found

    def erase(self, plan: Plan, pseudonym: bytes, subject_id: str, request_id: str,
              by: str) -> dict[str, Any]:
        """Do the plan; the signed certificate (stored). ErasureRefused changes nothing."""
        s = self.sources
        rewriter = Rewriter(s.repository, s.keyring, by)
        with_files = [p for p in plan.places if p.files]
        works: list[FolderRewrite] = []
        reserved = rewriter.reserve(with_files)
        try:
            for place, key in zip(with_files, reserved, strict=True):
                works.append(rewriter.prepare(place, subject_id, key))
        except UnsupportedFormat as e:
            _discard(rewriter, works, with_files, reserved)
            raise ErasureRefused(f"dataset file {e}; nothing was erased") from None
        except BaseException:
            _discard(rewriter, works, with_files, reserved)
            raise
        for work in works:
            rewriter.publish(work)
        rewriter.swap(works)
        kept = [(w.experiment_id, w.dataset_name, d) for w in plan.withheld for d in w.digests]
        redactions = redact(s.tracking, plan.places, kept, subject_id)
        deleted = delete_index_rows(s.index.engine, pseudonym, with_files)
        certificate_id = str(uuid.uuid4())
        flagged = flag(s.registry, plan.versions, certificate_id)
        limits = list(plan.limits)
        for work in works:
            for key_id in work.unshredded():
                limits.append(f"dataset {work.place.dataset_name} of run {work.place.run_id}: "
                              f"old copies of its files were under data key {key_id}, shared "
                              "with other artifacts and not shredded; they stay decryptable")
        body = {
            "id": certificate_id,
            "request_id": request_id,
            "issued_at": issued_now(),
            "issued_by": by,
            "article": "GDPR Art. 17(1)",
            "artifacts_encrypted": self.encrypted,
            "places": [_place(w) for w in works] + [
                _place_without_files(p) for p in plan.places if not p.files],
            "records_redacted": [r.as_dict() for r in redactions],
            "index_rows_deleted": deleted,
            "versions_flagged": flagged,
            "withheld": [w.as_dict() for w in plan.withheld],
            "limits": limits,
            "note": NOT_LEGAL_ADVICE,
        }
        signed = sign(body, self.signer)
        s.certificates.store(signed)
        return signed


def _discard(rewriter: Rewriter, works: list[FolderRewrite], places: list[Place],
             reserved: list[tuple[str, bytes] | None]) -> None:
    """Throw away what was staged, and the reserved keys no staged work holds (a
    failed ``prepare`` discarded its own)."""
    for work in works:
        rewriter.discard(work)
    for place, key in list(zip(places, reserved, strict=True))[len(works) + 1:]:
        if key is not None:
            rewriter.discard(FolderRewrite(place, dataset_scope(place.run_id,
                                                                place.dataset_name),
                                           pending_id=key[0]))


def _place(work: FolderRewrite) -> dict[str, Any]:
    p = work.place
    return {"run_id": p.run_id, "experiment_id": p.experiment_id,
            "dataset_name": p.dataset_name, "dataset_digests": list(p.digests),
            "files": [f.as_dict() for f in work.files], "rows_removed": work.rows_removed,
            "shredded_keys": work.shredded}


def _place_without_files(p: Place) -> dict[str, Any]:
    return {"run_id": p.run_id, "experiment_id": p.experiment_id,
            "dataset_name": p.dataset_name, "dataset_digests": list(p.digests),
            "files": [], "rows_removed": 0, "shredded_keys": []}
