"""Every error reply the compliance layers send, in MLflow's own error shape, so MLflow
clients show them as they show MLflow's: ``{"error_code": ..., "message": ...}``."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from starlette.responses import JSONResponse
from starlette.types import Send

if TYPE_CHECKING:
    from mlflow.exceptions import MlflowException


async def send_error(
    send: Send,
    status: int,
    error_code: str,
    message: str,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """Send ``{"error_code": ..., "message": ...}`` with the given HTTP status."""
    body = json.dumps({"error_code": error_code, "message": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def send_unauthenticated(send: Send, message: str) -> None:
    """401, with the challenge that makes a browser ask for Basic credentials (the UI)."""
    await send_error(
        send, 401, "UNAUTHENTICATED", message,
        [(b"www-authenticate", b'Basic realm="mlflow-compliance", charset="UTF-8"')],
    )


async def send_forbidden(send: Send, message: str) -> None:
    await send_error(send, 403, "PERMISSION_DENIED", message)


async def send_invalid(send: Send, message: str) -> None:
    """400: the request names a field wrongly; ``message`` names it and what is allowed."""
    await send_error(send, 400, "INVALID_PARAMETER_VALUE", message)


async def send_too_large(send: Send) -> None:
    """413: a body a layer must read is larger than it will buffer (server/body.py)."""
    await send_error(send, 413, "RESOURCE_EXHAUSTED", "request body: too large")


async def send_mlflow_exception(send: Send, error: MlflowException) -> None:
    """An MlflowException raised while a layer reads MLflow's stores, as MLflow sends it."""
    body = error.serialize_as_json().encode()
    await send({
        "type": "http.response.start",
        "status": error.get_http_status_code(),
        "headers": [(b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode())],
    })
    await send({"type": "http.response.body", "body": body})


def error_response(status: int, error_code: str, message: str) -> JSONResponse:
    """The same shape for endpoints built on Starlette's Router (administration)."""
    return JSONResponse({"error_code": error_code, "message": message}, status_code=status)
