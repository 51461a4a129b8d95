"""One way for the project's own JSON routes to read a request, act, answer, be audited.

A route's handler takes the request's fields (the JSON object of a POST, the query of a
GET) and the signed-in principal's name, and answers a JSON object. Its domain errors
become MLflow's error shape through the route's refusals (400 bad input naming the
field, 404 missing, 409 not in a state to act on), a keyring failure is 503, and the
audit entry gets what the route notes of the answer (counts and ids, never a subject
id; refusals that are decisions are noted too).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from mlflow.exceptions import MlflowException
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from mlflow_compliance.encryption.keys.errors import KeyringError
from mlflow_compliance.identity.principal import ANONYMOUS, SCOPE_KEY, Principal
from mlflow_compliance.server.audit import note
from mlflow_compliance.server.errors import error_response
from mlflow_compliance.server.query import query_fields

Handler = Callable[[dict[str, Any], str], dict[str, Any]]
"""(the request's fields, who asks) -> the answer."""
Noted = Callable[[dict[str, Any]], dict[str, str]]
"""The answer -> what the audit entry records of it."""
MAX_NOTED = 500


@dataclass(frozen=True)
class Refusal:
    """Errors of these types answer ``status`` with MLflow's ``code`` and their message."""

    errors: tuple[type[Exception], ...]
    status: int
    code: str
    noted: bool = False  # a decision worth the audit entry (409: not done, and why)


def bad_input(*errors: type[Exception]) -> Refusal:
    return Refusal(errors, 400, "INVALID_PARAMETER_VALUE")


def missing(*errors: type[Exception]) -> Refusal:
    return Refusal(errors, 404, "RESOURCE_DOES_NOT_EXIST")


def not_now(*errors: type[Exception]) -> Refusal:
    return Refusal(errors, 409, "INVALID_STATE", noted=True)


def json_endpoint(handle: Handler, noted: Noted, refusals: Sequence[Refusal],
                  keys: str = "data keys") -> Callable[[Request], Awaitable[JSONResponse]]:
    """The Starlette endpoint running ``handle`` in a worker thread."""

    async def run(request: Request) -> JSONResponse:
        data: Any = query_fields(request.scope)
        if request.method == "POST":
            try:
                data = await request.json()
            except ValueError:
                data = None
            if not isinstance(data, dict):
                return error_response(400, "INVALID_PARAMETER_VALUE",
                                      "request body: not a JSON object")
        who: Principal = request.scope.get(SCOPE_KEY, ANONYMOUS)
        try:
            answer = await run_in_threadpool(handle, data, who.name)
        except KeyringError as e:
            return error_response(503, "TEMPORARILY_UNAVAILABLE", f"{keys}: {e}")
        except MlflowException as e:
            return error_response(e.get_http_status_code(), str(e.error_code),
                                  e.message.splitlines()[0])
        except Exception as e:
            for refusal in refusals:
                if isinstance(e, refusal.errors):
                    if refusal.noted:
                        note(request.scope, decision={"refused": str(e)[:MAX_NOTED]})
                    return error_response(refusal.status, refusal.code, str(e))
            raise
        note(request.scope, decision=noted(answer))
        return JSONResponse(answer)

    return run
