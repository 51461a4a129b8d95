"""The assessor's bundle: one ZIP of a model version's documents and evidence, with a
manifest of the SHA-256 of every file, signed by the server's Ed25519 key.

The manifest (``manifest.json``) names the model version, the signing key and each
file's digest; its signature covers the canonical JSON of all of that (keys sorted, no
spaces), under a top-level key no other signed document of the server uses, so a
signature made for a certificate or an audit head never passes as a manifest's.

A bundle is reproducible: the files are written in name order with a fixed time and
fixed permissions, so the same documents give the same ZIP bytes, the same digests
and (Ed25519 signatures are deterministic) the same signature.

``problems`` checks a bundle with the keys an assessor trusts and names each file that
was changed, added or removed after signing.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from mlflow_compliance.audit.entry import link
from mlflow_compliance.audit.signing import Head, Signer, Verifier

FORMAT = "mlflow-compliance bundle v1"
MANIFEST = "manifest.json"
ALGORITHM = "Ed25519"
FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # ZIP's earliest: no file carries when it was zipped
MAX_FILE = 512 * 1024 * 1024  # larger members are refused when verifying
AUDIT_EXTRACT = "audit/extract.json"
AUDIT_HEAD = "audit/head.json"
HEAD_KIND = "head-of-extract"
"""The kind of the signed head in a bundle: entry ``seq`` of the chain has ``hash``."""


def canonical(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def _message(body: Mapping[str, Any]) -> bytes:
    return canonical({"bundle_manifest": body})


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def manifest(name: str, version: str, files: Mapping[str, bytes],
             signer: Signer) -> dict[str, Any]:
    """The signed manifest of ``files`` (path in the ZIP -> content)."""
    body = {
        "format": FORMAT,
        "model": name,
        "version": version,
        "files": {path: {"sha256": sha256(data), "bytes": len(data)}
                  for path, data in sorted(files.items())},
    }
    value = signer.private.sign(_message(body)).hex()
    return {**body, "signature": {"algorithm": ALGORITHM, "key_id": signer.key_id,
                                  "value": value}}


def zipped(files: Mapping[str, bytes]) -> bytes:
    """The ZIP of ``files``, byte for byte the same for the same files."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for path, data in sorted(files.items()):
            info = zipfile.ZipInfo(path, date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return out.getvalue()


def bundle(name: str, version: str, files: Mapping[str, bytes], signer: Signer) -> bytes:
    """The ZIP of ``files`` and their signed ``manifest.json``."""
    if MANIFEST in files:
        raise ValueError(f"{MANIFEST}: the bundle writes it itself")
    signed = manifest(name, version, files, signer)
    text = json.dumps(signed, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    return zipped({**files, MANIFEST: text.encode("utf-8")})


class NotABundle(Exception):
    """The file is not a ZIP, or has no readable manifest: one line saying which."""


@dataclass(frozen=True)
class Checked:
    """What a bundle's check found: the manifest's model version and the problems."""

    model: str
    version: str
    key_id: str
    files: int
    problems: tuple[str, ...]

    @property
    def intact(self) -> bool:
        return not self.problems


def _read_manifest(archive: zipfile.ZipFile) -> dict[str, Any]:
    try:
        found = json.loads(archive.read(MANIFEST))
    except KeyError:
        raise NotABundle(f"{MANIFEST}: missing; not a bundle of mlflow-compliance") from None
    except ValueError:
        raise NotABundle(f"{MANIFEST}: not JSON") from None
    if not isinstance(found, dict) or found.get("format") != FORMAT \
            or not isinstance(found.get("files"), dict):
        raise NotABundle(f"{MANIFEST}: not a manifest of format {FORMAT!r}")
    return found


def _signature_problem(found: dict[str, Any], keys: Mapping[str, Ed25519PublicKey]) -> str | None:
    signature = found.get("signature")
    if not isinstance(signature, dict) or signature.get("algorithm") != ALGORITHM \
            or not isinstance(signature.get("value"), str):
        return f"{MANIFEST}: not signed ({ALGORITHM} signature missing)"
    key = keys.get(str(signature.get("key_id")))
    if key is None:
        return (f"{MANIFEST}: signed by key {signature.get('key_id')}, not by a key you "
                "trust (--home or --public-key)")
    body = {k: v for k, v in found.items() if k != "signature"}
    try:
        key.verify(bytes.fromhex(signature["value"]), _message(body))
    except (InvalidSignature, ValueError):
        return f"{MANIFEST}: tampered (its signature does not verify)"
    return None


def check(data: bytes, keys: Mapping[str, Ed25519PublicKey]) -> Checked:
    """The bundle ``data`` checked against ``keys``: every file the manifest lists must
    be there with its digest, and nothing else. Raises NotABundle for a file that is not
    a bundle at all."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise NotABundle("not a ZIP file") from None
    with archive:
        found = _read_manifest(archive)
        problems = []
        if signature := _signature_problem(found, keys):
            problems.append(signature)
        listed: dict[str, Any] = found["files"]
        present = {i.filename: i for i in archive.infolist() if not i.is_dir()}
        for path in sorted(listed):
            want = listed[path].get("sha256") if isinstance(listed[path], dict) else None
            info = present.get(path)
            if info is None:
                problems.append(f"{path}: missing (listed in the manifest)")
            elif info.file_size > MAX_FILE:
                problems.append(f"{path}: tampered (larger than any bundle file)")
            else:
                try:
                    content = archive.read(info)
                except (zipfile.BadZipFile, OSError, ValueError):
                    problems.append(f"{path}: tampered (cannot be read from the ZIP)")
                    continue
                if sha256(content) != want:
                    problems.append(f"{path}: tampered (SHA-256 differs from the manifest)")
        for path in sorted(set(present) - set(listed) - {MANIFEST}):
            problems.append(f"{path}: added (not in the manifest)")
        if not problems:
            problems += _audit_problems(archive, keys)
    signature = found.get("signature")
    key_id = str(signature.get("key_id", "")) if isinstance(signature, dict) else ""
    return Checked(str(found.get("model", "")), str(found.get("version", "")), key_id,
                   len(listed), tuple(problems))


def _audit_problems(archive: zipfile.ZipFile, keys: Mapping[str, Ed25519PublicKey]
                    ) -> list[str]:
    """The audit extract's entries each follow from their record and the hash before
    them, and the signed head names the newest of them."""
    try:
        entries = json.loads(archive.read(AUDIT_EXTRACT))["entries"]
        head = json.loads(archive.read(AUDIT_HEAD))["head"]
    except (KeyError, ValueError, TypeError):
        return [f"{AUDIT_EXTRACT}, {AUDIT_HEAD}: missing or not what a bundle holds"]
    problems = []
    for entry in entries:
        if link(str(entry.get("previous_hash", "")), str(entry.get("record", ""))) \
                != entry.get("hash"):
            problems.append(f"{AUDIT_EXTRACT}: entry {entry.get('seq')} does not follow "
                            "from its record and the hash before it")
    if head is None:
        return problems + ([f"{AUDIT_HEAD}: no head, but the extract has entries"]
                           if entries else [])
    try:
        signed = Head(**head)
    except TypeError:
        return [*problems, f"{AUDIT_HEAD}: not a signed head"]
    if why := Verifier(list(keys.values())).problem(signed, HEAD_KIND):
        problems.append(f"{AUDIT_HEAD}: {why}")
    if not entries or (entries[-1].get("seq"), entries[-1].get("hash")) \
            != (signed.seq, signed.hash):
        problems.append(f"{AUDIT_HEAD}: does not name the extract's newest entry")
    return problems
