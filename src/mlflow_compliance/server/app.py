"""The ``compliance`` server app: MLflow's own ASGI app inside the compliance layers.

Loaded by ``mlflow server --app-name compliance`` (entry point group ``mlflow.app``) in
every worker. The request path of DESIGN.md, outermost first; the layers that later
issues add (host check, audit, authentication, authorization) slot in above
validation, in this order.
"""

from __future__ import annotations

from starlette.types import ASGIApp

from mlflow_compliance.server.seed_search import SeedSearch
from mlflow_compliance.server.validation import ComplianceValidation


def create_app() -> ASGIApp:
    from mlflow.server.fastapi_app import app as mlflow_app

    app: ASGIApp = mlflow_app
    app = SeedSearch(app)
    app = ComplianceValidation(app)
    return app
