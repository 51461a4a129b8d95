"""The audit log page (``/compliance/audit``) and its export (``/compliance/audit/export``).

Admins, auditors and the privacy role (the route table: READ on the server). The page
searches the log with the query the REST endpoint and the CLI speak (``audit/query.py``)
and shows the chain's state: the signed tip and whether its signature verifies, the
purge anchor if there is one, and the result of the last full verification this worker
ran. A full verification reads every entry, so it runs only when asked (``verify=1``),
never on a plain view. The export streams every matching entry, up to ``EXPORT_LIMIT``.
"""

from __future__ import annotations

import csv
import io
import json
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from mlflow_compliance.audit.entry import HASHED, now_us
from mlflow_compliance.audit.query import InvalidQuery, SearchQuery, parse_query, search
from mlflow_compliance.audit.signing import ANCHOR, TIP, KeyProblem, read_head_file
from mlflow_compliance.audit.verify import Report, verify
from mlflow_compliance.server.pages.render import SECURITY_HEADERS, page
from mlflow_compliance.server.pages.site import Site
from mlflow_compliance.server.query import query_fields

FILTERS = ("principal", "action", "object", "since", "until", "max_results", "page_token")
"""The search form's fields; ``object`` is the query's ``resource``."""
PAGE_ONLY = ("verify",)
EXPORT_ONLY = ("format",)
FORMATS = {"jsonl": "application/x-ndjson; charset=utf-8", "csv": "text/csv; charset=utf-8"}
EXPORT_LIMIT = 100_000
EXPORT_PAGE = 1000
COLUMNS = ["seq", "time", *[n for n in HASHED if n != "seq"], "hash"]
FORMULA = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet runs a cell starting so


