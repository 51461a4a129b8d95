"""The promotion gate's decisions, without HTTP (blocking: the layer calls them in a
thread): whether a model version may hold a gated alias or stage Production, and
recording a sign-off.

A version is admitted when it passes the gate's rule packs, its retention has not
expired, and its latest valid sign-off saw the evidence it has now
(checks/signoff_evidence.py). A sign-off is recorded only from a principal with the
approver clearance (or an admin) who neither created the version's source run nor
registered the version: four-eyes release, AI Act Art. 17(1)(b)-(d), Annex IV 2(g).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from mlflow.entities import Run
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from mlflow_compliance.audit.signing import Signer, Verifier
from mlflow_compliance.checks.approvals import Approval, ApprovalStore, forged
from mlflow_compliance.checks.model import FAILING, Finding, Rule, ServerFacts, Target
from mlflow_compliance.checks.packs import evaluate
from mlflow_compliance.checks.references import with_evidence
from mlflow_compliance.checks.signoff_evidence import Evidence, changes, evidence_of
from mlflow_compliance.checks.targets import run_target, version_target
from mlflow_compliance.identity.principal import Clearance, Principal, Role
from mlflow_compliance.record.tags import TRAINED_ON_ERASED_DATA_TAG
from mlflow_compliance.server.claims import REGISTERED_BY_TAG
from mlflow_compliance.server.gate.model_files import artifact_exists, model_file_digests

RISK_CLASS_TAG = "compliance.ai_act.risk_class"
RETENTION_UNTIL_TAG = "compliance.gdpr.retention_until"


class Refused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


@dataclass(frozen=True)
class Loaded:
    """A model version as the gate sees it: the entity, its source run, the target."""

    version: ModelVersion
    run: Run | None
    target: Target

    @property
    def high_risk(self) -> bool:
        return self.target.tags.get(RISK_CLASS_TAG, "").strip().lower() == "high"


@dataclass
class GateStatus:
    admitted: bool
    reasons: list[str] = field(default_factory=list)
    approval: Approval | None = None
    failing: list[Finding] = field(default_factory=list)


def _registry() -> Any:
    from mlflow.server.handlers import _get_model_registry_store

    return _get_model_registry_store()


def _tracking() -> Any:
    from mlflow.server.handlers import _get_tracking_store

    return _get_tracking_store()


def expired_retention(target: Target, today: date) -> str | None:
    """The reason a version lapsed because its personal data's retention ended."""
    value = target.tags.get(RETENTION_UNTIL_TAG, "").strip()
    try:
        until = date.fromisoformat(value) if value else None
    except ValueError:
        return None  # not a date: the record's own rules fail it
    if until is not None and until < today:
        return f"{RETENTION_UNTIL_TAG}: the retention period ended on {until.isoformat()}"
    return None


def trained_on_erased_data(version: ModelVersion) -> str | None:
    """The reason a version trained on data erased under GDPR Art. 17 is refused: a
    model may retain what it learnt from the rows (EDPB Opinion 28/2024); a version
    retrained without them (not flagged) replaces it."""
    certificate = (version.tags or {}).get(TRAINED_ON_ERASED_DATA_TAG)
    if not certificate:
        return None
    return (f"{TRAINED_ON_ERASED_DATA_TAG}: trained on personal data erased under GDPR "
            f"Art. 17 (erasure certificate {certificate}); register a version retrained "
            "without it")


