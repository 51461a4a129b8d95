"""Stored check results of model versions, so a page shows them without re-checking.

Checking a version reads its source run, evaluates every rule pack and asks the gate
(which reads the model files when the version has a sign-off): too slow to repeat for
every version on every view. Each check is kept in ``compliance_check_results`` (one
row per version, in the tracking database beside MLflow's tables) with when it ran
and what the version looked like then, so a page can say how fresh it is and mark a
version that changed since (``VersionResult.changed``).

Blocking (SQL, stores): call from a worker thread.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from mlflow_compliance.checks.approvals import Approval, approvals
from mlflow_compliance.checks.model import FAILING, Finding, Rule, Status, Target
from mlflow_compliance.checks.packs import DEFAULT_PACKS, evaluate, load_rules
from mlflow_compliance.checks.signoff_evidence import Evidence
from mlflow_compliance.record.tags import PERSONAL_DATA_TAG
from mlflow_compliance.server.claims import REGISTERED_BY_TAG
from mlflow_compliance.server.gate.decisions import RISK_CLASS_TAG, Gate, Refused
from mlflow_compliance.server.pages.site import Site
from mlflow_compliance.tables import engine_with

REGULATIONS_TAG = "compliance"
STATUSES = tuple(s.value for s in Status)  # pass, fail, undeclared, not_applicable
Key = tuple[str, str]  # (model name, version)

metadata = sa.MetaData()

check_results = sa.Table(
    "compliance_check_results",
    metadata,
    sa.Column("model_name", sa.String(500), primary_key=True),
    sa.Column("version", sa.String(20), primary_key=True),
    sa.Column("checked_at_us", sa.BigInteger, nullable=False),
    # the version's last_updated_timestamp (ms) when it was checked
    sa.Column("version_updated_ms", sa.BigInteger, nullable=False),
    sa.Column("summary", sa.Text, nullable=False),  # JSON: VersionResult's findings
)


def tags_digest(tags: Mapping[str, str] | None) -> str:
    """The version's own tags, hashed: MLflow does not touch last_updated_timestamp when
    a version tag changes, so a changed record on the version shows through this."""
    text = "\0".join(f"{k}\1{v}" for k, v in sorted((tags or {}).items()))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class VersionResult:
    """One version's stored check: per pack the count of each status, the record's
    summary, the sign-off's status and the gate's decision."""

    name: str
    version: str
    checked_at_us: int
    version_updated_ms: int
    packs: dict[str, dict[str, int]]  # pack -> status -> count
    regulations: str = ""
    risk_class: str = ""
    personal_data: str = ""
    owner: str = ""
    signoff: str = "none"  # none, valid, stale
    admitted: bool = False
    reasons: list[str] = field(default_factory=list)
    tags: str = ""  # tags_digest of the version's tags when checked

    @property
    def failing(self) -> bool:
        return any(counts.get(s.value, 0) for counts in self.packs.values() for s in FAILING)

    def changed(self, updated_ms: int | None, tags: Mapping[str, str] | None,
                signed_at_us: int | None = None) -> bool:
        """Whether the version changed since this check: updated in the registry, its
        tags edited, or signed off after it."""
        return ((updated_ms or 0) > self.version_updated_ms
                or tags_digest(tags) != self.tags
                or (signed_at_us or 0) > self.checked_at_us)

    def summary(self) -> str:
        found = asdict(self)
        for column in ("name", "version", "checked_at_us", "version_updated_ms"):
            found.pop(column)
        return json.dumps(found, sort_keys=True)


@functools.cache
def _packs() -> tuple[list[Rule], dict[str, str]]:
    """The rules of the default packs, and each rule's pack."""
    pack_of = {rule.id: pack for pack in DEFAULT_PACKS for rule in load_rules([pack])}
    return load_rules(DEFAULT_PACKS), pack_of


def pack_counts(findings: Iterable[Finding]) -> dict[str, dict[str, int]]:
    """Findings counted per pack and status (every pack and status, zeros included)."""
    _, pack_of = _packs()
    counted = Counter((pack_of[f.rule_id], f.status.value) for f in findings)
    return {pack: {s: counted.get((pack, s), 0) for s in STATUSES} for pack in DEFAULT_PACKS}


def count_packs(targets: Iterable[Target]) -> dict[str, dict[str, int]]:
    """Every default pack's rules evaluated on ``targets``, counted per pack."""
    rules, _ = _packs()
    return pack_counts(evaluate(rules, targets))


def _signoff(latest: Approval | None, evidence: Evidence | None) -> str:
    """``valid`` when the latest verified sign-off saw the evidence the version has
    now, ``stale`` when not (or it cannot be shown), ``none`` without one."""
    if latest is None:
        return "none"
    if latest.evidence is None or evidence is None:
        return "stale"  # it predates evidence, or the model files cannot be read
    return "valid" if evidence.digest() == latest.record_digest else "stale"


def compute(gate: Gate, name: str, version: str) -> VersionResult:
    """Check one version now (reads its run, and its model files if signed off, once);
    Refused (404) when there is no such version."""
    loaded = gate.load(name, version)
    target = loaded.target
    signed = gate.signed(name, version)
    latest = signed[0] if signed else None
    evidence: Evidence | None = None
    try:
        if latest is not None and latest.evidence is not None:
            evidence = gate.evidence(loaded)
        status = gate.status(name, version, loaded, evidence)
        admitted, reasons = status.admitted, status.reasons
    except Refused as e:  # a sign-off whose model files cannot be read
        admitted, reasons = False, [str(e)]
    tags = dict(loaded.version.tags or {})
    creator = loaded.run.info.user_id if loaded.run is not None else ""
    return VersionResult(
        name=name, version=str(version), checked_at_us=int(time.time() * 1_000_000),
        version_updated_ms=int(loaded.version.last_updated_timestamp or 0),
        packs=count_packs([target]),
        regulations=target.tags.get(REGULATIONS_TAG, ""),
        risk_class=target.tags.get(RISK_CLASS_TAG, ""),
        personal_data=target.tags.get(PERSONAL_DATA_TAG, ""),
        owner=tags.get(REGISTERED_BY_TAG) or creator or "",
        signoff=_signoff(latest, evidence),
        admitted=admitted, reasons=reasons, tags=tags_digest(tags),
    )


