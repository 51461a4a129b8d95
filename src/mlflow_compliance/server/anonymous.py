"""Work before authentication is bounded: a caller without credentials reaches nothing
but the public routes (``/health``), so any other route is answered 401 before a layer
reads the body (the seed's GET search used to read up to 64 MiB first), and a public
route's body may hold 64 KiB: a larger Content-Length is refused with 413 unread, a
chunked body is counted as it arrives. Placed just inside authentication.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mlflow_compliance.identity.principal import ANONYMOUS, SCOPE_KEY, Principal
from mlflow_compliance.server.authorization.table import Permission, find
from mlflow_compliance.server.body import BodyTooLarge
from mlflow_compliance.server.errors import send_too_large, send_unauthenticated
from mlflow_compliance.server.routes import normalized

ANONYMOUS_MAX_BODY = 64 * 1024


class AnonymousLimits:
    def __init__(self, app: ASGIApp, max_body: int = ANONYMOUS_MAX_BODY) -> None:
        if max_body < 0:
            raise ValueError(f"max_body: {max_body} is negative; give a byte count")
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        who: Principal = scope.get(SCOPE_KEY, ANONYMOUS)
        if scope["type"] != "http" or who.authenticated:
            await self.app(scope, receive, send)
            return
        found = find(scope["method"], normalized(scope["path"]))
        if found is None or found[0].permission is not Permission.PUBLIC:
            await send_unauthenticated(send, "authentication required")
            return
        lengths = [v for k, v in scope["headers"] if k == b"content-length"]
        if any(not v.strip().isdigit() or int(v) > self.max_body for v in lengths):
            await send_too_large(send)
            return
        started = False

        async def counted_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, _bounded(receive, self.max_body), counted_send)
        except BodyTooLarge:
            if started:
                raise
            await send_too_large(send)


def _bounded(receive: Receive, limit: int) -> Receive:
    """A receive that raises BodyTooLarge once more than ``limit`` bytes have arrived."""
    size = 0

    async def bounded_receive() -> Message:
        nonlocal size
        message = await receive()
        size += len(message.get("body", b""))
        if size > limit:
            raise BodyTooLarge
        return message

    return bounded_receive
