"""Search results a caller may not see, and whose searches are filtered.

MLflow's searches over experiments and registered models take no single resource to
check, so their answers are filtered: only experiments and models the caller holds a
grant on, and no run, logged model or model version whose record declares personal
data unless the caller is cleared for it. Each search has a view: one item as the
caller may see it, or None when it is hidden. ``paging`` answers the search with the
visible items only, paged as if the hidden ones did not exist.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from starlette.types import ASGIApp, Receive, Scope, Send

from mlflow_compliance.identity.principal import Principal, Role
from mlflow_compliance.identity.store import GrantKind
from mlflow_compliance.record import PERSONAL_DATA_TAG, declares_personal_data
from mlflow_compliance.server.authorization import paging
from mlflow_compliance.server.authorization.defaults import Grants
from mlflow_compliance.server.authorization.paging import Search, View
from mlflow_compliance.server.authorization.resources import Resolver


def _tags(item: dict[str, Any], *path: str) -> dict[str, str]:
    for part in path:
        item = item.get(part) or {}
    tags = item.get("tags") or []
    return {t.get("key"): t.get("value") for t in tags} if isinstance(tags, list) else {}


def _personal(tags: dict[str, str]) -> bool:
    return declares_personal_data(tags.get(PERSONAL_DATA_TAG))


def _text(value: Any) -> str | None:
    return str(value) if value else None


class Lineage:
    """Whether a logged model or model version is personal data through what it was made
    from (its source run, its logged model), each source looked up once per request."""

    def __init__(self, resolver: Resolver) -> None:
        self.run = functools.cache(resolver.run_is_personal)
        self.model = functools.cache(resolver.logged_model_is_personal)

    def version(self, v: dict[str, Any]) -> bool:
        return (_personal(_tags(v)) or self.run(_text(v.get("run_id")))
                or self.model(_text(v.get("model_id"))))


def experiments(store: Grants, who: Principal, resolver: Resolver) -> View:
    allowed = store.readable(who.name, GrantKind.EXPERIMENT)
    return lambda e: e if e.get("experiment_id") in allowed else None


def runs(store: Grants, who: Principal, resolver: Resolver) -> View:
    return lambda r: None if _personal(_tags(r, "data")) else r


def logged_models(store: Grants, who: Principal, resolver: Resolver) -> View:
    lineage = Lineage(resolver)

    def view(m: dict[str, Any]) -> dict[str, Any] | None:
        info = m.get("info") or {}
        personal = _personal(_tags(m, "info")) or lineage.run(_text(info.get("source_run_id")))
        return None if personal else m

    return view


def registered_models(store: Grants, who: Principal, resolver: Resolver) -> View:
    allowed = store.readable(who.name, GrantKind.REGISTERED_MODEL)
    lineage = Lineage(resolver)

    def view(m: dict[str, Any]) -> dict[str, Any] | None:
        if m.get("name") not in allowed:
            return None
        if who.cleared_for_personal_data or "latest_versions" not in m:
            return m
        # The model is shown; its latest versions that declare personal data are not.
        latest = [v for v in m["latest_versions"] or [] if not lineage.version(v)]
        return {k: v for k, v in m.items() if k != "latest_versions"} | (
            {"latest_versions": latest} if latest else {}
        )

    return view


def model_versions(store: Grants, who: Principal, resolver: Resolver) -> View:
    allowed = store.readable(who.name, GrantKind.REGISTERED_MODEL)
    cleared = who.cleared_for_personal_data
    lineage = Lineage(resolver)
    return lambda v: (
        v if v.get("name") in allowed and (cleared or not lineage.version(v)) else None
    )


def traces(store: Grants, who: Principal, resolver: Resolver) -> View:
    lineage = functools.cache(resolver.run_is_personal)

    def view(t: dict[str, Any]) -> dict[str, Any] | None:
        return None if resolver.trace_is_personal(t, lineage) else t

    return view


def _users(who: Principal) -> bool:
    return who.role is Role.USER


def _uncleared(who: Principal) -> bool:
    return not who.cleared_for_personal_data


@dataclass(frozen=True)
class SearchFilter:
    search: Search  # the search, and the answer's list of what it found (search.items)
    applies: Callable[[Principal], bool]  # whose answers are filtered; others pass as is
    # reads the grants once; the view it gives may read the stores (lineage)
    view: Callable[[Grants, Principal, Resolver], View]

    async def answer(
        self, app: ASGIApp, scope: Scope, receive: Receive, send: Send,
        store: Grants, who: Principal, resolver: Resolver,
    ) -> None:
        """Answer the search with what ``who`` may see (``paging.answer_visible``)."""
        view = await anyio.to_thread.run_sync(self.view, store, who, resolver)
        await paging.answer_visible(app, scope, receive, send, self.search, view)


_EXPERIMENTS = SearchFilter(paging.EXPERIMENTS, _users, experiments)

BY_ROUTE: dict[tuple[str, str], SearchFilter] = {
    ("POST", "/api/2.0/mlflow/experiments/search"): _EXPERIMENTS,
    ("GET", "/api/2.0/mlflow/experiments/search"): _EXPERIMENTS,
    ("POST", "/api/2.0/mlflow/runs/search"): SearchFilter(paging.RUNS, _uncleared, runs),
    ("POST", "/api/2.0/mlflow/logged-models/search"): SearchFilter(
        paging.LOGGED_MODELS, _uncleared, logged_models
    ),
    ("GET", "/api/2.0/mlflow/registered-models/search"): SearchFilter(
        paging.REGISTERED_MODELS, _users, registered_models
    ),
    ("GET", "/api/2.0/mlflow/model-versions/search"): SearchFilter(
        paging.MODEL_VERSIONS, _users, model_versions
    ),
    ("POST", "/api/3.0/mlflow/traces/search"): SearchFilter(paging.TRACES, _uncleared, traces),
    # GET only: a POST to the same path starts a trace.
    ("GET", "/api/2.0/mlflow/traces"): SearchFilter(paging.LEGACY_TRACES, _uncleared, traces),
}
"""The filtered searches, by the route table's method and path."""
