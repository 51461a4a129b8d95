"""The inventory page: every registered model version with its compliance at a glance
(``/compliance/``); the experiments and their runs are runs_page.py.

A version's checks are read from the stored results (check_results.py), never re-run
on a view: a version of the page never checked is checked once, then; one changed since
its check is marked so, and an admin re-checks everything with ``POST
/compliance/recheck``. A view costs a handful of queries whatever the page size: the
registry's own paged search for the models, one read of their versions and one of those
versions' tags (``listed_versions``), one of the stored results and one of the latest
sign-offs; the cells of a stored result are rendered once per worker
(``result_cells``). Runs have no model files to read, so their checks run live on the
runs shown.

Lists are narrowed to what the signed-in principal may see (``site.seen``); the
authorization layer has already decided on the route.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from markupsafe import Markup
from mlflow.entities.model_registry import RegisteredModel
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from mlflow_compliance.checks.packs import DEFAULT_PACKS
from mlflow_compliance.identity.principal import Principal, Role
from mlflow_compliance.paging import model_versions, pages
from mlflow_compliance.server.pages import check_results
from mlflow_compliance.server.pages.access import Seen
from mlflow_compliance.server.pages.check_results import (
    Key,
    VersionResult,
)
from mlflow_compliance.server.pages.forms import FormProblem, read_form
from mlflow_compliance.server.pages.page_query import (
    BadInput,
    choice,
    href,
    number,
    offset_of,
    token_of,
)
from mlflow_compliance.server.pages.render import SECURITY_HEADERS, page
from mlflow_compliance.server.pages.site import Site
from mlflow_compliance.server.query import query_fields

RISK_CLASSES = ("prohibited", "high", "minimal", "undeclared")
STATUSES = ("failing", "passing", "unchecked")
SIGNOFFS = ("none", "valid", "stale")
GATES = ("admitted", "refused")
SORTS = ("name", "risk", "checked")
NAMES_PER_SEARCH = 100  # model names per ``name IN (...)`` version search
NAMES_PER_QUERY = 500  # model names per query of MLflow's tables (SQLite's bound limit)
VERSIONS_PER_SEARCH = 10_000
RECHECK_BATCH = 200  # versions checked and stored per transaction by a re-check
MAX_FORM = 64 * 1024


# --- the inventory ---------------------------------------------------------------------


@dataclass(frozen=True)
class InventoryQuery:
    max_results: int = 100
    offset: int = 0
    q: str = ""
    risk: str = ""
    status: str = ""
    signoff: str = ""
    gate: str = ""
    sort: str = "name"

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> InventoryQuery:
        return cls(max_results=number(params, "max_results", 100, 1000),
                   offset=offset_of(params), q=params.get("q", "").strip()[:200],
                   risk=choice(params, "risk", RISK_CLASSES),
                   status=choice(params, "status", STATUSES),
                   signoff=choice(params, "signoff", SIGNOFFS),
                   gate=choice(params, "gate", GATES),
                   sort=choice(params, "sort", SORTS) or "name")

    @property
    def narrows_versions(self) -> bool:
        return bool(self.risk or self.status or self.signoff or self.gate)

    def fields(self, offset: int | None = None) -> dict[str, str]:
        """The query string's fields (a page's link keeps the filters)."""
        return {"q": self.q, "risk": self.risk, "status": self.status,
                "signoff": self.signoff, "gate": self.gate,
                "sort": "" if self.sort == "name" else self.sort,
                "max_results": "" if self.max_results == 100 else str(self.max_results),
                "page_token": token_of(self.offset if offset is None else offset)}


@dataclass
class Row:
    """One version of the inventory (or a model with no version the principal sees)."""

    name: str
    version: str = ""
    aliases: tuple[str, ...] = ()
    result: VersionResult | None = None
    changed: bool = False

    @property
    def href(self) -> str:
        return f"/compliance/version?name={quote(self.name, safe='')}&version={self.version}"

    @property
    def cells(self) -> Markup:
        return result_cells(self.result) if self.result else Markup()

    @property
    def risk(self) -> str:
        return (self.result.risk_class.strip().lower() if self.result else "") or "undeclared"

    @property
    def unchecked(self) -> bool:
        return self.result is None or self.changed

    def keeps(self, query: InventoryQuery) -> bool:
        if not self.version:
            return not query.narrows_versions
        r = self.result
        if query.risk and self.risk != query.risk:
            return False
        if query.status == "unchecked" and not self.unchecked:
            return False
        if query.status in ("failing", "passing") and (
                r is None or r.failing != (query.status == "failing")):
            return False
        if query.signoff and (r is None or r.signoff != query.signoff):
            return False
        return not query.gate or (r is not None and r.admitted == (query.gate == "admitted"))


CELLS_KEPT = 20_000
_cells: dict[tuple[str, str, int], Markup] = {}


def result_cells(r: VersionResult) -> Markup:
    """The row's cells a stored result gives (regulations to gate), escaped, made once
    per check and worker: a page of 1,000 versions rendered cell by cell in the template
    cost more than everything else on it."""
    key = (r.name, r.version, r.checked_at_us)
    if (kept := _cells.get(key)) is not None:
        return kept
    td, undeclared = Markup("<td>{}</td>"), Markup('<td class="undeclared">undeclared</td>')
    html = [td.format(", ".join(p.strip() for p in r.regulations.split(",") if p.strip())),
            td.format(r.risk_class) if r.risk_class else undeclared,
            td.format(r.personal_data) if r.personal_data else undeclared,
            td.format(r.owner)]
    for pack in DEFAULT_PACKS:
        counts = r.packs.get(pack, {})
        html.append(Markup('<td class="num">{}</td>').format(Markup(", ").join(
            Markup('<span class="{}">{} {}</span>').format(
                status if counts.get(status) else "muted", counts.get(status, 0), status)
            for status in ("pass", "fail", "undeclared"))))
    html.append(Markup('<td class="{}">{}</td>').format(
        r.signoff if r.signoff in ("valid", "stale") else "muted", r.signoff))
    if r.admitted:
        html.append(Markup('<td><span class="admitted">admitted</span></td>'))
    else:
        html.append(Markup('<td><details><summary class="refused">refused</summary><ul>{}</ul>'
                           '</details></td>').format(
            Markup("").join(Markup("<li>{}</li>").format(reason) for reason in r.reasons)))
    if len(_cells) >= CELLS_KEPT:
        _cells.clear()
    made = _cells[key] = Markup("\n").join(html)
    return made


def _risk_rank(row: Row) -> int:
    return RISK_CLASSES.index(row.risk) if row.risk in RISK_CLASSES else len(RISK_CLASSES)


def _versionnumber(row: Row) -> int:
    return -int(row.version) if row.version.isdigit() else 0


SORT_KEYS: dict[str, Callable[[Row], Any]] = {
    "name": lambda r: (r.name, _versionnumber(r)),
    "risk": lambda r: (_risk_rank(r), r.name, _versionnumber(r)),
    "checked": lambda r: (-(r.result.checked_at_us if r.result else 0), r.name,
                          _versionnumber(r)),
}


def _quoted(name: str) -> str:
    return "'" + name.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _registry() -> Any:
    from mlflow.server.handlers import _get_model_registry_store

    return _get_model_registry_store()


def _name_filter(q: str) -> str | None:
    """The registry's filter for names containing ``q`` (a superset when ``q`` holds a
    LIKE wildcard; the rows are narrowed exactly afterwards); None: search them all."""
    if not q or "'" in q or "\\" in q:
        return None
    return f"name ILIKE '%{q}%'"


@dataclass(frozen=True)
class Listed:
    """A version as the inventory lists it: what a view needs, no entity."""

    name: str
    version: str
    run_id: str | None
    updated_ms: int
    tags: dict[str, str]
    model_id: str | None = None  # the logged model it was registered from, if any


def _searched(names: list[str]) -> list[Listed]:
    """Every version of the named models through the registry's own search, one search
    per 100 names (any registry store)."""
    registry = _registry()
    found: list[Listed] = []
    for start in range(0, len(names), NAMES_PER_SEARCH):
        query = "name IN (" + ", ".join(map(_quoted, names[start:start + NAMES_PER_SEARCH])) + ")"
        found.extend(Listed(v.name, str(v.version), v.run_id, int(v.last_updated_timestamp or 0),
                            dict(v.tags or {}), getattr(v, "model_id", None))
                     for v in model_versions(registry, query, page_size=VERSIONS_PER_SEARCH))
    return found


def listed_versions(names: list[str]) -> list[Listed]:
    """Every version of the named models, with their tags: two queries per 500 names.

    In a SQL registry the columns are read straight from MLflow's own tables, in the
    registry's workspace: the registry's search builds an entity per version and per
    tag, which cost more than the rest of the page together
    (benchmarks/pages_inventory.py). Other stores: the registry's search."""
    registry = _registry()
    if not hasattr(registry, "ManagedSessionMaker"):
        return _searched(names)
    from mlflow.entities.model_registry.model_version_stages import STAGE_DELETED_INTERNAL
    from mlflow.store.model_registry.dbmodels.models import SqlModelVersion as V
    from mlflow.store.model_registry.dbmodels.models import SqlModelVersionTag as T

    def workspace(model: Any) -> list[Any]:
        return list(registry._get_workspace_clauses(model))

    found: dict[Key, Listed] = {}
    with registry.ManagedSessionMaker() as session:
        for start in range(0, len(names), NAMES_PER_QUERY):
            chunk = names[start:start + NAMES_PER_QUERY]
            for name, version, run_id, updated, source in session.query(
                    V.name, V.version, V.run_id, V.last_updated_time, V.source).filter(
                    V.name.in_(chunk), V.current_stage != STAGE_DELETED_INTERNAL,
                    *workspace(V)):
                found[(name, str(version))] = Listed(name, str(version), run_id,
                                                     int(updated or 0), {},
                                                     _logged_model(source))
            for name, version, key, value in session.query(
                    T.name, T.version, T.key, T.value).filter(T.name.in_(chunk),
                                                              *workspace(T)):
                if (listed := found.get((name, str(version)))) is not None:
                    listed.tags[key] = value
    return list(found.values())


