"""Grants that follow the object, not its name.

The creator of an experiment or registered model manages it. A grant never outlives
its object: when a model is deleted its grants end, when one is created every grant
left on its name (or id) from an earlier object ends first, and grants follow a
renamed model. Read from MLflow's answer, so only what MLflow really did counts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mlflow_compliance.identity.principal import Principal, Role
from mlflow_compliance.identity.store import GrantKind, IdentityStore, Level
from mlflow_compliance.server.authorization.table import Route

Change = Callable[[int, Any], Any]


def _created(store: IdentityStore, who: Principal, kind: str, target: str) -> None:
    store.forget_target(kind, target)
    if who.role is Role.USER:
        store.grant(who.name, kind, target, Level.MANAGE)


def after(store: IdentityStore, who: Principal, route: Route, payload: Any) -> Change | None:
    """What to do with the grants once MLflow has answered this request, if anything."""
    body = payload if isinstance(payload, dict) else {}

    def on_success(effect: Callable[[Any], None]) -> Change:
        def change(status: int, data: Any) -> Any:
            if status == 200 and isinstance(data, dict):
                effect(data)
            return data

        return change

    path = route.path
    if path == "/api/2.0/mlflow/experiments/create":
        return on_success(lambda data: _created(
            store, who, GrantKind.EXPERIMENT, str(data["experiment_id"])))
    if path == "/api/2.0/mlflow/registered-models/create":
        return on_success(lambda data: _created(
            store, who, GrantKind.REGISTERED_MODEL, str(data["registered_model"]["name"])))
    if path == "/api/2.0/mlflow/registered-models/delete" and body.get("name"):
        return on_success(lambda data: store.forget_target(
            GrantKind.REGISTERED_MODEL, str(body["name"])))
    if path == "/api/2.0/mlflow/registered-models/rename" and body.get("name"):
        return on_success(lambda data: store.move_target(
            GrantKind.REGISTERED_MODEL, str(body["name"]),
            str(data["registered_model"]["name"])))
    return None
