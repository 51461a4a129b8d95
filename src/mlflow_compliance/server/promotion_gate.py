"""The promotion gate: no model version reaches production without passing the checks
and a four-eyes sign-off of its current evidence (AI Act Art. 17(1)(b)-(d), Annex IV
2(g); GDPR Art. 5(2) accountability).

Gated: an alias matching MLFLOW_COMPLIANCE_PROTECTED_ALIASES (``fnmatch`` patterns,
without case; default ``production,champion``), *every* alias of a version whose record
declares risk class high, and stage Production. Setting one is refused with 403 and
the reasons (failing rule ids, expired retention, no sign-off, or a stale sign-off with
what changed) unless the version passes the gate's rule packs
(MLFLOW_COMPLIANCE_GATE_RULES) and its latest sign-off saw its current evidence
(server/gate/decisions.py). Routes this layer answers:

- ``POST /api/2.0/compliance/model-versions/approve``: a sign-off (approver clearance or
  admin; never the run's creator or the version's registrar);
- ``GET .../model-versions/approvals``: the sign-offs and whether each verifies;
- ``GET .../model-versions/gate-status?name=&version=``: ``{"admitted", "reasons"}``;
- ``POST .../model-versions/recheck`` (admin): every gated version judged again,
  lapsed ones demoted when MLFLOW_COMPLIANCE_DEMOTE_LAPSED is true.

Every decision goes into the request's audit entry.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from mlflow_compliance.checks.approvals import forged
from mlflow_compliance.identity.principal import SCOPE_KEY, Principal
from mlflow_compliance.server.audit import note
from mlflow_compliance.server.authorization.layer import decided_route
from mlflow_compliance.server.body import BodyTooLarge, json_body
from mlflow_compliance.server.errors import send_error, send_too_large
from mlflow_compliance.server.gate.decisions import Gate, Refused
from mlflow_compliance.server.gate.recheck import recheck

ALIAS_SET = "/api/2.0/mlflow/registered-models/alias"
STAGE_SET = "/api/2.0/mlflow/model-versions/transition-stage"
APPROVE = "/api/2.0/compliance/model-versions/approve"
APPROVALS = "/api/2.0/compliance/model-versions/approvals"
GATE_STATUS = "/api/2.0/compliance/model-versions/gate-status"
RECHECK = "/api/2.0/compliance/model-versions/recheck"
MAX_NOTE = 2000
MAX_DECISION = 500

__all__ = ["Gate", "PromotionGate", "Refused"]


class PromotionGate:
    def __init__(
        self, app: ASGIApp, gate: Gate, protected_aliases: frozenset[str], demote: bool = False
    ) -> None:
        self.app, self.gate, self.protected, self.demote = app, gate, protected_aliases, demote

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "GET"):
            await self.app(scope, receive, send)
            return
        path = decided_route(scope)
        post = scope["method"] == "POST"
        try:
            if post and path == ALIAS_SET:
                receive = await self._gate_alias(scope, receive)
            elif post and path == STAGE_SET:
                receive = await self._gate_stage(scope, receive)
            elif post and path == APPROVE:
                await self._approve(scope, receive, send)
                return
            elif post and path == RECHECK:
                await self._recheck(scope, send)
                return
            elif not post and path == APPROVALS:
                await self._approvals(scope, send)
                return
            elif not post and path == GATE_STATUS:
                await self._gate_status(scope, send)
                return
        except Refused as e:
            note(scope, decision={"gate": f"refused: {e}"[:MAX_DECISION]})
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
        name, version, alias = str(payload["name"]), str(payload["version"]), str(payload["alias"])
        if await run_in_threadpool(self.gate.gated, name, version, alias, self.protected):
            decision = await run_in_threadpool(self.gate.admit, name, version, f"alias {alias}")
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

    def _name_version(self, scope: Scope) -> tuple[str, str]:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        name, version = (query.get("name") or [""])[0], (query.get("version") or [""])[0]
        if not name or not version:
            raise Refused(400, "INVALID_PARAMETER_VALUE", "name and version: both required")
        return name, version

    async def _approvals(self, scope: Scope, send: Send) -> None:
        name, version = self._name_version(scope)
        found = await run_in_threadpool(self.gate.approvals.of_version, name, version)
        await _send_json(send, {"approvals": [
            {**a.as_dict(), "signature_valid": not forged(a, self.gate.verifier)}
            for a in found]})

    async def _gate_status(self, scope: Scope, send: Send) -> None:
        name, version = self._name_version(scope)
        found = await run_in_threadpool(self.gate.status, name, version)
        await _send_json(send, {"admitted": found.admitted, "reasons": found.reasons})

    async def _recheck(self, scope: Scope, send: Send) -> None:
        rows = await run_in_threadpool(recheck, self.gate, self.protected, self.demote)
        lapsed = [f"{r['name']}/{r['version']}" for r in rows if not r["admitted"]]
        demoted = [f"{r['name']}/{r['version']}@{a}" for r in rows for a in r["demoted"]]
        decision: dict[str, Any] = {
            "recheck": f"{len(rows)} gated, {len(lapsed)} lapsed: {', '.join(lapsed)}"
            [:MAX_DECISION]}
        if demoted:
            decision["demoted"] = demoted  # each one: name/version@alias
        note(scope, decision=decision)
        await _send_json(send, {"versions": rows, "demote": self.demote})


async def _send_json(send: Send, data: dict[str, Any]) -> None:
    body = json.dumps(data).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
