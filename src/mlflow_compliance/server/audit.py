"""Audit layer, outermost: every request becomes an entry, denied and failed ones too.

The entry is made durable before the response completes: the answer's start is held
back until its first body chunk, and the chunk that completes the answer is sent only
once the entry is committed. A client that has a complete answer therefore has an
entry, even if the server is killed right after. If the entry cannot be stored, the
client gets 503 instead (or, mid-stream, a broken connection), never a success.

Inner layers leave what they learn in an ``AuditNotes`` object in the scope (copies of
the scope share it): the route and the JSON body, parsed once. Identity comes from the
authentication layer's principal; nothing the client claims is recorded as identity.
Request bodies, headers and credentials are never recorded.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mlflow_compliance.audit.entry import MAX_FIELD, Entry, clean, now_us
from mlflow_compliance.audit.writer import AuditWriteFailed, GroupWriter
from mlflow_compliance.identity.principal import SCOPE_KEY, Principal
from mlflow_compliance.server.authorization.table import Route, Source, find
from mlflow_compliance.server.errors import send_error
from mlflow_compliance.server.routes import normalized

NOTES_KEY = "mlflow_compliance.audit"
REQUEST_ID_HEADER = b"x-request-id"
# Besides the route's own resource fields: what else identifies the object acted on.
# Never a field that can hold a secret (password, token) or data (values, bodies).
EXTRA_FIELDS = ("version", "alias", "key", "stage", "path", "kind", "target", "permission",
                "role")


@dataclass
class AuditNotes:
    route: Route | None = None
    params: dict[str, str] = field(default_factory=dict)
    payload: Any = None
    query: dict[str, list[str]] | None = None  # the parsed query string, if a layer parsed it
    # What a layer decided about the request, for the record (e.g. the promotion gate).
    decision: dict[str, str] = field(default_factory=dict)


def note(scope: Scope, **facts: Any) -> None:
    """Tell the audit layer what this layer learned about the request."""
    notes = scope.get(NOTES_KEY)
    if notes is not None:
        for name, value in facts.items():
            setattr(notes, name, value)


@dataclass
class _Exchange:
    status: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    content_length: int | None = None
    held_start: Message | None = None
    recorded: bool = False
    refused: bool = False  # the entry could not be stored; the app's answer is dropped


class AuditCapture:
    def __init__(self, app: ASGIApp, writer: GroupWriter) -> None:
        self.app = app
        self.writer = writer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, arrived = time.perf_counter_ns(), now_us()
        request_id = uuid.uuid4().hex
        notes = scope[NOTES_KEY] = AuditNotes()
        exchange = _Exchange()

        async def counting_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                exchange.bytes_in += len(message.get("body", b""))
            return message

        async def record() -> None:
            exchange.recorded = True
            duration = (time.perf_counter_ns() - started) // 1000
            entry = _entry(scope, notes, exchange, request_id, arrived, duration)
            await self.writer.append(entry)

        async def durable_send(message: Message) -> None:
            kind = message["type"]
            if exchange.refused:
                return
            if kind == "http.response.start":
                exchange.status = message["status"]
                headers = [*message.get("headers", []), (REQUEST_ID_HEADER, request_id.encode())]
                exchange.content_length = _content_length(headers)
                exchange.held_start = {**message, "headers": headers}
                return
            if kind == "http.response.body":
                exchange.bytes_out += len(message.get("body", b""))
                length = exchange.content_length
                complete = not message.get("more_body", False) or (
                    length is not None and exchange.bytes_out >= length
                )
                if complete and not exchange.recorded:
                    try:
                        await record()
                    except AuditWriteFailed:
                        if exchange.held_start is None:
                            raise  # mid-stream: break the connection, never complete it
                        exchange.refused = True
                        await send_error(
                            send, 503, "TEMPORARILY_UNAVAILABLE",
                            f"request {request_id}: the audit log cannot store its entry, "
                            "so this answer is withheld",
                        )
                        return
                if exchange.held_start is not None:
                    start, exchange.held_start = exchange.held_start, None
                    await send(start)
            await send(message)

        try:
            await self.app(scope, counting_receive, durable_send)
        except BaseException:
            if not exchange.recorded:
                exchange.status = exchange.status or 500
                with contextlib.suppress(AuditWriteFailed):  # the writer logged why
                    await record()
            raise
        if not exchange.recorded:  # the app ended without completing an answer
            await record()


def _content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _entry(
    scope: Scope,
    notes: AuditNotes,
    exchange: _Exchange,
    request_id: str,
    arrived: int,
    duration_us: int,
) -> Entry:
    method = scope["method"]
    route, params = notes.route, notes.params
    if route is None:
        found = find(method, normalized(scope["path"]))
        if found is not None:
            route, params = found
    who: Principal | None = scope.get(SCOPE_KEY)
    if who is not None:
        name, how = who.name, who.method
    elif any(k == b"authorization" for k, _ in scope["headers"]):
        name, how = "anonymous", "rejected"  # credentials given that did not check out
    else:
        name, how = "anonymous", "anonymous"
    client = scope.get("client")
    return Entry(
        time_us=arrived,
        request_id=request_id,
        principal=clean(name, 255),
        auth_method=how,
        client=clean(str(client[0]) if client else "", 255),
        method=clean(method, 16),
        route=route.path if route else clean(scope["path"]),
        action=route.action if route else "unknown.route",
        resources=Entry.resources_json(_resources(scope, route, params, notes)),
        status=exchange.status,
        bytes_in=exchange.bytes_in,
        bytes_out=exchange.bytes_out,
        duration_us=duration_us,
    )


def _resources(
    scope: Scope, route: Route | None, params: dict[str, str], notes: AuditNotes
) -> dict[str, Any]:
    """What the request names: the route's resource fields, from path, query or body."""
    query = notes.query
    if query is None:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    body = notes.payload if isinstance(notes.payload, dict) else {}
    named: dict[str, Any] = {}
    wanted = [(w.source, w.name) for w in route.where] if route else []
    wanted += [(Source.PATH, name) for name in params]
    for source in (Source.QUERY, Source.JSON):
        wanted += [(source, name) for name in EXTRA_FIELDS]
    for source, name in wanted:
        if name in named:
            continue
        if source is Source.PATH:
            value: Any = params.get(name)
        elif source is Source.QUERY:
            got = query.get(name) or query.get(name + "[]")
            value = got[0] if got and len(got) == 1 else got
        else:
            value = body.get(name)
        if value not in (None, "", []) and isinstance(value, str | int | list):
            named[name] = _short(value)
    for name, value in notes.decision.items():
        named[name] = _short(value)
    return named


def _short(value: Any) -> Any:
    if isinstance(value, list):
        return [clean(str(v), 256) for v in value[:50]]
    return clean(str(value), MAX_FIELD)