def _logged_model(source: str | None) -> str | None:
    """The logged model a ``models:/m-...`` source names (as MLflow's answers give it as
    ``model_id``), so the personal-data view sees the version's whole lineage."""
    if source and source.startswith("models:/m-"):
        return source.removeprefix("models:/").split("/", 1)[0]
    return None


def _visible(seen: Seen, versions: Iterable[Listed]) -> list[Listed]:
    return [v for v in versions if seen.version(v.name, v.run_id, v.model_id, v.tags)]


def _aliases(models: Iterable[RegisteredModel]) -> dict[Key, tuple[str, ...]]:
    """Each version's aliases, from its model (the registry's versions carry none)."""
    found: dict[Key, list[str]] = {}
    for m in models:
        for alias, version in (m.aliases or {}).items():
            found.setdefault((m.name, str(version)), []).append(alias)
    return {key: tuple(sorted(aliases)) for key, aliases in found.items()}


def inventory_rows(site: Site, seen: Seen, query: InventoryQuery) -> dict[str, Any]:
    """The page's rows (blocking: run in a thread), with the next page's offset."""
    found = _registry().search_registered_models(
        filter_string=_name_filter(query.q), max_results=query.max_results,
        page_token=token_of(query.offset) or None)
    models: list[RegisteredModel] = [m for m in found if seen.model(m.name)
                                     and query.q.lower() in m.name.lower()]
    versions = _visible(seen, listed_versions([m.name for m in models]))
    keys: list[Key] = [(v.name, v.version) for v in versions]
    store = check_results.store_of(site)
    stored = store.results(keys)
    unchecked = [k for k in keys if k not in stored]
    if unchecked:  # first view of these versions: checked once, then read from the store
        stored.update(check_results.check_versions(site, unchecked))
    signed = store.latest_signoffs(keys)
    aliases = _aliases(models)
    rows = []
    for v in versions:
        key = (v.name, v.version)
        result = stored.get(key)
        rows.append(Row(v.name, v.version, aliases.get(key, ()), result,
                        result is not None and result.changed(v.updated_ms, v.tags,
                                                              signed.get(key))))
    shown = {r.name for r in rows}
    rows += [Row(m.name) for m in models if m.name not in shown]
    rows = sorted((r for r in rows if r.keeps(query)), key=SORT_KEYS[query.sort])
    return {"rows": rows, "models": len(models), "versions": len(versions),
            "next_offset": query.offset + query.max_results if found.token else None}


