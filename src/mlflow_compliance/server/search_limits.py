"""Bounds on the work one search can cause (``SearchLimits``, inside authorization).

Every route that takes a search filter has it
bounded before MLflow parses and runs it, parsed with MLflow's own parser for that
route: at most 8192 characters and 20 comparisons (each adds a join: on SQLite 50 took
seconds and 100 ran ten seconds before hitting its 64-table limit; PostgreSQL has no
such stop), and each RLIKE pattern must be one RE2 can run (no backreferences, no
lookaround), at most 1000 characters.

Why RE2 rather than a list of unsafe patterns: on SQLite MLflow registers Python's
backtracking ``re.search`` as REGEXP, which holds the GIL, so one pattern stops the
whole worker, ``/health`` included; and harmless-looking patterns blow up as well
(``.*a.*a.*b`` is polynomial, ``(a+)+$`` exponential), so no syntactic test tells the
safe ones apart. RE2 matches in time linear in the value and releases the GIL. This
layer therefore registers RE2 as REGEXP on MLflow's SQLite engines (SQLAlchemy's
``connect`` event, after MLflow's own listener), and refuses at the request what RE2
cannot run, which would otherwise match nothing on SQLite and need backtracking on
PostgreSQL. PostgreSQL evaluates ``~`` in the database with its automaton-based engine
(fast on the attack patterns), not in the worker. A stored filter (online scoring) is
run later by MLflow's job processes with Python's ``re``, so it may not use RLIKE.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

import anyio.to_thread
import re2
from mlflow.utils import search_utils as s
from sqlalchemy import event
from sqlalchemy.engine import Engine
from starlette.types import ASGIApp, Receive, Scope, Send

from mlflow_compliance.server.authorization.layer import decided
from mlflow_compliance.server.authorization.reading import snake
from mlflow_compliance.server.body import BodyTooLarge, json_body
from mlflow_compliance.server.errors import send_invalid, send_too_large

MAX_FILTER_CHARS = 8192
MAX_COMPARISONS = 20
MAX_PATTERN_CHARS = 1000




Parser = Callable[[str], Any]
_TRACES: Parser = s.SearchTraceUtils.parse_search_filter_for_search_traces

_MCP = "/api/3.0/mlflow/mcp-servers"
# (method, route the authorization layer decided on) -> MLflow's parser for it, and the fields
# that carry its filters (read in the query string and the JSON body, any spelling).
SEARCHES: dict[tuple[str, str], tuple[Parser, tuple[str, ...]]] = {
    ("POST", "/api/2.0/mlflow/runs/search"): (s.SearchUtils.parse_search_filter, ("filter",)),
    **{
        (m, "/api/2.0/mlflow/experiments/search"):
            (s.SearchExperimentsUtils.parse_search_filter, ("filter",))
        for m in ("GET", "POST")
    },
    ("GET", "/api/2.0/mlflow/registered-models/search"):
        (s.SearchModelUtils.parse_search_filter, ("filter",)),
    ("GET", "/api/2.0/mlflow/model-versions/search"):
        (s.SearchModelVersionUtils.parse_search_filter, ("filter",)),
    ("POST", "/api/2.0/mlflow/logged-models/search"):
        (s.SearchLoggedModelsUtils.parse_search_filter, ("filter",)),
    ("POST", "/api/3.0/mlflow/traces/search"): (_TRACES, ("filter",)),
    ("GET", "/api/2.0/mlflow/traces"): (_TRACES, ("filter",)),
    ("POST", "/api/3.0/mlflow/traces/calculate-filter-correlation"):
        (_TRACES, ("filter_string1", "filter_string2", "base_filter")),
    ("POST", "/api/3.0/mlflow/traces/metrics"):
        (s.SearchTraceMetricsUtils.parse_search_filter, ("filters",)),
    ("PUT", "/api/3.0/mlflow/scorers/online-config"): (_TRACES, ("filter_string",)),
    **{
        (m, "/api/3.0/mlflow/datasets/search"):
            (s.SearchEvaluationDatasetsUtils.parse_search_filter, ("filter_string",))
        for m in ("GET", "POST")
    },
    ("POST", "/api/3.0/mlflow/issues/search"):
        (s.SearchIssuesUtils.parse_search_filter, ("filter_string",)),
    ("GET", _MCP): (s.SearchMCPServerUtils.parse_search_filter, ("filter_string",)),
    ("GET", _MCP + "/endpoints"):
        (s.SearchMCPAccessEndpointUtils.parse_search_filter, ("filter_string",)),
    ("GET", _MCP + "/{name:path}/endpoints"):
        (s.SearchMCPAccessEndpointUtils.parse_search_filter, ("filter_string",)),
    ("GET", _MCP + "/{name:path}/versions"):
        (s.SearchMCPServerVersionUtils.parse_search_filter, ("filter_string",)),
}
# Stored filters MLflow's job processes run later, on SQLite with Python's re: no RLIKE.
RUN_ELSEWHERE = {("PUT", "/api/3.0/mlflow/scorers/online-config")}

RE2_OPTIONS = re2.Options()
RE2_OPTIONS.log_errors = False


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> Any:
    return re2.compile(pattern, RE2_OPTIONS)


def re2_search(pattern: str | None, value: str | None) -> bool:
    """MLflow's SQLite REGEXP (``re.search``; no match for no value or a bad pattern), in RE2."""
    if pattern is None or value is None:
        return False
    try:
        return _compiled(pattern).search(value) is not None
    except re2.error:
        return False


