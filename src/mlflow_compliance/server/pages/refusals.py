"""Refusals of the layers outside the pages, shown as a page in the browser.

The authentication and authorization layers answer a refused request in MLflow's JSON
error shape, which is right for the API and unreadable for a person who followed a link
to ``/compliance/...``. For those paths only, this layer turns such an answer (a 4xx with
a JSON body) into a short HTML page with the same status, message and headers (the
``WWW-Authenticate`` challenge of a 401 stays, so the browser still asks for a
password). Every other answer passes through untouched, streamed.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mlflow_compliance.server.pages.render import SECURITY_HEADERS, environment

PAGES = "/compliance"
MAX_ERROR = 64 * 1024  # an error body larger than this is passed on as it is


def _is_json_error(message: Message) -> bool:
    if message["status"] < 400 or message["status"] >= 500:
        return False
    types = [v for k, v in message.get("headers", []) if k.lower() == b"content-type"]
    return bool(types) and types[0].split(b";")[0].strip() == b"application/json"


class PageRefusals:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not (path == PAGES or path.startswith(PAGES + "/")):
            await self.app(scope, receive, send)
            return
        held: Message | None = None
        body = b""

        async def send_page(message: Message) -> None:
            nonlocal held, body
            if message["type"] == "http.response.start" and _is_json_error(message):
                held = message
                return
            if held is None:
                await send(message)
                return
            body += message.get("body", b"")
            if len(body) > MAX_ERROR:  # not an error shape worth reading: pass it on
                await send(held)
                await send({"type": "http.response.body", "body": body,
                            "more_body": message.get("more_body", False)})
                held = None
                return
            if not message.get("more_body", False):
                await _page(send, held, body)

        await self.app(scope, receive, send_page)


async def _page(send: Send, start: Message, body: bytes) -> None:
    try:
        error = json.loads(body)
    except ValueError:
        error = {}
    if not isinstance(error, dict):
        error = {}
    html = environment().get_template("refused.html").render(
        status=start["status"], code=str(error.get("error_code", "")),
        message=str(error.get("message", "")) or "refused").encode()
    kept = [(k, v) for k, v in start.get("headers", [])
            if k.lower() not in (b"content-type", b"content-length")]
    headers = [*kept, (b"content-type", b"text/html; charset=utf-8"),
               (b"content-length", str(len(html)).encode()),
               *((k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()
                 if k.lower().encode() not in {h for h, _ in kept})]
    await send({**start, "headers": headers})
    await send({"type": "http.response.body", "body": html})
