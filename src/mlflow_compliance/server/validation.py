"""Compliance validation: refuse a tag write whose ``compliance.*`` value breaks the record.

Runs on every route that writes tags (``routes.TAG_WRITES``), before MLflow stores
anything, so a refused request leaves nothing behind. Each tag is checked on its own;
whether a whole record is complete is the job of the compliance checks.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from mlflow_compliance.record import check_tags
from mlflow_compliance.server.authorization.layer import decided_route
from mlflow_compliance.server.body import BodyTooLarge, json_body
from mlflow_compliance.server.errors import send_error, send_too_large
from mlflow_compliance.server.routes import TAG_WRITE_METHODS, TAG_WRITES


def tags_in(payload: Any) -> Iterator[tuple[str, str]]:
    """Every (key, value) tag a tag-writing request body asks to store."""
    if not isinstance(payload, dict):
        return
    if "key" in payload and "value" in payload:  # set-tag routes
        yield str(payload["key"]), str(payload["value"])
    yield from _tag_list(payload.get("tags"))
    for dataset_input in payload.get("datasets") or ():  # runs/log-inputs
        if isinstance(dataset_input, dict):
            yield from _tag_list(dataset_input.get("tags"))


def _tag_list(tags: Any) -> Iterator[tuple[str, str]]:
    if isinstance(tags, str):  # 3.0 datasets send their tags as a JSON object in a string
        try:
            tags = json.loads(tags)
        except ValueError:
            return
    if isinstance(tags, dict):
        yield from ((str(k), str(v)) for k, v in tags.items())
    elif isinstance(tags, list):
        for tag in tags:
            if isinstance(tag, dict) and "key" in tag:
                yield str(tag["key"]), str(tag.get("value", ""))


class ComplianceValidation:
    """ASGI layer: a 400 in MLflow's error shape for any invalid compliance tag."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = decided_route(scope)  # None outside HTTP; a missing decision raises
        if path is None or scope["method"] not in TAG_WRITE_METHODS or not TAG_WRITES.match(path):
            await self.app(scope, receive, send)
            return
        try:
            payload, receive = await json_body(scope, receive)
        except BodyTooLarge:
            await send_too_large(send)
            return
        problems = check_tags(tags_in(payload))
        if problems:
            message = "; ".join(map(str, problems))
            await send_error(send, 400, "INVALID_PARAMETER_VALUE", message)
            return
        await self.app(scope, receive, send)
