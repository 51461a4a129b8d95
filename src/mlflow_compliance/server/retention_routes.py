"""REST endpoints of retention (``/api/2.0/compliance/retention/...``, ``runs/purge``).

``retention/holds/create|release|list`` keep the register of legal holds (GDPR Art.
17(3)(e)); the route table lets admins and the privacy role use them. ``retention/apply``
judges one run from its own record and erases it when due and nothing keeps it (Art.
5(1)(e), 17(3); retention/apply.py); ``runs/purge`` hard-deletes one soft-deleted run
and nothing else (retention/purge.py). Both are admins only. Who acts is the signed-in
principal, never a field. The audit log gets the run or hold id and what was decided,
in counts and grounds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from mlflow.exceptions import MlflowException
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from mlflow_compliance.encryption.keys.errors import KeyringError
from mlflow_compliance.identity.principal import SCOPE_KEY, Principal
from mlflow_compliance.retention.apply import NotDue, RetentionApply, run_id_of
from mlflow_compliance.retention.holds import ART_17_3_E, Invalid, LegalHolds, NotFound
from mlflow_compliance.retention.purge import NoSuchRun, NotDeleted, RunPurge
from mlflow_compliance.server.administration import PREFIX
from mlflow_compliance.server.audit import note
from mlflow_compliance.server.errors import error_response

Handler = Callable[[dict[str, Any], str], dict[str, Any]]


def _tracking() -> Any:
    from mlflow.server.handlers import _get_tracking_store

    return _get_tracking_store()


def _registry() -> Any:
    from mlflow.server.handlers import _get_model_registry_store

    return _get_model_registry_store()


def _keyring() -> Any:
    from mlflow_compliance.encryption.keys.configure import server_keyring

    return server_keyring()


def _dry_run(data: dict[str, Any]) -> bool:
    value = data.get("dry_run", False)
    if not isinstance(value, bool):
        raise Invalid("dry_run: true or false")
    return value


class RetentionService:
    """What the five routes do, without HTTP."""

    def __init__(self, holds: LegalHolds, purge: RunPurge) -> None:
        self.holds = holds
        self.purge = purge
        self.retention = RetentionApply(holds, purge, _tracking, _registry)

    def create_hold(self, data: dict[str, Any], who: str) -> dict[str, Any]:
        asked = (data.get("kind"), data.get("target"), data.get("reason"), who,
                 data.get("ground") or ART_17_3_E)
        checked = self.holds.check(*asked)  # the fields first, then that the target exists
        self._exists(checked.kind, checked.target)
        return {"hold": self.holds.create(*asked).as_dict()}

    def release_hold(self, data: dict[str, Any], who: str) -> dict[str, Any]:
        return {"hold": self.holds.release(data.get("id"), who, data.get("reason")).as_dict()}

    def list_holds(self, data: dict[str, Any], who: str) -> dict[str, Any]:
        every = data.get("all", "false")
        if every not in ("true", "false"):
            raise Invalid("all: true or false")
        return {"holds": [h.as_dict() for h in self.holds.list(active_only=every == "false")]}

    def apply(self, data: dict[str, Any], who: str) -> dict[str, Any]:
        run_id, dry_run = run_id_of(data.get("run_id")), _dry_run(data)
        return self.retention.apply(run_id, who, dry_run).as_dict()

    def purge_run(self, data: dict[str, Any], who: str) -> dict[str, Any]:
        run_id, dry_run = run_id_of(data.get("run_id")), _dry_run(data)
        done = self.purge.plan(run_id) if dry_run else self.purge.purge(run_id, who)
        return done.as_dict()

    def _exists(self, kind: str, target: str) -> None:
        try:
            if kind == "run":
                _tracking().get_run(target)
            elif kind == "experiment":
                _tracking().get_experiment(target)
            else:
                _registry().get_registered_model(target)
        except MlflowException:
            raise Invalid(f"target: no {kind.replace('_', ' ')} {target!r}") from None


def _endpoint(handle: Handler, noted: Callable[[dict[str, Any]], dict[str, str]]
              ) -> Callable[[Request], Awaitable[JSONResponse]]:
    async def run(request: Request) -> JSONResponse:
        data: Any = dict(request.query_params)
        if request.method == "POST":
            try:
                data = await request.json()
            except ValueError:
                data = None
            if not isinstance(data, dict):
                return error_response(400, "INVALID_PARAMETER_VALUE",
                                      "request body: not a JSON object")
        who: Principal = request.scope[SCOPE_KEY]
        try:
            answer = await run_in_threadpool(handle, data, who.name)
        except Invalid as e:
            return error_response(400, "INVALID_PARAMETER_VALUE", str(e))
        except (NotFound, NoSuchRun) as e:
            return error_response(404, "RESOURCE_DOES_NOT_EXIST", str(e))
        except (NotDeleted, NotDue) as e:
            note(request.scope, decision={"refused": type(e).__name__})
            return error_response(409, "INVALID_STATE", str(e))
        except KeyringError as e:
            return error_response(503, "TEMPORARILY_UNAVAILABLE", f"data keys: {e}")
        except MlflowException as e:
            return error_response(e.get_http_status_code(), str(e.error_code),
                                  e.message.splitlines()[0])
        note(request.scope, decision=noted(answer))
        return JSONResponse(answer)

    return run


def _hold(answer: dict[str, Any]) -> dict[str, str]:
    h = answer["hold"]
    return {"hold": h["id"], "kind": h["kind"], "target": h["target"], "ground": h["ground"],
            "active": str(h["active"]).lower()}


def _applied(answer: dict[str, Any]) -> dict[str, str]:
    purge = answer["purge"] or {}
    return {"run": answer["run_id"], "dry_run": str(answer["dry_run"]).lower(),
            "applied": str(answer["applied"]).lower(), "grounds": ",".join(answer["grounds"]),
            "rows": str(sum((purge.get("rows") or {}).values())),
            "keys_shredded": str(len(purge.get("keys_shredded") or []))}


def _purged(answer: dict[str, Any]) -> dict[str, str]:
    return {"run": answer["run_id"], "dry_run": str(answer["dry_run"]).lower(),
            "rows": str(sum(answer["rows"].values())),
            "keys_shredded": str(len(answer["keys_shredded"]))}


class Retention:
    """ASGI layer: answers the retention and run purge routes, hands the rest on."""

    def __init__(self, app: ASGIApp, uri: str) -> None:
        self.app = app
        service = RetentionService(LegalHolds.connect(uri), RunPurge.connect(uri, _keyring))
        holds = PREFIX + "retention/holds/"
        routes = [
            Route(holds + "create", _endpoint(service.create_hold, _hold), methods=["POST"]),
            Route(holds + "release", _endpoint(service.release_hold, _hold),
                  methods=["POST"]),
            Route(holds + "list", _endpoint(service.list_holds,
                                            lambda a: {"holds": str(len(a["holds"]))}),
                  methods=["GET"]),
            Route(PREFIX + "retention/apply", _endpoint(service.apply, _applied),
                  methods=["POST"]),
            Route(PREFIX + "runs/purge", _endpoint(service.purge_run, _purged),
                  methods=["POST"]),
        ]
        self.paths = {r.path for r in routes}
        self.router = Router(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in self.paths:
            await self.router(scope, receive, send)
            return
        await self.app(scope, receive, send)
