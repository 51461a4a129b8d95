"""Which MLflow REST routes a layer cares about, by method and path.

Paths are matched as the app routes them: after the optional static prefix, under
both ``/api/`` and the UI's ``/ajax-api/`` twins.
"""

from __future__ import annotations

import os
import posixpath
import re

from mlflow.server.handlers import STATIC_PREFIX_ENV_VAR


def _api(pattern: str) -> re.Pattern[str]:
    prefix = re.escape(os.environ.get(STATIC_PREFIX_ENV_VAR, "").rstrip("/"))
    return re.compile(rf"^{prefix}/(?:ajax-)?api/{pattern}$")


TAG_WRITES = re.compile(
    r"^/(?:ajax-)?api/(?:2\.0/mlflow/(?:"
    r"runs/(?:create|set-tag|log-batch|log-inputs)"
    r"|experiments/(?:create|set-experiment-tag)"
    r"|registered-models/(?:create|set-tag)"
    r"|model-versions/(?:create|set-tag)"
    r"|logged-models(?:/[^/]+/tags)?"
    r")|3\.0/mlflow/datasets/(?:create|[^/]+/tags))$"
)
"""Every route (as the authorization table names it) that writes run, experiment, model,
dataset or logged-model tags."""

TAG_WRITE_METHODS = frozenset({"POST", "PATCH"})

RUNS_SEARCH = _api(r"2\.0/mlflow/runs/search")


def normalized(path: str) -> str:
    """The path with repeated slashes and dot segments resolved.

    MLflow's mount and Werkzeug accept ``//api/...`` for ``/api/...``; matching on the
    normalized path means no spelling reaches a route that a layer did not see.
    """
    if "//" not in path and "/." not in path:
        return path
    return posixpath.normpath(re.sub(r"/{2,}", "/", path))
