"""The promotion gate: no model version reaches production without passing the checks
and a human sign-off (AI Act Art. 14; GDPR Art. 5(2) accountability).

Setting a protected alias (``production`` and ``champion`` unless
MLFLOW_COMPLIANCE_PROTECTED_ALIASES says otherwise) or moving a version to stage
Production is refused with 403 and the failing rule ids unless the version passes the
gate's rule packs (MLFLOW_COMPLIANCE_GATE_RULES, default baseline,gdpr,ai-act) *and*
carries a valid sign-off for its current record. This layer also answers
``POST /api/2.0/compliance/model-versions/approve`` (principals with the ``approver``
clearance, and admins) and ``GET .../model-versions/approvals``. Every decision goes
into the request's audit entry.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from mlflow.exceptions import MlflowException
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from mlflow_compliance.audit.signing import Signer, Verifier
from mlflow_compliance.checks.approvals import Approval, ApprovalStore, forged
from mlflow_compliance.checks.model import Finding, Rule, ServerFacts, Status, Target
from mlflow_compliance.checks.packs import evaluate
from mlflow_compliance.checks.targets import record_digest, run_target, version_target
from mlflow_compliance.identity.principal import SCOPE_KEY, Clearance, Principal, Role
from mlflow_compliance.server.audit import note
from mlflow_compliance.server.authorization.layer import decided_route
from mlflow_compliance.server.body import BodyTooLarge, json_body
from mlflow_compliance.server.errors import send_error, send_too_large

ALIAS_SET = "/api/2.0/mlflow/registered-models/alias"
STAGE_SET = "/api/2.0/mlflow/model-versions/transition-stage"
APPROVE = "/api/2.0/compliance/model-versions/approve"
APPROVALS = "/api/2.0/compliance/model-versions/approvals"
MAX_NOTE = 2000


class Refused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


class Gate:
    """The decisions, without HTTP: what a version lacks, and recording a sign-off."""

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

    def target(self, name: str, version: str) -> Target:
        from mlflow.server.handlers import _get_model_registry_store, _get_tracking_store

        try:
            model_version = _get_model_registry_store().get_model_version(name, version)
        except MlflowException as e:
            raise Refused(404, "RESOURCE_DOES_NOT_EXIST", e.message) from None
        run = None
        if model_version.run_id:
            try:
                run = run_target(_get_tracking_store().get_run(model_version.run_id), self.facts)
            except MlflowException:
                run = None
        return version_target(model_version, run, self.facts)

    def failures(self, target: Target) -> list[Finding]:
        return [f for f in evaluate(self.rules, [target]) if f.status is Status.FAIL]

    def admit(self, name: str, version: str, what: str) -> dict[str, str]:
        """The audit decision when the version may have ``what``; Refused otherwise."""
        target = self.target(name, version)
        failing = self.failures(target)
        if failing:
            ids = ", ".join(f.rule_id for f in failing)
            raise Refused(403, "PERMISSION_DENIED",
                          f"{target.name} cannot get {what}: it fails {ids} (see "
                          f"mlflow-compliance check --model {name}/{version})")
        signed = [a for a in self.approvals.of_version(name, version)
                  if not forged(a, self.verifier)]
        if not signed:
            raise Refused(403, "PERMISSION_DENIED",
                          f"{target.name} cannot get {what}: it passes the checks but has no "
                          f"sign-off; an approver runs: mlflow-compliance signoffs add {name} "
                          f"{version} --note TEXT")
        digest = record_digest(target)
        current = next((a for a in signed if a.record_digest == digest), None)
        if current is None:
            latest = signed[0]
            raise Refused(403, "PERMISSION_DENIED",
                          f"{target.name} cannot get {what}: its sign-off by {latest.approver} "
                          f"({latest.approved_at[:19]}) is stale, the compliance record "
                          "changed since; it needs a new sign-off")
        return {"gate": "admitted", "approval": current.id, "approver": current.approver}

    def approve(self, who: Principal, name: str, version: str, note_text: str) -> Approval:
        if who.role is not Role.ADMIN and Clearance.APPROVER not in who.clearances:
            raise Refused(403, "PERMISSION_DENIED",
                          f"{who.name} may not sign off model versions: needs the approver "
                          "clearance (users create ... --clearance approver)")
        target = self.target(name, version)
        findings = evaluate(self.rules, [target])
        failing = [f.rule_id for f in findings if f.status is Status.FAIL]
        if failing:
            raise Refused(400, "INVALID_STATE",
                          f"{target.name} cannot be signed off: it fails {', '.join(failing)}")
        results = [[f.rule_id, f.status.value] for f in findings]
        return self.approvals.record(self.signer, name, version, who.name, note_text, results,
                                     record_digest(target))


class PromotionGate:
    def __init__(self, app: ASGIApp, gate: Gate, protected_aliases: frozenset[str]) -> None:
        self.app, self.gate, self.protected = app, gate, protected_aliases

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "GET"):
            await self.app(scope, receive, send)
            return
        path = decided_route(scope)
        try:
            if scope["method"] == "POST" and path == ALIAS_SET:
                receive = await self._gate_alias(scope, receive)
            elif scope["method"] == "POST" and path == STAGE_SET:
                receive = await self._gate_stage(scope, receive)
            elif scope["method"] == "POST" and path == APPROVE:
                await self._approve(scope, receive, send)
                return
            elif scope["method"] == "GET" and path == APPROVALS:
                await self._approvals(scope, send)
                return
        except Refused as e:
            note(scope, decision={"gate": f"refused: {e}"[:500]})
            await send_error(send, e.status, e.code, str(e))
            return
        except BodyTooLarge:
            await send_too_large(send)
            return
        await self.app(scope, receive, send)

    async def _fields(self, scope: Scope, receive: Receive, *names: str) -> tuple[Any, Receive]:
        payload, receive = await json_body(scope, receive)
        if not isinstance(payload, dict):
            raise Refused(400, "INVALID_PARAMETER_VALUE", "request body: not a JSON object")
        for name in names:
            value = payload.get(name)
            if not isinstance(value, str | int) or str(value).strip() == "":
                raise Refused(400, "INVALID_PARAMETER_VALUE",
                              f"{name}: missing; give the model version's {name}")
        return payload, receive

    async def _gate_alias(self, scope: Scope, receive: Receive) -> Receive:
        payload, receive = await self._fields(scope, receive, "name", "alias", "version")
        alias = str(payload["alias"])
        if alias.lower() in self.protected:
            decision = await run_in_threadpool(
                self.gate.admit, str(payload["name"]), str(payload["version"]),
                f"alias {alias}")
            note(scope, decision=decision)
        return receive

    async def _gate_stage(self, scope: Scope, receive: Receive) -> Receive:
        payload, receive = await self._fields(scope, receive, "name", "version", "stage")
        if str(payload["stage"]).lower() == "production":
            decision = await run_in_threadpool(
                self.gate.admit, str(payload["name"]), str(payload["version"]),
                "stage Production")
            note(scope, decision=decision)
        return receive

    async def _approve(self, scope: Scope, receive: Receive, send: Send) -> None:
        payload, _ = await self._fields(scope, receive, "name", "version", "note")
        text = str(payload["note"]).strip()
        if len(text) > MAX_NOTE:
            raise Refused(400, "INVALID_PARAMETER_VALUE",
                          f"note: longer than {MAX_NOTE} characters")
        who: Principal = scope[SCOPE_KEY]
        approval = await run_in_threadpool(
            self.gate.approve, who, str(payload["name"]), str(payload["version"]), text)
        note(scope, decision={"approval": approval.id,
                              "record_digest": approval.record_digest})
        await _send_json(send, {"approval": approval.as_dict()})

    async def _approvals(self, scope: Scope, send: Send) -> None:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        name, version = (query.get("name") or [""])[0], (query.get("version") or [""])[0]
        if not name or not version:
            raise Refused(400, "INVALID_PARAMETER_VALUE", "name and version: both required")
        found = await run_in_threadpool(self.gate.approvals.of_version, name, version)
        await _send_json(send, {"approvals": [
            {**a.as_dict(), "signature_valid": not forged(a, self.gate.verifier)}
            for a in found]})


async def _send_json(send: Send, data: dict[str, Any]) -> None:
    body = json.dumps(data).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
