"""ASGI layer: a link to the compliance pages on MLflow's own UI page.

MLflow's React app has no slot for a plugin's link, and its files are not ours to
change; its UI is one HTML page (``index.html``, at ``/`` and at
``/static-files/index.html``) that loads the app. This layer adds a small fixed link,
"Compliance", before that page's ``</body>``: MLflow's answer has no
Content-Security-Policy, so an inline style is allowed, and the link works without the
app's JavaScript. Only that page's complete 200 HTML answer, not encoded, is
rewritten: its length fixed, its validators dropped and the request's conditions too
(they describe MLflow's file, not the page with the link). Every other answer, and any
answer that is not what is expected, passes through as it streams.

The page is recognised by the authorization layer's decision (the route table's path),
so it sits inside that layer.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mlflow_compliance.server.authorization.layer import decision

LINK_STYLE = (
    "position:fixed;left:50%;bottom:12px;transform:translateX(-50%);z-index:2147483647;"
    "padding:6px 14px;background:#0b4f8a;color:#ffffff;border-radius:4px;"
    "font:600 14px/1.3 system-ui,sans-serif;text-decoration:underline;"
    "box-shadow:0 1px 4px rgba(0,0,0,.35)"
)
MAX_PAGE = 1 << 20  # MLflow's index.html is under 1 kB; anything far larger passes as is
DROPPED = {b"content-length", b"etag", b"last-modified", b"accept-ranges"}
CONDITIONAL = {b"if-none-match", b"if-modified-since", b"if-range", b"range"}


def link(href: str) -> bytes:
    return (f'<a id="mlflow-compliance-link" href="{href}" style="{LINK_STYLE}">'
            "Compliance</a>").encode()


def href_from(path: str) -> str:
    """``compliance/`` relative to ``path``, reaching ``/compliance/`` from any folder
    (``/`` -> ``compliance/``; ``/static-files/index.html`` -> ``../compliance/``)."""
    return "../" * (path.count("/") - 1) + "compliance/"


def is_index(scope: Scope) -> bool:
    found = decision(scope)
    if found is None:
        return False
    route = found.route.path
    return route == "/" or (route == "/static-files/{path:path}"
                            and found.params.get("path") == "index.html")


def with_link(html: bytes, href: str) -> bytes | None:
    """``html`` with the link before its last ``</body>``; None if it has none."""
    at = html.lower().rfind(b"</body>")
    return None if at < 0 else html[:at] + link(href) + html[at:]


def _rewritable(start: Message) -> bool:
    headers = {k.lower(): v for k, v in start.get("headers", [])}
    encoding = headers.get(b"content-encoding", b"identity").strip().lower()
    return (start["status"] == 200 and encoding == b"identity"
            and headers.get(b"content-type", b"").lower().startswith(b"text/html"))


class _Rewrite:
    """The send of one index request: holds the answer until its body is complete."""

    def __init__(self, send: Send, href: str) -> None:
        self.send = send
        self.href = href
        self.start: Message | None = None
        self.chunks: list[bytes] = []
        self.size = 0
        self.passing = False

    async def __call__(self, message: Message) -> None:
        kind = message["type"]
        if self.passing or kind not in ("http.response.start", "http.response.body"):
            await self.send(message)
        elif kind == "http.response.start":
            self.passing = not _rewritable(message)
            if self.passing:
                await self.send(message)
            else:
                self.start = message
        else:
            await self._body(message)

    async def _body(self, message: Message) -> None:
        assert self.start is not None
        self.chunks.append(message.get("body", b""))
        self.size += len(self.chunks[-1])
        more = message.get("more_body", False)
        if self.size > MAX_PAGE:  # not the page we know: hand on what we hold, as is
            self.passing = True
            await self.send(self.start)
            await self.send({"type": "http.response.body", "body": b"".join(self.chunks),
                             "more_body": more})
            return
        if more:
            return
        html = b"".join(self.chunks)
        linked = with_link(html, self.href)
        start = self.start
        if linked is not None:
            kept = [(k, v) for k, v in start.get("headers", []) if k.lower() not in DROPPED]
            start = {**start, "headers": [*kept, (b"content-length", str(len(linked)).encode())]}
            html = linked
        await self.send(start)
        await self.send({"type": "http.response.body", "body": html, "more_body": False})


class IndexLink:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("method") == "GET" and is_index(scope):
            # always the whole page: a 304 or 206 would answer with MLflow's file, or
            # with a copy a browser cached before this layer was there
            headers = [(k, v) for k, v in scope["headers"] if k.lower() not in CONDITIONAL]
            await self.app({**scope, "headers": headers}, receive,
                           _Rewrite(send, href_from(scope.get("path", "/"))))
            return
        await self.app(scope, receive, send)
