"""Authentication layer: decide who is calling, and nothing else.

A request without credentials goes on as ``anonymous`` (the authorization layer admits
anonymous callers only to public routes and answers 401 elsewhere); a request with
credentials that do not check out is answered 401 here.
"""

from __future__ import annotations

import anyio.to_thread
from starlette.types import ASGIApp, Receive, Scope, Send

from mlflow_compliance.identity.principal import ANONYMOUS, SCOPE_KEY
from mlflow_compliance.server.authentication.credentials import Authenticator
from mlflow_compliance.server.errors import send_unauthenticated


class Authentication:
    def __init__(self, app: ASGIApp, authenticator: Authenticator) -> None:
        self.app = app
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan; websockets are refused by authorization
            await self.app(scope, receive, send)
            return
        header = next((v for k, v in scope["headers"] if k == b"authorization"), None)
        principal = ANONYMOUS
        if header is not None:
            # Store lookups and the password hash block: keep them off the event loop.
            found = await anyio.to_thread.run_sync(
                self.authenticator.authenticate, header.decode("latin-1")
            )
            if found is None:
                await send_unauthenticated(send, "credentials are not valid")
                return
            principal = found
        scope[SCOPE_KEY] = principal
        await self.app(scope, receive, send)