def recheck_all(site: Site, seen: Seen) -> int:
    """Check again every version ``seen`` sees, storing as it goes; how many."""
    registry = _registry()
    names = [m.name for m in pages(lambda token: registry.search_registered_models(
        max_results=1000, page_token=token)) if seen.model(m.name)]
    checked = 0
    for start in range(0, len(names), NAMES_PER_QUERY):
        keys = [(v.name, v.version)
                for v in _visible(seen, listed_versions(names[start:start + NAMES_PER_QUERY]))]
        for at in range(0, len(keys), RECHECK_BATCH):
            checked += len(check_results.check_versions(site, keys[at:at + RECHECK_BATCH]))
    return checked


# --- the routes ------------------------------------------------------------------------


def _params(request: Request) -> dict[str, str]:
    return query_fields(request.scope)


def _inventory_page(who: Principal, site: Site, query: InventoryQuery, status: int = 200,
                    problem: str = "", **found: Any) -> Response:
    previous = max(0, query.offset - query.max_results) if query.offset else None
    next_offset = found.pop("next_offset", None)
    return page("inventory.html", status, who=who, section="inventory", query=query,
                packs=DEFAULT_PACKS, risks=RISK_CLASSES, statuses=STATUSES, signoffs=SIGNOFFS,
                gates=GATES, sorts=SORTS, problem=problem,
                rows=found.get("rows", []), models=found.get("models", 0),
                versions=found.get("versions", 0),
                next_href=None if next_offset is None
                else href("/compliance/", query.fields(next_offset)),
                previous_href=None if previous is None
                else href("/compliance/", query.fields(previous)),
                recheck_token=site.csrf.token(who.name, "recheck")
                if who.role is Role.ADMIN else "")


