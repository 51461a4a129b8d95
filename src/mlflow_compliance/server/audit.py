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

The entry names the object acted on, read as MLflow reads it: only the canonical
spelling of a field (``run_id``, never ``run_id[]`` or ``runId``). Two kinds of route
need more than the request: a create route's new object is named only in MLflow's
answer, so small JSON answers of those routes are copied (not held back) as they pass;
and no inner layer parses the JSON body of a trace route, so this layer reads it
first, when it is small, and hands the same bytes on.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mlflow_compliance.audit.entry import MAX_ITEMS, Entry, clean, now_us
from mlflow_compliance.audit.writer import AuditWriteFailed, GroupWriter
from mlflow_compliance.identity.principal import SCOPE_KEY, Principal
from mlflow_compliance.server.authorization.table import Route, Source, find
from mlflow_compliance.server.body import BODY_KEY, JsonBody, parse_json
from mlflow_compliance.server.errors import send_error
from mlflow_compliance.server.routes import normalized

NOTES_KEY = "mlflow_compliance.audit"
REQUEST_ID_HEADER = b"x-request-id"
# Besides the route's own resource fields: what else identifies the object acted on.
# Never a field that can hold a secret (password, token) or data (values, bodies).
EXTRA_FIELDS = ("version", "alias", "key", "stage", "path", "kind", "target", "permission",
                "role")
# Trace routes name traces and experiments in these fields (query or JSON body) besides
# their path parameters (trace_id, request_id): who read or changed which trace.
TRACE_FIELDS = ("trace_id", "trace_ids", "request_id", "request_ids", "experiment_id",
                "experiment_ids", "run_id", "locations")
TRACE_ACTIONS = ("trace.", "assessment.")
# Trace routes whose JSON body names the traces or experiments: read here, when small.
TRACE_BODIES = frozenset({
    "trace.info.batch.read", "trace.search", "trace.filter_correlation.calculate",
    "trace.metrics.query", "trace.delete", "trace.legacy.delete", "trace.legacy.start",
    "trace.run.link", "trace.prompts.link",
})
# Create routes: where MLflow's answer names what was created (resource, key path).
CREATED: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "experiment.create": (("experiment_id", ("experiment_id",)),),
    "run.create": (("run_id", ("run", "info", "run_id")),),
    "run.promptlab.create": (("run_id", ("run", "info", "run_id")),),
    "logged_model.create": (("model_id", ("model", "info", "model_id")),),
    "registered_model.create": (("name", ("registered_model", "name")),),
    "model_version.create": (("name", ("model_version", "name")),
                             ("version", ("model_version", "version"))),
    "trace.start": (("trace_id", ("trace", "trace_info", "trace_id")),
                    ("experiment_id", ("trace", "trace_info", "trace_location",
                                       "mlflow_experiment", "experiment_id"))),
    "trace.legacy.start": (("request_id", ("trace_info", "request_id")),
                           ("experiment_id", ("trace_info", "experiment_id"))),
    "assessment.create": (("assessment_id", ("assessment", "assessment_id")),),
}
SMALL = 64 * 1024
"""A create route's answer, or a trace route's body, is read only up to this size."""


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
    answer: list[bytes] | None = None  # a copy of a small JSON answer of a create route


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
                if exchange.status == 200 and _names_created(_route(scope, notes), exchange,
                                                             headers):
                    exchange.answer = []
                return
            if kind == "http.response.body":
                chunk = message.get("body", b"")
                exchange.bytes_out += len(chunk)
                if exchange.answer is not None:  # copied, not held back
                    if exchange.bytes_out > SMALL:
                        exchange.answer = None
                    else:
                        exchange.answer.append(chunk)
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
            inner_receive: Receive = counting_receive
            if scope["method"] == "POST" and "trace" in scope["path"]:
                route = _route(scope, notes)
                if route is not None and route.action in TRACE_BODIES:
                    inner_receive = await _read_small_json(scope, notes, counting_receive)
            await self.app(scope, inner_receive, durable_send)
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


def _route(scope: Scope, notes: AuditNotes) -> Route | None:
    """The request's route: as the authorization layer noted it, else looked up once."""
    if notes.route is None:
        found = find(scope["method"], normalized(scope["path"]))
        if found is not None:
            notes.route, notes.params = found
    return notes.route


def _names_created(
    route: Route | None, exchange: _Exchange, headers: list[tuple[bytes, bytes]]
) -> bool:
    """Whether this is a small JSON success of a create route: worth a copy."""
    if route is None or route.action not in CREATED or exchange.status != 200:
        return False
    if exchange.content_length is not None and exchange.content_length > SMALL:
        return False
    return any(k.lower() == b"content-type" and b"json" in v for k, v in headers)


