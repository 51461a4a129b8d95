"""REST routes of a model version's documents (``/api/2.0/compliance/model-versions/...``).

``documents?name=&version=&kind=&format=`` answers one document (model card, dataset
card, CycloneDX, SPDX, Annex IV as Markdown, HTML or PDF) as a file; ``bundle?name=&
version=`` answers the signed ZIP of all of them with the evidence
(server/version_documents.py). The route table asks read access to the registered
model, and the authorization layer read access to the version's source run
(authorization/named.py). Errors are MLflow's shape: 400 naming the field, 404 for a
version that does not exist.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

from mlflow.exceptions import MlflowException
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from mlflow_compliance.server.administration import PREFIX
from mlflow_compliance.server.audit import note
from mlflow_compliance.server.errors import error_response
from mlflow_compliance.server.query import query_fields
from mlflow_compliance.server.routed import RoutedLayer
from mlflow_compliance.server.version_documents import BadRequest, VersionDocuments

DOCUMENTS = PREFIX + "model-versions/documents"
BUNDLE = PREFIX + "model-versions/bundle"


def _file(name: str, media_type: str, content: bytes) -> Response:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return Response(content, media_type=media_type, headers={
        "Content-Disposition": f'attachment; filename="{safe}"',
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
    })


def _endpoint(make: Callable[[dict[str, Any]], tuple[str, str, bytes]]
              ) -> Callable[[Request], Awaitable[Response]]:
    async def run(request: Request) -> Response:
        data = query_fields(request.scope)
        try:
            name, media_type, content = await run_in_threadpool(make, data)
        except BadRequest as e:
            return error_response(400, "INVALID_PARAMETER_VALUE", str(e))
        except LookupError as e:
            return error_response(404, "RESOURCE_DOES_NOT_EXIST", str(e).strip("'\""))
        except MlflowException as e:
            return error_response(e.get_http_status_code(), str(e.error_code),
                                  e.message.splitlines()[0])
        note(request.scope, decision={"file": name, "bytes": str(len(content)),
                                      "sha256": hashlib.sha256(content).hexdigest()})
        return _file(name, media_type, content)

    return run


class Documents(RoutedLayer):
    """ASGI layer: answers the documents and bundle routes, hands the rest on."""

    def __init__(self, app: ASGIApp, service: VersionDocuments) -> None:
        routes = [
            Route(DOCUMENTS, _endpoint(service.document), methods=["GET"]),
            Route(BUNDLE, _endpoint(_bundle(service)), methods=["GET"]),
        ]
        super().__init__(app, routes)


def _bundle(service: VersionDocuments) -> Callable[[dict[str, Any]], tuple[str, str, bytes]]:
    def make(data: dict[str, Any]) -> tuple[str, str, bytes]:
        name, content = service.bundle(data)
        return name, "application/zip", content

    return make
