"""The decision: may this principal do this route's action on these resources?

Roles first (``admin`` everything; ``auditor`` reads only), then the user's grants on
each experiment or registered model (read < edit < manage), then need-to-know: a
resource whose record declares personal data needs the personal-data clearance.
"""

from __future__ import annotations

from mlflow_compliance.identity.principal import Principal, Role
from mlflow_compliance.identity.store import IdentityStore, Level
from mlflow_compliance.server.authorization.resources import Target
from mlflow_compliance.server.authorization.table import Permission, Resource, Route

NEEDED = {Permission.READ: Level.READ, Permission.EDIT: Level.EDIT, Permission.MANAGE: Level.MANAGE}


def by_role(principal: Principal, route: Route) -> str | bool | None:
    """True: allowed outright; a string: refused for this reason; None: ask the grants."""
    p = route.permission
    if p is Permission.PUBLIC or principal.role is Role.ADMIN:
        return True
    if p is Permission.ADMIN:
        return f"{route.action} needs the admin role"
    if principal.role is Role.AUDITOR:
        if p in (Permission.AUTHENTICATED, Permission.READ):
            return True
        return f"{route.action} writes; the auditor role only reads"
    if p in (Permission.AUTHENTICATED, Permission.CREATE):
        return True
    if route.resource is Resource.SERVER:
        return f"{route.action} needs the admin role"
    return None


def by_grants(
    store: IdentityStore, principal: Principal, route: Route, target: Target
) -> str | None:
    """None if the user's grants allow the action on every resource, else the reason."""
    needed = NEEDED[route.permission]
    have = store.level(principal.name, target.kind, target.ids)
    for resource_id in target.ids:
        if have.get(resource_id, 0) < needed:
            what = "experiment" if target.kind == "experiment" else "registered model"
            return f"{route.action} needs {needed.name.lower()} permission on {what} {resource_id}"
    return need_to_know(principal, route, target)


def need_to_know(principal: Principal, route: Route, target: Target) -> str | None:
    if target.personal_data and not principal.cleared_for_personal_data:
        return (
            f"{route.action}: the resource's compliance record declares personal data; "
            "it needs the personal-data clearance"
        )
    return None