def _register_re2(connection: Any, _record: Any) -> None:
    connection.create_function("regexp", 2, re2_search, deterministic=True)


def evaluate_regexp_with_re2(engine: Engine) -> None:
    """RE2 as REGEXP on every connection this SQLite engine opens from now on."""
    event.listen(engine, "connect", _register_re2)  # runs after MLflow's own listener
    engine.dispose()  # connections already pooled were opened with Python's re


def mlflow_sqlite_engines() -> list[Engine]:
    """The SQLite engines of this worker's MLflow tracking and registry stores."""
    from mlflow.server.handlers import _get_model_registry_store, _get_tracking_store

    engines: dict[int, Engine] = {}
    for store in (_get_tracking_store(), _get_model_registry_store()):
        for engine in (getattr(store, "engine", None), getattr(store, "read_engine", None)):
            if isinstance(engine, Engine) and engine.dialect.name == "sqlite":
                engines[id(engine)] = engine
    return list(engines.values())


def pattern_problem(pattern: Any) -> str | None:
    """Why RLIKE may not run this pattern, or None."""
    if not isinstance(pattern, str):
        return None  # MLflow refuses it itself
    if len(pattern) > MAX_PATTERN_CHARS:
        return f"{len(pattern)} characters"
    try:
        _compiled(pattern)
    except re2.error as e:
        return e.args[0].decode() if e.args and isinstance(e.args[0], bytes) else str(e)
    return None


def filter_problem(
    parser: Parser, filters: list[tuple[str, str]], rlike: bool = True
) -> str | None:
    """Why these filters are too much work, or None; parsed as MLflow will parse them."""
    comparisons = 0
    for name, text in filters:
        if len(text) > MAX_FILTER_CHARS:
            return f"{name}: {len(text)} characters; allowed: at most {MAX_FILTER_CHARS}"
        for comparator, value in _comparisons(parser, text):
            comparisons += 1
            if comparator == "RLIKE" and not rlike:
                return (f"{name}: RLIKE is not allowed in a stored filter (MLflow's jobs run "
                        "it with Python's backtracking re); allowed: every other comparator")
            reason = pattern_problem(value) if comparator == "RLIKE" else None
            if reason:
                return (f"{name}: RLIKE pattern {str(value)[:80]!r} is not allowed ({reason}); "
                        "allowed: RE2 syntax without backreferences or lookaround, at most "
                        f"{MAX_PATTERN_CHARS} characters")
        if comparisons > MAX_COMPARISONS:
            return f"{name}: {comparisons} comparisons; allowed: at most {MAX_COMPARISONS}"
    return None


def _comparisons(parser: Parser, text: str) -> list[tuple[str, Any]]:
    """Each clause's comparator and value as MLflow parses them; none if it cannot."""
    try:
        parsed = parser(text) if text else []
    except Exception:
        return []  # MLflow's handler parses it the same way, and refuses it
    clauses = [
        clause if isinstance(clause, dict) else vars(clause)
        for clause in (parsed if isinstance(parsed, list) else [parsed])
    ]
    return [(str(c.get("comparator", "")).upper(), c.get("value")) for c in clauses]


def _obviously_small(filters: list[tuple[str, str]]) -> bool:
    """True when no parse is needed: short, no RLIKE, too few ANDs/ORs to exceed the limit."""
    words = 0
    for _, text in filters:
        lowered = text.lower()
        if len(text) > MAX_FILTER_CHARS or "rlike" in lowered:
            return False
        words += 1 + lowered.count("and") + lowered.count("or")
    return words <= MAX_COMPARISONS


class SearchLimits:
    """Installs RE2 on MLflow's SQLite engines (``engines``) when built."""

    def __init__(
        self, app: ASGIApp, engines: Callable[[], Iterable[Engine]] = mlflow_sqlite_engines
    ) -> None:
        self.app = app
        for engine in engines():
            evaluate_regexp_with_re2(engine)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        allowed = decided(scope) if scope["type"] == "http" else None
        key = (allowed.route.method, allowed.route.path) if allowed else ("", "")
        search = SEARCHES.get(key)
        if search is None:
            await self.app(scope, receive, send)
            return
        parser, fields = search
        try:
            body, receive = await json_body(scope, receive)
        except BodyTooLarge:
            await send_too_large(send)
            return
        filters = _filters(fields, scope.get("query_string", b""), body)
        if not _obviously_small(filters):
            problem = await anyio.to_thread.run_sync(
                filter_problem, parser, filters, key not in RUN_ELSEWHERE
            )
            if problem:
                await send_invalid(send, problem)
                return
        await self.app(scope, receive, send)


def _filters(fields: tuple[str, ...], query: bytes, body: Any) -> list[tuple[str, str]]:
    """Every value of a filter field, whatever its spelling (``filterString``, ``x[]``)."""
    found: list[tuple[str, Any]] = [
        (key, value) for key, value in parse_qsl(query.decode("latin-1"))
        if snake(key.removesuffix("[]")) in fields
    ]
    if isinstance(body, dict):
        found += [(key, value) for key, value in body.items() if snake(key) in fields]
    return [
        (key, item)
        for key, value in found
        for item in (value if isinstance(value, list) else [value])
        if isinstance(item, str)
    ]
