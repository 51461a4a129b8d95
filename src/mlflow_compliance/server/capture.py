"""Holding an MLflow JSON answer back so a layer can change it before it is sent."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


async def rewrite_json_answer(
    app: ASGIApp,
    scope: Scope,
    receive: Receive,
    send: Send,
    change: Callable[[int, Any], Any],
) -> None:
    """Run ``app``; a JSON answer is passed through ``change(status, data)`` first."""
    start: Message | None = None
    chunks: list[bytes] = []

    async def hold(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = message
            return
        if message["type"] != "http.response.body" or start is None:
            await send(message)
            return
        chunks.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        body = b"".join(chunks)
        headers = [(k, v) for k, v in start.get("headers", []) if k != b"content-length"]
        is_json = any(k == b"content-type" and b"json" in v for k, v in headers)
        if is_json and body:
            data = change(start["status"], json.loads(body))
            body = json.dumps(data).encode()
        headers.append((b"content-length", str(len(body)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    await app(scope, receive, hold)
