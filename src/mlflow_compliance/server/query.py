"""A request's query as the authorization layer read it, for the handlers behind it.

The authorization layer decides on the first value of a repeated query field, as MLflow
does (``request.args.get``); Starlette's ``request.query_params`` answers the last one.
A handler reading ``?name=A&name=B`` that way would serve B after A was allowed, so our
own handlers read their query here: the first value of each field, parsed as the layer
parses it.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.types import Scope


def query_fields(scope: Scope) -> dict[str, str]:
    """Each query field's first value (blank values kept, as the layer keeps them)."""
    parsed = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    return {name: values[0] for name, values in parsed.items() if values}