async def _read_small_json(scope: Scope, notes: AuditNotes, receive: Receive) -> Receive:
    """Read the request body if it is at most ``SMALL`` bytes and note it parsed as JSON;
    the receive to hand on, which gives the app every message read here, unchanged."""
    read: deque[Message] = deque()
    size = 0
    while True:
        message = await receive()
        read.append(message)
        if message["type"] != "http.request":
            break  # disconnected: the app learns it in turn
        size += len(message.get("body", b""))
        if size > SMALL:
            break  # too large to name anything from: passed on as it comes
        if not message.get("more_body", False):
            raw = b"".join(m.get("body", b"") for m in read)
            notes.payload = parse_json(raw)
            scope.setdefault(BODY_KEY, JsonBody(raw, notes.payload))  # parsed once (body.py)
            break

    async def receive_again() -> Message:
        return read.popleft() if read else await receive()

    return receive_again


def _entry(
    scope: Scope,
    notes: AuditNotes,
    exchange: _Exchange,
    request_id: str,
    arrived: int,
    duration_us: int,
) -> Entry:
    method = scope["method"]
    route, params = _route(scope, notes), notes.params
    who: Principal | None = scope.get(SCOPE_KEY)
    if who is not None:
        name, how = who.name, who.method
    elif any(k == b"authorization" for k, _ in scope["headers"]):
        name, how = "anonymous", "rejected"  # credentials given that did not check out
    else:
        name, how = "anonymous", "anonymous"
    client = scope.get("client")
    named = _resources(scope, route, params, notes)
    if route is not None and exchange.answer:
        named.update(_created(route, b"".join(exchange.answer)))
    return Entry(
        time_us=arrived,
        request_id=request_id,
        principal=clean(name, 255),
        auth_method=how,
        client=clean(str(client[0]) if client else "", 255),
        method=clean(method, 16),
        route=route.path if route else clean(scope["path"]),
        action=route.action if route else "unknown.route",
        resources=Entry.resources_json(named),
        status=exchange.status,
        bytes_in=exchange.bytes_in,
        bytes_out=exchange.bytes_out,
        duration_us=duration_us,
    )


def _resources(
    scope: Scope, route: Route | None, params: dict[str, str], notes: AuditNotes
) -> dict[str, Any]:
    """What the request names: the route's resource fields, from path, query or body.

    Exact field names only, as MLflow reads them; a key given twice is named with every
    value it was given.
    """
    query = notes.query
    if query is None:
        raw_query = scope.get("query_string", b"")
        query = parse_qs(raw_query.decode("latin-1"), keep_blank_values=True) if raw_query \
            else {}
    body = notes.payload if isinstance(notes.payload, dict) else {}
    named: dict[str, Any] = {}
    wanted = [(w.source, w.name) for w in route.where] if route else []
    wanted += [(Source.PATH, name) for name in params]
    extra: tuple[str, ...] = EXTRA_FIELDS
    if route is not None and route.action.startswith(TRACE_ACTIONS):
        extra += TRACE_FIELDS
    for source in (Source.QUERY, Source.JSON):
        wanted += [(source, name) for name in extra]
    for source, name in wanted:
        if name in named:
            continue
        value: Any
        if source is Source.PATH:
            value = params.get(name)
        elif source is Source.QUERY:
            got = query.get(name, [])
            value = got[0] if len(got) == 1 else got
        elif name == "locations":
            value = _locations(body.get(name))
        else:
            value = body.get(name)
        value = _named(value)
        if value:
            named[name] = value
    named.update(notes.decision)
    return named


def _named(value: Any) -> str | list[str] | None:
    """A value as the entry names it: text, or a list of text; None for anything else."""
    if isinstance(value, str | int | float):
        return str(value)
    if isinstance(value, list):
        return [str(v) for v in value[:MAX_ITEMS] if isinstance(v, str | int | float)]
    return None


def _locations(value: Any) -> list[str] | None:
    """The experiments (or tables) of a trace search's ``locations``, canonical names."""
    if not isinstance(value, list):
        return None
    found = []
    for location in value[:MAX_ITEMS]:
        if not isinstance(location, dict):
            continue
        for kind, key in (("mlflow_experiment", "experiment_id"),
                          ("inference_table", "full_table_name")):
            place = location.get(kind)
            if isinstance(place, dict) and isinstance(place.get(key), str | int):
                found.append(str(place[key]))
    return found


def _created(route: Route, answer: bytes) -> dict[str, str]:
    """What a create route's JSON answer names as created."""
    try:
        data = json.loads(answer)
    except ValueError:
        return {}
    named = {}
    for name, key_path in CREATED.get(route.action, ()):
        value = data
        for key in key_path:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, str | int) and value != "":
            named[name] = str(value)
    return named