def routes(site: Site) -> list[Route]:
    async def inventory(request: Request) -> Response:
        who = site.who(request)
        try:
            query = InventoryQuery.parse(_params(request))
        except BadInput as e:
            return _inventory_page(who, site, InventoryQuery(), 400, str(e))
        seen = await run_in_threadpool(site.seen, request)
        found = await run_in_threadpool(inventory_rows, site, seen, query)
        return _inventory_page(who, site, query, **found)

    async def recheck(request: Request) -> Response:
        who = site.who(request)
        try:
            token = (await read_form(request, MAX_FORM)).get("csrf", "")
        except FormProblem as e:
            return _inventory_page(who, site, InventoryQuery(), e.status,
                                   f"The re-check was refused: {e}.")
        if who.role is not Role.ADMIN or not site.csrf.valid(who.name, "recheck", token):
            return _inventory_page(who, site, InventoryQuery(), 403,
                                   "The re-check was refused: the form's token is missing or "
                                   "not valid for you (or you are not an admin). Use the "
                                   "Re-check button on this page.")
        seen = await run_in_threadpool(site.seen, request)
        await run_in_threadpool(recheck_all, site, seen)
        return RedirectResponse("/compliance/", status_code=303, headers=SECURITY_HEADERS)

    return [
        Route("/compliance/", inventory, methods=["GET"]),
        Route("/compliance/recheck", recheck, methods=["POST"]),
    ]
