"""The one place that maps every MLflow route to an action and the resource it touches.

Deny by default: a request whose route is not in this table is refused (403), and a
test enumerates the installed MLflow's routes so a route a new release adds fails the
suite instead of being served unchecked. ``/ajax-api/`` twins share their ``/api/``
entry. The audit log names requests by the same ``action``.

Permissions, lowest first:

- ``PUBLIC``: no identity needed (only ``/health``).
- ``AUTHENTICATED``: any authenticated principal (the UI shell, server info).
- ``READ`` / ``EDIT`` / ``MANAGE``: the principal needs at least this grant on the
  resource (``Resource.EXPERIMENT`` or ``Resource.REGISTERED_MODEL`` after resolution);
  on ``Resource.SERVER`` only ``admin`` (and ``auditor`` for ``READ``) passes.
- ``CREATE``: any principal who may write (not an auditor); the creator then manages
  what it created.
- ``ADMIN``: only ``admin``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum


class Permission(IntEnum):
    PUBLIC = 0
    AUTHENTICATED = 1
    READ = 2
    EDIT = 3
    MANAGE = 4
    CREATE = 5
    ADMIN = 6


class Resource(StrEnum):
    """What the request names; resolved to an experiment or a registered model."""

    NONE = "none"  # nothing to check beyond the permission itself
    SERVER = "server"  # server-wide features: admin (and auditor for READ) only
    EXPERIMENT = "experiment"  # experiment_id -> experiment
    EXPERIMENT_NAME = "experiment_name"  # experiment name -> experiment
    RUN = "run"  # run_id -> its experiment
    LOGGED_MODEL = "logged_model"  # model_id -> its experiment
    TRACE = "trace"  # trace/request id -> its experiment
    ARTIFACT = "artifact"  # mlflow-artifacts path "<experiment_id>/<run_id>/..." -> experiment
    REGISTERED_MODEL = "registered_model"  # name -> registered model
    MODEL_VERSION = "model_version"  # name (+ version) -> registered model


class Source(StrEnum):
    QUERY = "query"  # URL query string
    JSON = "json"  # JSON body
    PATH = "path"  # path parameter of the route


@dataclass(frozen=True)
class Where:
    """Where a request names its resource: a field in the query, body or path.

    ``many`` marks a field that is a list (``run_ids``, ``experiment_ids``): every
    element must pass.
    """

    source: Source
    name: str
    many: bool = False


def query(name: str, many: bool = False) -> Where:
    return Where(Source.QUERY, name, many)


def body(name: str, many: bool = False) -> Where:
    return Where(Source.JSON, name, many)


def path(name: str) -> Where:
    return Where(Source.PATH, name)


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # MLflow's route under /api/ (or at the root), path parameters as {name}
    action: str  # semantic action, e.g. "run.read", "artifact.download"
    permission: Permission
    resource: Resource = Resource.NONE
    where: tuple[Where, ...] = ()  # alternatives: the first one present in the request
    pattern: re.Pattern[str] | None = field(default=None, compare=False, repr=False)


def route(
    method: str,
    route_path: str,
    action: str,
    permission: Permission,
    resource: Resource = Resource.NONE,
    *where: Where,
) -> Route:
    pattern = None
    if "{" in route_path:
        regex = re.sub(
            r"\{(\w+)(:path)?\}",
            lambda m: f"(?P<{m[1]}>.+)" if m[2] else f"(?P<{m[1]}>[^/]+)",
            route_path,
        )
        pattern = re.compile(f"^{regex}$")
    return Route(method, route_path, action, permission, resource, tuple(where), pattern)


P = Permission
R = Resource

ROUTES: list[Route] = [
    route("GET", "/health", "server.health", P.PUBLIC),
    # --- experiments ---------------------------------------------------------------
    route("POST", "/api/2.0/mlflow/experiments/create", "experiment.create", P.CREATE),
    route("GET", "/api/2.0/mlflow/experiments/get", "experiment.read", P.READ, R.EXPERIMENT,
          query("experiment_id")),
    route("POST", "/api/2.0/mlflow/experiments/search", "experiment.search", P.AUTHENTICATED),
    # --- runs ----------------------------------------------------------------------
    route("POST", "/api/2.0/mlflow/runs/create", "run.create", P.EDIT, R.EXPERIMENT,
          body("experiment_id")),
    route("GET", "/api/2.0/mlflow/runs/get", "run.read", P.READ, R.RUN,
          query("run_id"), query("run_uuid")),
    route("POST", "/api/2.0/mlflow/runs/set-tag", "run.tag.set", P.EDIT, R.RUN,
          body("run_id"), body("run_uuid")),
    route("POST", "/api/2.0/mlflow/runs/search", "run.search", P.READ, R.EXPERIMENT,
          body("experiment_ids", many=True)),
    # --- artifacts -----------------------------------------------------------------
    route("GET", "/api/2.0/mlflow-artifacts/artifacts/{artifact_path:path}",
          "artifact.download", P.READ, R.ARTIFACT, path("artifact_path")),
    # --- registered models ---------------------------------------------------------
    route("POST", "/api/2.0/mlflow/registered-models/create", "registered_model.create",
          P.CREATE),
    route("GET", "/api/2.0/mlflow/registered-models/get", "registered_model.read", P.READ,
          R.REGISTERED_MODEL, query("name")),
]
"""Every route MLflow serves. Filled in route by route; see the module docstring."""


def _api_path(request_path: str) -> str:
    # The UI's /ajax-api/ twins are the same routes as /api/.
    if request_path.startswith("/ajax-api/"):
        return "/api/" + request_path[len("/ajax-api/") :]
    return request_path


_STATIC: dict[tuple[str, str], Route] = {
    (r.method, r.path): r for r in ROUTES if r.pattern is None
}
_PATTERNS: list[Route] = [r for r in ROUTES if r.pattern is not None]


def find(method: str, request_path: str) -> tuple[Route, dict[str, str]] | None:
    """The route a request is for, and its path parameters; None if it is not listed."""
    api_path = _api_path(request_path)
    found = _STATIC.get((method, api_path))
    if found is not None:
        return found, {}
    for candidate in _PATTERNS:
        if candidate.method == method and candidate.pattern is not None:
            match = candidate.pattern.match(api_path)
            if match:
                return candidate, match.groupdict()
    return None
