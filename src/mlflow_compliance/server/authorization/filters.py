"""Search results a caller may not see are removed before they leave the server.

MLflow's searches over experiments and registered models take no single resource to
check, so their answers are filtered: only experiments and models the caller holds a
grant on, and no run or model version whose record declares personal data unless the
caller is cleared for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mlflow_compliance.identity.principal import Principal, Role
from mlflow_compliance.identity.store import GrantKind, IdentityStore
from mlflow_compliance.server.authorization.resources import PERSONAL_DATA_TAG


def _tags(item: dict[str, Any], *path: str) -> dict[str, str]:
    for part in path:
        item = item.get(part) or {}
    tags = item.get("tags") or []
    return {t.get("key"): t.get("value") for t in tags} if isinstance(tags, list) else {}


def _personal(tags: dict[str, str]) -> bool:
    return (tags.get(PERSONAL_DATA_TAG) or "").lower() == "true"


Filter = Callable[[IdentityStore, Principal, dict[str, Any]], dict[str, Any]]


def experiments(store: IdentityStore, who: Principal, answer: dict[str, Any]) -> dict[str, Any]:
    if who.role is Role.USER:
        allowed = store.readable(who.name, GrantKind.EXPERIMENT)
        answer["experiments"] = [
            e for e in answer.get("experiments", []) if e.get("experiment_id") in allowed
        ]
    return answer


def runs(store: IdentityStore, who: Principal, answer: dict[str, Any]) -> dict[str, Any]:
    if not who.cleared_for_personal_data:
        answer["runs"] = [r for r in answer.get("runs", []) if not _personal(_tags(r, "data"))]
    return answer


def logged_models(store: IdentityStore, who: Principal, answer: dict[str, Any]) -> dict[str, Any]:
    if not who.cleared_for_personal_data:
        answer["models"] = [m for m in answer.get("models", []) if not _personal(_tags(m, "info"))]
    return answer


def registered_models(
    store: IdentityStore, who: Principal, answer: dict[str, Any]
) -> dict[str, Any]:
    if who.role is Role.USER:
        allowed = store.readable(who.name, GrantKind.REGISTERED_MODEL)
        answer["registered_models"] = [
            m for m in answer.get("registered_models", []) if m.get("name") in allowed
        ]
        for m in answer["registered_models"]:
            m["latest_versions"] = [
                v
                for v in m.get("latest_versions", [])
                if who.cleared_for_personal_data or not _personal(_tags(v))
            ]
    return answer


def model_versions(store: IdentityStore, who: Principal, answer: dict[str, Any]) -> dict[str, Any]:
    if who.role is Role.USER:
        allowed = store.readable(who.name, GrantKind.REGISTERED_MODEL)
        answer["model_versions"] = [
            v
            for v in answer.get("model_versions", [])
            if v.get("name") in allowed
            and (who.cleared_for_personal_data or not _personal(_tags(v)))
        ]
    return answer


def _users(who: Principal) -> bool:
    return who.role is Role.USER


def _uncleared(who: Principal) -> bool:
    return not who.cleared_for_personal_data


# Which searches are filtered, and for whom (an unfiltered answer streams through as is).
BY_PATH: dict[str, tuple[Filter, Callable[[Principal], bool]]] = {
    "/api/2.0/mlflow/experiments/search": (experiments, _users),
    "/api/2.0/mlflow/runs/search": (runs, _uncleared),
    "/api/2.0/mlflow/logged-models/search": (logged_models, _uncleared),
    "/api/2.0/mlflow/registered-models/search": (registered_models, _users),
    "/api/2.0/mlflow/model-versions/search": (model_versions, _users),
}
