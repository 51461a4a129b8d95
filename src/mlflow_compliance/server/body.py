"""Reading a request body once per request and handing the same bytes on.

The first layer that needs the JSON body reads and parses it and leaves it in the ASGI
scope; every later layer takes it from there instead of parsing it again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.types import Message, Receive, Scope

MAX_BODY_BYTES = 64 * 1024 * 1024
"""A tag-writing or search request larger than this is refused rather than buffered."""


class BodyTooLarge(Exception):
    pass


async def read_body(receive: Receive, limit: int = MAX_BODY_BYTES) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A receive callable that yields ``body`` once, then defers to the real one."""
    sent = False

    async def receive_again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return receive_again


BODY_KEY = "mlflow_compliance.body"


@dataclass(frozen=True)
class JsonBody:
    raw: bytes
    payload: Any


def parse_json(body: bytes) -> Any:
    """The body as MLflow's handlers will read it, double-encoded JSON included."""
    try:
        payload = json.loads(body) if body else None
        if isinstance(payload, str):  # MLflow decodes a JSON string a second time
            payload = json.loads(payload)
    except ValueError:
        return None  # not JSON: MLflow refuses it with its own error
    return payload


async def json_body(scope: Scope, receive: Receive) -> tuple[Any, Receive]:
    """The request's parsed JSON body and the receive to hand on; raises BodyTooLarge."""
    cached: JsonBody | None = scope.get(BODY_KEY)
    if cached is not None:
        return cached.payload, receive
    raw = await read_body(receive)
    scope[BODY_KEY] = JsonBody(raw, parse_json(raw))
    return scope[BODY_KEY].payload, replay(raw, receive)


def with_body(scope: Scope, receive: Receive, data: Any) -> tuple[Scope, Receive]:
    """A scope and receive that carry ``data`` as the JSON body from here on."""
    raw = json.dumps(data).encode()
    headers = [(k, v) for k, v in scope["headers"] if k not in (b"content-type", b"content-length")]
    headers += [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
    new_scope = {**scope, "headers": headers, BODY_KEY: JsonBody(raw, data)}
    return new_scope, replay(raw, receive)