def _by_name(keys: Iterable[Key]) -> dict[str, set[str]]:
    names: dict[str, set[str]] = {}
    for name, version in keys:
        names.setdefault(name, set()).add(str(version))
    return names


NAMES_PER_QUERY = 500  # below SQLite's limit of bound parameters
PARSED_KEPT = 20_000  # parsed results a worker keeps (some tens of MB)


class CheckResults:
    """The stored results, in the tracking database (the table is made on connect)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # Parsing a result's JSON costs more than reading it: each worker keeps the
        # results it parsed, reused while the stored row is the same.
        self._parsed: dict[Key, tuple[int, str, VersionResult]] = {}

    def _result(self, name: str, version: str, checked_at_us: int, updated_ms: int,
                summary: str) -> VersionResult:
        kept = self._parsed.get((name, version))
        if kept is not None and kept[0] == checked_at_us and kept[1] == summary:
            return kept[2]
        if len(self._parsed) >= PARSED_KEPT:
            self._parsed.clear()
        result = VersionResult(name=name, version=version, checked_at_us=checked_at_us,
                               version_updated_ms=updated_ms, **json.loads(summary))
        self._parsed[(name, version)] = (checked_at_us, summary, result)
        return result

    @classmethod
    def connect(cls, uri: str) -> CheckResults:
        return cls(engine_with(uri, metadata))

    def store(self, found: list[VersionResult]) -> None:
        """Keep ``found``, replacing earlier results of the same versions (one
        transaction; a worker storing the same version at once: tried again)."""
        if not found:
            return
        rows = [{"model_name": r.name, "version": r.version, "checked_at_us": r.checked_at_us,
                 "version_updated_ms": r.version_updated_ms, "summary": r.summary()}
                for r in found]
        for attempt in (1, 2):
            try:
                with self.engine.begin() as c:
                    for name, versions in _by_name((r.name, r.version) for r in found).items():
                        c.execute(check_results.delete().where(
                            check_results.c.model_name == name,
                            check_results.c.version.in_(sorted(versions))))
                    c.execute(check_results.insert(), rows)
                return
            except sa.exc.IntegrityError:
                if attempt == 2:
                    raise

    def results(self, keys: Iterable[Key]) -> dict[Key, VersionResult]:
        """The stored results of ``keys`` (those never checked are missing), read in one
        query per 500 model names."""
        wanted = _by_name(keys)
        names = sorted(wanted)
        found: dict[Key, VersionResult] = {}
        with self.engine.connect() as c:
            for start in range(0, len(names), NAMES_PER_QUERY):
                chunk = names[start:start + NAMES_PER_QUERY]
                t = check_results.c
                for name, version, at, updated, summary in c.execute(
                        sa.select(t.model_name, t.version, t.checked_at_us,
                                  t.version_updated_ms, t.summary)
                        .where(t.model_name.in_(chunk))):
                    if version in wanted[name]:
                        found[(name, version)] = self._result(name, version, at, updated,
                                                              summary)
        return found

    def latest_signoffs(self, keys: Iterable[Key]) -> dict[Key, int]:
        """When (us) each version was last signed off, for those that were (a sign-off
        after a check makes the check out of date); one query per 500 names."""
        wanted = _by_name(keys)
        names = sorted(wanted)
        found: dict[Key, int] = {}
        latest = sa.func.max(approvals.c.approved_at_us)
        with self.engine.connect() as c:
            for start in range(0, len(names), NAMES_PER_QUERY):
                chunk = names[start:start + NAMES_PER_QUERY]
                rows = c.execute(sa.select(approvals.c.model_name, approvals.c.version, latest)
                                 .where(approvals.c.model_name.in_(chunk))
                                 .group_by(approvals.c.model_name, approvals.c.version))
                for name, version, at in rows:
                    if version in wanted[name]:
                        found[(name, version)] = int(at)
        return found


@functools.cache
def _connected(uri: str) -> CheckResults:
    """One store per backend and worker (the engine pools its connections)."""
    return CheckResults.connect(uri)


def store_of(site: Site) -> CheckResults:
    """The site's stored results (``site.uri``: the tracking database)."""
    return _connected(site.uri)


def check_versions(site: Site, keys: Iterable[Key]) -> dict[Key, VersionResult]:
    """Check each version now and store the results; versions that no longer exist are
    left out."""
    found: dict[Key, VersionResult] = {}
    for name, version in keys:
        try:
            found[(name, str(version))] = compute(site.gate, name, str(version))
        except Refused:
            continue
    store_of(site).store(list(found.values()))
    return found


def check_version(site: Site, name: str, version: str) -> VersionResult:
    """Check one version now and store the result (a page that changed the version
    refreshes it so); Refused (404) when there is no such version."""
    result = compute(site.gate, name, str(version))
    store_of(site).store([result])
    return result


def results(site: Site, keys: Iterable[Key]) -> dict[Key, VersionResult]:
    """The stored results of ``keys``, in one query (those never checked are missing)."""
    return store_of(site).results(keys)
