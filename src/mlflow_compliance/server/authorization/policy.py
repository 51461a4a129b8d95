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
from mlflow_compliance.identity.store import Level
from mlflow_compliance.server.authorization.defaults import DEFAULT_EXPERIMENT_ID, Grants
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
    if p is Permission.PRIVACY:
        if principal.role is Role.PRIVACY:
            return True
        return f"{route.action} needs the admin or privacy role"
    if principal.role in (Role.AUDITOR, Role.PRIVACY):
        if p in (Permission.AUTHENTICATED, Permission.READ):
            return True
        return f"{route.action} writes; the {principal.role.value} role only reads"
    if p in (Permission.AUTHENTICATED, Permission.CREATE):
        return True
    if route.resource is Resource.SERVER:
        return f"{route.action} needs the admin role"
    return None


def by_grants(
    grants: Grants,
    principal: Principal,
    action: str,
    permission: Permission,
    target: Target,
    hidden: Refusal,
    names_experiment: bool = False,
) -> Refusal | None:
    """None if the user's grants allow ``permission`` on every resource of ``target``.

    ``hidden`` is the answer when the caller may not even read one of them (or it is
    missing, or declares personal data the caller is not cleared for).
    ``names_experiment``: the request names the experiment itself (not a run or trace
    of it); only then is MLflow's Default experiment, which always exists, refused
    with a hint instead of ``hidden``, so nothing tells a run there from a missing one.
    """
    if target.missing:
        return hidden
    if target.personal_data and not principal.cleared_for_personal_data:
        return hidden
    have = grants.level(principal.name, target.kind, target.ids)
    needed = NEEDED[permission]
    for resource_id in target.ids:
        if names_experiment and resource_id == DEFAULT_EXPERIMENT_ID:
            if have[resource_id] < needed:  # MLflow's Default experiment is no secret
                return forbidden(_DEFAULT_EXPERIMENT_HINT.format(
                    action=action, needed=needed.name.lower()))
        elif have[resource_id] < Level.READ:
            return hidden
    for resource_id in target.ids:
        if have[resource_id] < needed:
            what = "experiment" if target.kind == "experiment" else "registered model"
            return forbidden(
                f"{action} needs {needed.name.lower()} permission on {what} {resource_id}"
            )
    return None


_DEFAULT_EXPERIMENT_HINT = (
    "{action} needs {needed} permission on experiment 0, MLflow's Default experiment, "
    "which is not open to every user on this server: log to your own experiment "
    "(mlflow.set_experiment(\"<name>\") creates it), or ask an administrator for a grant "
    "or for MLFLOW_COMPLIANCE_DEFAULT_EXPERIMENT_PERMISSION=edit"
)