def utc(time_us: int) -> str:
    """A log time to the second (the pages' ``when`` filter shows minutes only)."""
    return datetime.fromtimestamp(time_us / 1_000_000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


# --- the query -------------------------------------------------------------------------


def _moment(name: str, text: str) -> datetime:
    """A ``datetime-local`` value (or any ISO 8601 time); without an offset it is UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidQuery(f"{name}: a date and time in UTC, YYYY-MM-DDTHH:MM[:SS] "
                           f"(got {text[:40]!r})") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse(params: Mapping[str, str], extra: tuple[str, ...]) -> tuple[SearchQuery, dict[str, str]]:
    """The search query of a page's parameters, and the filters as given (for the form).
    An unknown parameter or a bad value is an InvalidQuery naming it."""
    allowed = FILTERS + extra
    for name in params:
        if name not in allowed:
            raise InvalidQuery(f"{name}: not a filter of the audit log; allowed: "
                               f"{', '.join(allowed)}")
    given = {name: params[name].strip() for name in FILTERS if params.get(name, "").strip()}
    data: dict[str, Any] = {k: v for k, v in given.items() if k not in ("object", "since",
                                                                        "until")}
    data["resource"] = given.get("object")
    for name in ("since", "until"):
        if name in given:
            data[name] = _moment(name, given[name])
    try:
        return parse_query(data), given
    except InvalidQuery as e:  # the form's name for the query's "resource"
        message = str(e)
        raise InvalidQuery("object" + message[8:] if message.startswith("resource") else
                           message) from None


def _form_values(given: dict[str, str]) -> dict[str, str]:
    """The form's values: times as a ``datetime-local`` input takes them (UTC)."""
    shown = dict(given)
    for name in ("since", "until"):
        if name in given:
            shown[name] = _moment(name, given[name]).astimezone(UTC).strftime(
                "%Y-%m-%dT%H:%M:%S")
    return shown


def _link(path: str, given: dict[str, str], **more: str) -> str:
    query = {**{k: v for k, v in given.items() if k != "page_token"}, **more}
    return f"{path}?{urlencode(query)}" if query else path


# --- the chain's state ------------------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    """A full verification's result, and when this worker ran it."""

    at_us: int
    report: Report | None
    problem: str | None = None  # it could not run (no tip, an unreadable head file)


class LastVerification:
    """The last full verification this worker ran: each worker keeps its own. One runs
    at a time (a second request waits for it, then runs its own)."""

    def __init__(self) -> None:
        self.last: Verification | None = None
        self._running = threading.Lock()

    def run(self, site: Site) -> Verification:
        with self._running:
            try:
                # one process: forking a threaded server worker risks its locks
                report = verify(site.audit, site.verifier, read_head_file(site.home),
                                processes=1)
                self.last = Verification(now_us(), report)
            except (LookupError, KeyProblem) as e:
                self.last = Verification(now_us(), None, str(e))
            return self.last


def chain_state(site: Site) -> dict[str, Any]:
    """The signed tip and latest anchor, with whether their signatures verify."""
    try:
        tip = site.audit.tip()
    except LookupError as e:
        return {"tip": None, "tip_problem": str(e), "anchor": None, "anchor_problem": None}
    anchor = site.audit.latest_anchor()
    return {
        "tip": {"seq": tip.seq, "hash": tip.hash, "time": utc(tip.time_us),
                "key_id": tip.key_id},
        "tip_problem": site.verifier.problem(tip, TIP),
        "anchor": None if anchor is None else {"seq": anchor.seq, "time": utc(anchor.time_us)},
        "anchor_problem": None if anchor is None else site.verifier.problem(anchor, ANCHOR),
    }


# --- the rows ---------------------------------------------------------------------------


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def shown_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """An entry (``Entry.as_dict()``) as the results table shows it."""
    return {
        "seq": entry["seq"], "time": utc(entry["time_us"]), "principal": entry["principal"],
        "action": entry["action"], "method": entry["method"], "route": entry["route"],
        "resources": [(k, _text(v)) for k, v in sorted(entry["resources"].items())],
        "status": entry["status"],
    }


def _csv_cell(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula is prefixed with ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA):
        return "'" + value
    return value


def _csv_row(entry: dict[str, Any]) -> str:
    out = io.StringIO()
    row = {**entry, "resources": json.dumps(entry["resources"], ensure_ascii=False,
                                            sort_keys=True)}
    csv.writer(out, lineterminator="\n").writerow([_csv_cell(row[c]) for c in COLUMNS])
    return out.getvalue()


def exported(site: Site, query: SearchQuery, form: str) -> Iterator[str]:
    """Every matching entry after ``page_token``, oldest first, at most EXPORT_LIMIT;
    if more match, a last line says where to continue. Starlette runs this generator
    in a worker thread, a page of entries at a time."""
    if form == "csv":
        yield ",".join(COLUMNS) + "\n"
    sent, last = 0, query.page_token
    while sent < EXPORT_LIMIT:
        size = min(EXPORT_PAGE, EXPORT_LIMIT - sent)
        found = search(site.audit, query.model_copy(update={"max_results": size,
                                                            "page_token": last}))["entries"]
        for entry in found:
            yield _csv_row(entry) if form == "csv" else json.dumps(entry,
                                                                   ensure_ascii=False) + "\n"
        sent += len(found)
        if len(found) < size:
            return
        last = found[-1]["seq"]
    more = search(site.audit, query.model_copy(update={"max_results": 1, "page_token": last}))
    if more["entries"]:
        note = (f"cut at {EXPORT_LIMIT} entries: more match; export again with "
                f"page_token={last} for the next ones")
        yield f"# {note}\n" if form == "csv" else json.dumps({"note": note}) + "\n"


# --- the routes -------------------------------------------------------------------------


def routes(site: Site) -> list[Route]:
    checked = LastVerification()

    def bad(request: Request, message: str, given: Mapping[str, str]) -> Response:
        return page("audit.html", 400, who=site.who(request), section="audit", error=message,
                    form=dict(given), chain=None, checked=None, utc=utc, entries=[],
                    next_link=None, first_link=None, export_links={})

    async def audit_page(request: Request) -> Response:
        params = query_fields(request.scope)
        try:
            query, given = parse(params, PAGE_ONLY)
            form = _form_values(given)
        except InvalidQuery as e:
            return bad(request, str(e), params)
        verify_now = params.get("verify", "")
        if verify_now not in ("", "1"):
            return bad(request, "verify: 1 to run a full verification, or leave it out",
                       params)
        if verify_now:
            await run_in_threadpool(checked.run, site)
        chain = await run_in_threadpool(chain_state, site)
        found = await run_in_threadpool(search, site.audit, query)
        entries = [shown_entry(e) for e in found["entries"]]
        token = found.get("next_page_token")
        return page(
            "audit.html", who=site.who(request), section="audit", error=None, form=form,
            chain=chain, checked=checked.last, utc=utc, entries=entries,
            next_link=_link("/compliance/audit", given, page_token=token) if token else None,
            first_link=_link("/compliance/audit", given) if query.page_token else None,
            export_links={f: _link("/compliance/audit/export", given, format=f)
                          for f in FORMATS},
        )

    async def export(request: Request) -> Response:
        params = query_fields(request.scope)
        form = params.get("format", "jsonl")
        if form not in FORMATS:
            return bad(request, f"format: one of {', '.join(FORMATS)} (got {form[:40]!r})",
                       params)
        try:
            query, _ = parse(params, EXPORT_ONLY)
        except InvalidQuery as e:
            return bad(request, str(e), params)
        name = f"audit-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.{form}"
        headers = {**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'}
        return StreamingResponse(exported(site, query, form), media_type=FORMATS[form],
                                 headers=headers)

    return [
        Route("/compliance/audit", audit_page, methods=["GET"]),
        Route("/compliance/audit/export", export, methods=["GET"]),
    ]

