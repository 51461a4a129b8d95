"""Page module stub: replaced by its implementation."""

from __future__ import annotations

from starlette.routing import Route

from mlflow_compliance.server.pages.site import Site


def routes(site: Site) -> list[Route]:
    return []
