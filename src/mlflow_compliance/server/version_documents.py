"""A model version's documents and its signed bundle, made on the server (blocking: the
layer calls these in a worker thread).

The documents are written from the server's own stores (store_reader.py): who may have
them is decided by the route table on the registered model and, by the authorization
layer, on the version's source run, so nobody reads through a document what they may
not read in MLflow. The bundle adds what only the server holds and vouches for:

- ``check/report.json`` and ``check/report.sarif``: the source run, its datasets and
  the version against the default packs, with the server's own facts;
- ``signoffs.json``: the version's sign-offs with their signatures;
- ``audit/extract.json``: every change to the version in the audit log (reads left
  out), each entry with the hash of the entry before it, so each can be checked against
  the chain (``link(previous_hash, record) == hash``);
- ``audit/head.json``: the server's signed statement of the chain's head as of the
  newest of those entries (its sequence number and chain hash).

It is all signed in ``manifest.json`` (reports/bundle.py). The server signs only what it
made itself: no caller chooses a byte of what is signed, so the route is no signing
oracle. Reads of the version are left out of the extract, so asking for a bundle twice
gives the same bundle when nothing changed in between.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from mlflow_compliance.audit.entry import Entry
from mlflow_compliance.audit.log import AuditLog
from mlflow_compliance.audit.signing import Signer
from mlflow_compliance.checks.approvals import Approval, forged
from mlflow_compliance.checks.collect import report_order
from mlflow_compliance.checks.packs import DEFAULT_PACKS, evaluate, load_rules
from mlflow_compliance.checks.references import with_evidence
from mlflow_compliance.checks.report import to_json, to_sarif
from mlflow_compliance.checks.targets import dataset_targets, run_target
from mlflow_compliance.reports.annex_iv_facts import Lifecycle, collect_lifecycle, signoffs_of
from mlflow_compliance.reports.bundle import AUDIT_EXTRACT, AUDIT_HEAD, HEAD_KIND, bundle
from mlflow_compliance.reports.documents import (
    DOCUMENTS,
    KINDS,
    all_documents,
    dataset_card_files,
    kinds,
)
from mlflow_compliance.reports.facts import VersionFacts, VersionNotFound, collect_version_facts
from mlflow_compliance.server.gate.decisions import Gate, Refused
from mlflow_compliance.server.gate.model_files import artifact_exists
from mlflow_compliance.server.store_reader import StoreReader, server_model_files

READS = (".read", ".search", ".list")
"""Audit actions that only read: not changes to the version."""
AUDIT_PAGE = 1000


class BadRequest(ValueError):
    """A field of the request is missing or not allowed: one line naming it."""


def _name_version(data: dict[str, Any]) -> tuple[str, str]:
    name, version = str(data.get("name") or ""), str(data.get("version") or "")
    if not name.strip():
        raise BadRequest("name: required, the registered model's name")
    if not version.isdigit():
        raise BadRequest(f"version: {version!r} is not a version number")
    return name, version


def approval_dict(approval: Approval, gate: Gate) -> dict[str, Any]:
    """A sign-off as the approvals route answers it, with its signature."""
    return {**approval.as_dict(), "key_id": approval.key_id, "signature": approval.signature,
            "signature_valid": not forged(approval, gate.verifier)}


class VersionDocuments:
    def __init__(self, gate: Gate, audit: AuditLog, signer: Signer) -> None:
        self.gate, self.audit, self.signer = gate, audit, signer
        self.reader = StoreReader()

    # --- reading ----------------------------------------------------------------------

    def facts(self, name: str, version: str) -> VersionFacts:
        try:
            return collect_version_facts(self.reader, name, version, server_model_files)
        except VersionNotFound:
            raise LookupError(f"model {name!r} version {version!r} does not exist") from None

    def signoffs(self, name: str, version: str) -> list[dict[str, Any]]:
        return [approval_dict(a, self.gate)
                for a in self.gate.approvals.of_version(name, version)]

    def lifecycle(self, facts: VersionFacts, signoffs: list[dict[str, Any]]) -> Lifecycle:
        return collect_lifecycle(self.reader, facts, signoffs_of(signoffs))

    # --- one document -----------------------------------------------------------------

    def document(self, data: dict[str, Any]) -> tuple[str, str, bytes]:
        """(file name, media type, content) of the document the query asks for."""
        name, version = _name_version(data)
        kind, form = str(data.get("kind") or ""), str(data.get("format") or "")
        if kind == "dataset-card":
            facts = self.facts(name, version)
            dataset = data.get("dataset") or None
            cards = dataset_card_files(facts, dataset)
            if not cards:
                raise LookupError(f"dataset: the version's run has no dataset input named "
                                  f"{dataset!r}" if dataset else
                                  "the version's run logged no dataset input")
            file, text = sorted(cards.items())[0]
            if len(cards) > 1:
                names = ", ".join(sorted({d.name for d in facts.datasets}))
                raise BadRequest(f"dataset: the version's run has several datasets; name "
                                 f"one of: {names}")
            return file.rpartition("/")[2], "text/markdown; charset=utf-8", text
        forms = sorted(f for k, f in KINDS if k == kind)
        if not forms:
            raise BadRequest(f"kind: {kind!r} is not a document; allowed: {kinds()}")
        form = form or forms[0]
        if (kind, form) not in KINDS:
            raise BadRequest(f"format: {kind} is written as {', '.join(forms)}, not {form!r}")
        file = KINDS[(kind, form)]
        facts = self.facts(name, version)
        lifecycle = self.lifecycle(facts, self.signoffs(name, version)) \
            if kind == "annex-iv" else Lifecycle(None, None, {})
        document = DOCUMENTS[file]
        return file, document.media_type, document.render(facts, lifecycle)

    # --- the bundle -------------------------------------------------------------------

    def bundle(self, data: dict[str, Any]) -> tuple[str, bytes]:
        """(file name, ZIP) of the version's signed bundle."""
        name, version = _name_version(data)
        facts = self.facts(name, version)
        signoffs = self.signoffs(name, version)
        files = all_documents(facts, self.lifecycle(facts, signoffs))
        files.update(self._check(name, version))
        files["signoffs.json"] = _json({"model": name, "version": version,
                                        "signoffs": signoffs})
        extract = self._extract(name, version)
        files[AUDIT_EXTRACT] = _json({"model": name, "version": version,
                                             "entries": extract})
        files[AUDIT_HEAD] = _json(self._head(extract))
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
        return f"{safe}-{version}-bundle.zip", bundle(name, version, files, self.signer)

    def _check(self, name: str, version: str) -> dict[str, bytes]:
        try:
            loaded = self.gate.load(name, version)
        except Refused as e:
            raise LookupError(str(e)) from None
        targets = []
        if loaded.run is not None:
            run = run_target(loaded.run, self.gate.facts)
            run = with_evidence(run, artifact_exists(loaded.run.info.artifact_uri))
            targets += [run, *dataset_targets(run)]
        targets.append(loaded.target)
        rules = load_rules(DEFAULT_PACKS)
        findings = sorted(evaluate(rules, targets), key=report_order)
        meta = {"server": f"the server of key {self.signer.key_id}", "packs": DEFAULT_PACKS}
        return {"check/report.json": (to_json(findings, rules, meta) + "\n").encode(),
                "check/report.sarif": (to_sarif(findings, rules) + "\n").encode()}

    def _extract(self, name: str, version: str) -> list[dict[str, Any]]:
        """Every change to the version in the audit log, oldest first."""
        wanted = '"name":' + json.dumps(name, ensure_ascii=False, separators=(",", ":"))
        found: list[dict[str, Any]] = []
        after = 0
        while True:
            page = self.audit.search(resource=wanted, after_seq=after, limit=AUDIT_PAGE)
            for entry in page:
                if _changes(entry, name, version):
                    previous = self.audit.hash_before(entry.seq)
                    found.append({**entry.as_dict(), "record": entry.canonical(),
                                  "previous_hash": previous or ""})
            if len(page) < AUDIT_PAGE:
                return found
            after = page[-1].seq

    def _head(self, extract: list[dict[str, Any]]) -> dict[str, Any]:
        if not extract:
            return {"head": None, "why": "the audit log holds no change to this version"}
        last = extract[-1]
        head = self.signer.sign(HEAD_KIND, last["seq"], last["hash"], last["time_us"])
        return {"head": asdict(head),
                "means": f"entry {last['seq']} of the audit chain has hash {last['hash']}; "
                         "`mlflow-compliance audit verify` on the server shows the chain "
                         "from it to the current tip is intact"}


def _changes(entry: Entry, name: str, version: str) -> bool:
    named = entry.resources_dict()
    return (str(named.get("name")) == name and str(named.get("version")) == version
            and entry.method != "GET" and not entry.action.endswith(READS))


def _json(data: Any) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
