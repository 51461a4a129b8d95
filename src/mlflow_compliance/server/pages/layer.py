"""ASGI layer: answers ``/compliance/...`` (the pages and their stylesheet), hands the
rest on. Each page module gives its routes (``routes(site)``)."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from mlflow_compliance.server.pages import (
    audit_page,
    inventory,
    requests_page,
    runs_page,
    version,
)
from mlflow_compliance.server.pages.render import SECURITY_HEADERS, page
from mlflow_compliance.server.pages.site import Site

PREFIX = "/compliance/"
STATIC = Path(__file__).parent / "static"
STYLES = {"pages.css": "text/css; charset=utf-8"}


async def _static(request: Request) -> Response:
    name = request.path_params["path"]
    if name not in STYLES:  # only the files this package ships, by exact name
        return Response("not found", status_code=404, media_type="text/plain")
    return FileResponse(STATIC / name, media_type=STYLES[name],
                        headers={"X-Content-Type-Options": "nosniff",
                                 "Cache-Control": "max-age=300"})


class Pages:
    def __init__(self, app: ASGIApp, site: Site) -> None:
        self.app = app
        routes = [
            Route(PREFIX + "static/{path:path}", _static, methods=["GET"]),
            *inventory.routes(site),
            *runs_page.routes(site),
            *version.routes(site),
            *audit_page.routes(site),
            *requests_page.routes(site),
        ]

        async def missing(scope: Scope, receive: Receive, send: Send) -> None:
            request = Request(scope, receive)
            answer = page("missing.html", 404, who=site.who(request), section="",
                          path=request.url.path)
            await answer(scope, receive, send)

        self.router = Router(routes, default=missing)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and (path == PREFIX[:-1] or path.startswith(PREFIX)):
            if path == PREFIX[:-1]:
                redirect = Response(status_code=307, headers={"Location": PREFIX,
                                                              **SECURITY_HEADERS})
                await redirect(scope, receive, send)
                return
            await self.router(scope, receive, send)
            return
        await self.app(scope, receive, send)
