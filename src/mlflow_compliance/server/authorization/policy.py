"""The decision: may this principal do this route's action on these resources?

Roles first (``admin`` everything; ``auditor`` reads only), then the user's grants on
each experiment or registered model (read < edit < manage), then need-to-know: a
resource whose record declares personal data (or that was made from such a resource)
needs the personal-data clearance.

What the caller may not read answers exactly like what does not exist (404, one
wording), so no answer reveals what exists; a caller who may read but not write is
told which permission is missing (403).
"""

from __future__ import annotations

from dataclasses import dataclass

from mlflow_compliance.identity.principal import Principal, Role
from mlflow_compliance.identity.store import IdentityStore, Level
from mlflow_compliance.server.authorization.resources import Target
from mlflow_compliance.server.authorization.table import Permission, Resource, Route

NEEDED = {Permission.READ: Level.READ, Permission.EDIT: Level.EDIT, Permission.MANAGE: Level.MANAGE}


@dataclass(frozen=True)
class Refusal:
    status: int
    error_code: str
    message: str


def forbidden(message: str) -> Refusal:
    return Refusal(403, "PERMISSION_DENIED", message)


def not_found(route: Route, resource: Resource, ids: list[str]) -> Refusal:
    """The one answer for "does not exist" and "you may not read it"."""
    what = resource.value.replace("_", " ")
    return Refusal(
        404, "RESOURCE_DOES_NOT_EXIST",
        f"{route.action}: {what} {', '.join(ids)} does not exist (or you may not read it)",
    )


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
    store: IdentityStore,
    principal: Principal,
    action: str,
    permission: Permission,
    target: Target,
    hidden: Refusal,
) -> Refusal | None:
    """None if the user's grants allow ``permission`` on every resource of ``target``.

    ``hidden`` is the answer when the caller may not even read one of them (or it is
    missing, or declares personal data the caller is not cleared for).
    """
    if target.missing:
        return hidden
    have = store.level(principal.name, target.kind, target.ids)
    if any(have.get(i, 0) < Level.READ for i in target.ids):
        return hidden
    if target.personal_data and not principal.cleared_for_personal_data:
        return hidden
    needed = NEEDED[permission]
    for resource_id in target.ids:
        if have.get(resource_id, 0) < needed:
            what = "experiment" if target.kind == "experiment" else "registered model"
            return forbidden(
                f"{action} needs {needed.name.lower()} permission on {what} {resource_id}"
            )
    return None
