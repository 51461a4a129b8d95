"""An ASGI layer that answers its own routes and hands every other request on."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.routing import Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send


class RoutedLayer:
    """Answers ``routes`` (matched by exact path) itself; the rest goes to ``app``."""

    def __init__(self, app: ASGIApp, routes: Sequence[Route]) -> None:
        self.app = app
        self.paths = {r.path for r in routes}
        self.router = Router(list(routes))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in self.paths:
            await self.router(scope, receive, send)
            return
        await self.app(scope, receive, send)
