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

from typing import Any

from mlflow.exceptions import MlflowException
from starlette.routing import Route
from starlette.types import ASGIApp

from mlflow_compliance.retention.apply import NotDue, RetentionApply, run_id_of
from mlflow_compliance.retention.holds import ART_17_3_E, Invalid, LegalHolds, NotFound
from mlflow_compliance.retention.purge import NoSuchRun, NotDeleted, RunPurge
from mlflow_compliance.server.administration import PREFIX
from mlflow_compliance.server.json_endpoint import (
    bad_input,
    json_endpoint,
    missing,
    not_now,
)
from mlflow_compliance.server.routed import RoutedLayer


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


REFUSED = [bad_input(Invalid), missing(NotFound, NoSuchRun), not_now(NotDeleted, NotDue)]


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


class Retention(RoutedLayer):
    """ASGI layer: answers the retention and run purge routes, hands the rest on."""

    def __init__(self, app: ASGIApp, uri: str) -> None:
        service = RetentionService(LegalHolds.connect(uri), RunPurge.connect(uri, _keyring))
        holds = PREFIX + "retention/holds/"
        routes = [
            Route(holds + "create", json_endpoint(service.create_hold, _hold, REFUSED),
                  methods=["POST"]),
            Route(holds + "release", json_endpoint(service.release_hold, _hold, REFUSED),
                  methods=["POST"]),
            Route(holds + "list", json_endpoint(service.list_holds,
                                                lambda a: {"holds": str(len(a["holds"]))},
                                                REFUSED),
                  methods=["GET"]),
            Route(PREFIX + "retention/apply", json_endpoint(service.apply, _applied, REFUSED),
                  methods=["POST"]),
            Route(PREFIX + "runs/purge", json_endpoint(service.purge_run, _purged, REFUSED),
                  methods=["POST"]),
        ]
        super().__init__(app, routes)
