"""Compliance validation: refuse a tag write or delete that leaves a bad record behind.

Runs on every route that writes or deletes tags (``tag_writes.READERS``), before MLflow
stores anything, so a refused request leaves nothing behind. First each tag on its own,
checked against the record of its kind (a dataset input's tags against the dataset
record, every other object's against the compliance record); then, reading the
object's current tags from MLflow's store in a thread, the record as a whole once the
request is applied and the rules across objects (``record_rules``). Every refusal is a
400 in MLflow's error shape whose message starts with the tag it is about.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from mlflow_compliance.record import check_tags
from mlflow_compliance.server.authorization.layer import decided
from mlflow_compliance.server.body import BodyTooLarge, json_body
from mlflow_compliance.server.errors import send_error, send_too_large
from mlflow_compliance.server.record_rules import RecordRules
from mlflow_compliance.server.tag_writes import METHODS, READERS, TagChange, changes, tag_list


def tags_in(payload: Any) -> Iterator[tuple[str, str]]:
    """Every (key, value) tag a tag-writing request body asks to store."""
    if not isinstance(payload, dict):
        return
    if "key" in payload and "value" in payload:  # set-tag routes
        yield str(payload["key"]), str(payload["value"])
    yield from tag_list(payload.get("tags"))
    for dataset_input in payload.get("datasets") or ():  # runs/log-inputs
        if isinstance(dataset_input, dict):
            yield from tag_list(dataset_input.get("tags"))


def _each_tag(found: list[TagChange]) -> list[str]:
    return [str(p) for change in found for p in check_tags(change.writes, change.kind)]


class ComplianceValidation:
    """ASGI layer: a 400 in MLflow's error shape for a write that breaks the record."""

    def __init__(self, app: ASGIApp, rules: RecordRules) -> None:
        self.app, self.rules = app, rules

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in METHODS:
            await self.app(scope, receive, send)
            return
        found = decided(scope)  # a missing decision raises
        path = found.route.path
        if (scope["method"], path) not in READERS:
            await self.app(scope, receive, send)
            return
        try:
            payload, receive = await json_body(scope, receive)
        except BodyTooLarge:
            await send_too_large(send)
            return
        requested = changes(scope["method"], path, payload, found.params)
        problems = _each_tag(requested)
        if not problems and any(self.rules.needs_store(path, c) for c in requested):
            problems = await run_in_threadpool(self._record_problems, path, requested)
        if problems:
            message = "; ".join(dict.fromkeys(problems))
            await send_error(send, 400, "INVALID_PARAMETER_VALUE", message)
            return
        await self.app(scope, receive, send)

    def _record_problems(self, path: str, requested: list[TagChange]) -> list[str]:
        return [p for change in requested for p in self.rules.problems(path, change)]
