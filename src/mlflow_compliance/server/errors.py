"""Answers in MLflow's own error shape, so MLflow clients show them as they show MLflow's."""

from __future__ import annotations

import json

from starlette.types import Send


async def send_error(send: Send, status: int, error_code: str, message: str) -> None:
    """Send ``{"error_code": ..., "message": ...}`` with the given HTTP status."""
    body = json.dumps({"error_code": error_code, "message": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