class Gate:
    def __init__(
        self,
        rules: list[Rule],
        approvals: ApprovalStore,
        signer: Signer,
        verifier: Verifier,
        facts: ServerFacts,
    ) -> None:
        self.rules, self.approvals = rules, approvals
        self.signer, self.verifier, self.facts = signer, verifier, facts

    # --- reading ----------------------------------------------------------------------

    def load(self, name: str, version: str) -> Loaded:
        try:
            model_version = _registry().get_model_version(name, version)
        except MlflowException as e:
            raise Refused(404, "RESOURCE_DOES_NOT_EXIST", e.message) from None
        run: Run | None = None
        if model_version.run_id:
            try:
                run = _tracking().get_run(model_version.run_id)
            except MlflowException:
                run = None
        source = run_target(run, self.facts) if run else None
        target = version_target(model_version, source, self.facts)
        if run is not None:
            target = with_evidence(target, artifact_exists(run.info.artifact_uri))
        return Loaded(model_version, run, target)

    def target(self, name: str, version: str) -> Target:
        return self.load(name, version).target

    def failures(self, target: Target) -> list[Finding]:
        return [f for f in evaluate(self.rules, [target]) if f.status in FAILING]

    def evidence(self, loaded: Loaded) -> Evidence:
        """The version's evidence now; model files that cannot be read (missing, not
        decryptable, storage down) refuse, saying so: an unread file vouches for
        nothing."""
        name, version = loaded.version.name, str(loaded.version.version)
        try:
            files = model_file_digests(name, version)
        except Exception as e:  # any failure to read is a refusal here
            raise Refused(409, "INVALID_STATE",
                          f"{loaded.target.name}: its model files cannot be read to compare "
                          f"with a sign-off ({type(e).__name__}: {str(e)[:200]})") from e
        return evidence_of(loaded.target, files)

    def signed(self, name: str, version: str) -> list[Approval]:
        """The version's sign-offs that verify, newest first."""
        return [a for a in self.approvals.of_version(name, version)
                if not forged(a, self.verifier)]

    # --- deciding ---------------------------------------------------------------------

    def status(self, name: str, version: str, loaded: Loaded | None = None,
               evidence: Evidence | None = None) -> GateStatus:
        """Everything that keeps the version from a gated alias now (none: admitted).
        ``evidence``: the version's evidence, when the caller read it already (reading
        it hashes every model file)."""
        loaded = loaded or self.load(name, version)
        target = loaded.target
        failing = self.failures(target)
        reasons = [f"{f.rule_id}: {f.message}" for f in failing]
        if erased := trained_on_erased_data(loaded.version):
            reasons.insert(0, erased)
        if expired := expired_retention(target, target.today):
            reasons.append(expired)
        signed = self.signed(name, version)
        if not signed:
            reasons.append(f"no sign-off; an approver runs: mlflow-compliance signoffs add "
                           f"{name} {version} --note TEXT")
            return GateStatus(False, reasons, None, failing)
        latest = signed[0]
        when = f"its sign-off by {latest.approver} ({latest.approved_at[:19]}) is stale"
        if latest.evidence is None:
            reasons.append(f"{when}: it predates sign-off evidence (metrics and model files "
                           "were not covered); it needs a new sign-off")
        else:
            now = evidence or self.evidence(loaded)
            if now.digest() != latest.record_digest:
                changed = changes(latest.evidence, now) or ["the evidence changed"]
                reasons.append(f"{when}: {'; '.join(changed)}; it needs a new sign-off")
        return GateStatus(not reasons, reasons, latest, failing)

    def admit(self, name: str, version: str, what: str) -> dict[str, str]:
        """The audit decision when the version may have ``what``; Refused otherwise."""
        loaded = self.load(name, version)
        found = self.status(name, version, loaded)
        label = loaded.target.name
        if erased := trained_on_erased_data(loaded.version):
            raise Refused(403, "PERMISSION_DENIED", f"{label} cannot get {what}: {erased}")
        if found.failing:
            ids = ", ".join(f.rule_id for f in found.failing)
            raise Refused(403, "PERMISSION_DENIED",
                          f"{label} cannot get {what}: it fails {ids} (see "
                          f"mlflow-compliance check --model {name}/{version})")
        if not found.admitted:
            raise Refused(403, "PERMISSION_DENIED",
                          f"{label} cannot get {what}: {'; '.join(found.reasons)}")
        assert found.approval is not None
        return {"gate": "admitted", "approval": found.approval.id,
                "approver": found.approval.approver}

    def gated(self, name: str, version: str, alias: str, patterns: frozenset[str]) -> bool:
        """Whether setting ``alias`` on the version goes through the gate."""
        from mlflow_compliance.settings import alias_is_protected

        if alias_is_protected(alias, patterns):
            return True
        try:
            return self.load(name, version).high_risk
        except Refused:
            return False  # no such version: MLflow refuses the alias itself

    # --- signing off ------------------------------------------------------------------

    def approve(self, who: Principal, name: str, version: str, note_text: str,
                shown_digest: str | None = None) -> Approval:
        """Record ``who``'s sign-off; with ``shown_digest`` (the evidence digest a page
        showed the approver), only if the evidence is still that one: what is signed is
        what was seen."""
        if who.role is not Role.ADMIN and Clearance.APPROVER not in who.clearances:
            raise Refused(403, "PERMISSION_DENIED",
                          f"{who.name} may not sign off model versions: needs the approver "
                          "clearance (users create ... --clearance approver)")
        loaded = self.load(name, version)
        four_eyes(who, loaded)
        target = loaded.target
        findings = evaluate(self.rules, [target])
        failing = [f.rule_id for f in findings if f.status in FAILING]
        if failing:
            raise Refused(400, "INVALID_STATE",
                          f"{target.name} cannot be signed off: it fails {', '.join(failing)}")
        evidence = self.evidence(loaded)
        if shown_digest is not None and shown_digest != evidence.digest():
            raise Refused(409, "INVALID_STATE", "the evidence changed since the page was shown "
                                                "(or the form did not say what it showed): "
                                                "review it again")
        results = [[f.rule_id, f.status.value] for f in findings]
        return self.approvals.record(self.signer, name, version, who.name, note_text, results,
                                     evidence.digest(), evidence.as_dict())


def four_eyes(who: Principal, loaded: Loaded) -> None:
    """Refused unless the approver is shown to be neither the source run's creator nor
    the version's registrar (admins included: nobody approves their own work)."""
    label = loaded.target.name
    creator = loaded.run.info.user_id if loaded.run is not None else ""
    registrar = (loaded.version.tags or {}).get(REGISTERED_BY_TAG, "")
    unknown = [what for what, value in (("the creator of its source run", creator),
                                        (f"its registrar ({REGISTERED_BY_TAG})", registrar))
               if not value]
    if unknown:
        raise Refused(400, "INVALID_STATE",
                      f"{label} cannot be signed off: four-eyes cannot be shown, "
                      f"{' and '.join(unknown)} unknown (AI Act Art. 17(1)(b)-(d))")
    if who.name == creator:
        raise Refused(403, "PERMISSION_DENIED",
                      f"{who.name} may not sign off {label}: they created its source run "
                      f"{loaded.run.info.run_id if loaded.run else ''}; four-eyes release needs "
                      "another approver (AI Act Art. 17(1)(b)-(d))")
    if who.name == registrar:
        raise Refused(403, "PERMISSION_DENIED",
                      f"{who.name} may not sign off {label}: they registered it; four-eyes "
                      "release needs another approver (AI Act Art. 17(1)(b)-(d))")
