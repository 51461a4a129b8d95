"""The request as MLflow will read it, or refused when MLflow could read it another way.

MLflow's Flask handlers read a query with Werkzeug (``args.get(name)``: the first of
repeated keys; ``x[]`` is another key), its FastAPI routes with Starlette (the last of
repeated keys), and JSON bodies through protobuf's ``ParseDict``, which takes a
field's snake_case name *or* its camelCase JSON name (``runId`` is ``run_id``).
A layer that reads one spelling while the handler reads another authorizes one object
and lets MLflow act on another. So a request that spells an identifying field in any
way but the one canonical spelling (``x[]``, the same key twice) is refused with 400,
and what remains is read exactly as every MLflow parser reads it. A JSON body of a
protobuf route is first put in its message's spelling (``messages``: ``runId`` becomes
``run_id``, as ParseDict reads it); on other routes a camelCase identifying key is
refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from mlflow_compliance.server.authorization.table import ROUTES, Route, Source, Where

# Fields that name an object, a place or a state an authorization decision rests on,
# besides every field the route table names.
IDENTIFYING = frozenset(
    {w.name for r in ROUTES for w in r.where}
    | {
        "run_id", "run_uuid", "run_ids", "experiment_id", "experiment_ids",
        "experiment_name", "model_id", "model_ids", "source_run_id", "name", "new_name",
        "version", "path", "source", "artifact_location", "artifact_uri", "dataset_id",
        "dataset_ids", "trace_id", "trace_ids", "request_id", "request_ids", "alias",
        "stage", "key", "tags", "models", "metrics", "datasets", "locations",
    }
)
# List fields (repeated in MLflow's request messages): a repeated query key is the list.
LISTS = frozenset(
    {"experiment_ids", "run_ids", "trace_ids", "request_ids", "model_ids", "locations"}
)
_CAMEL = re.compile(r"[a-z0-9][A-Z]")


def snake(key: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", lambda m: "_" + m[1].lower(), key)


def spelling_problem(
    route: Route, query: Mapping[str, list[str]], body: Any, canonical_body: bool = False
) -> str | None:
    """Why this request could be read two ways, or None; the message names the field.

    ``canonical_body``: the body was already put in its protobuf message's spelling
    (``messages``), as MLflow reads it; otherwise camelCase identifying keys are refused."""
    many = LISTS | {w.name for w in route.where if w.source is Source.QUERY and w.many}
    for key, got in query.items():
        base = key[:-2] if key.endswith("[]") else key
        if base in IDENTIFYING or snake(base) in IDENTIFYING:
            if key != base:
                return f"{key}: spell it {snake(base)} (repeat the key for a list)"
            if base != snake(base):
                return f"{key}: spell it {snake(base)}"
            if len(got) > 1 and base not in many:
                return f"{key}: given {len(got)} times; give it once"
    return None if canonical_body else _camel_in(body)


def _camel_in(body: Any) -> str | None:
    """A camelCase spelling of an identifying field among the body's keys or the keys of
    the objects in its lists (``metrics[].modelId``). Objects nested in objects are left
    alone: they are maps with the caller's own keys (``tags``), as MLflow's own check of
    conflicting spellings leaves them, or nested messages no decision rests on."""
    if not isinstance(body, dict):
        return None
    objects = [body]
    for value in body.values():
        if isinstance(value, list):
            objects += [item for item in value[:10_000] if isinstance(item, dict)]
    for obj in objects:
        for key in obj:
            # islower() first: snake_case keys, nearly all of them, skip the regex
            if isinstance(key, str) and not key.islower() and _CAMEL.search(key) \
                    and snake(key) in IDENTIFYING:
                return f"{key}: spell it {snake(key)}"
    return None


def _walk(body: Any, name: str) -> Any:
    """A body field by its dotted name (``trace.trace_info.experiment_id``); ``x[]`` takes
    the field from each item of list ``x`` (the items without it are skipped)."""
    found: list[Any] = [body]
    listed = False
    for part in name.split("."):
        each = part.endswith("[]")
        key = part[:-2] if each else part
        found = [f.get(key) for f in found if isinstance(f, dict)]
        found = [f for f in found if f is not None]
        if each:
            listed = True
            found = [item for f in found if isinstance(f, list) for item in f]
    if listed:
        return found
    return found[0] if found else None


def values(where: tuple[Where, ...], params: Mapping[str, str],
           query: Mapping[str, list[str]], body: Any,
           headers: Mapping[str, str] | None = None) -> tuple[Where, list[str]] | None:
    """The first ``where`` present in the request, and its value(s) as strings.

    Only canonical spellings are read (``spelling_problem`` refused the others), the
    way MLflow reads them: ``run_id or run_uuid``, an empty value counting as absent.
    """
    for w in where:
        raw: Any
        if w.source is Source.PATH:
            raw = params.get(w.name)
        elif w.source is Source.HEADER:
            raw = (headers or {}).get(w.name)
        elif w.source is Source.QUERY:
            got = query.get(w.name)
            raw = got if w.many else (got[0] if got else None)
        else:
            raw = _walk(body, w.name)
        if raw is None or raw == "" or raw == []:
            continue
        items = raw if isinstance(raw, list) else [raw]
        return w, [str(v) for v in items]
    return None


def field(query: Mapping[str, list[str]], body: Any, name: str) -> Any:
    """A single field MLflow reads from the body (or the query of a GET)."""
    if isinstance(body, dict) and name in body:
        return body[name]
    got = query.get(name)
    return got[0] if got else None
