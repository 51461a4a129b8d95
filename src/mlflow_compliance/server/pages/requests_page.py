"""The data-subject request register page (``/compliance/requests``), GDPR Art. 12(3).

Admins and the privacy role (the route table: PRIVACY on the server). Each request is
shown with its deadline and the days left, the overdue ones marked, as ``subjects
requests list`` shows them. The register keeps the person only as a pseudonym, and the
page shows neither: a request is named by its own id.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mlflow_compliance.server.pages.render import page
from mlflow_compliance.server.pages.site import Site
from mlflow_compliance.server.query import query_fields
from mlflow_compliance.subjects.requests import OPEN, STATUSES, RequestRegister

FILTERS = ("status", "overdue")
YES, NO = ("1", "true", "on"), ("", "0", "false")
SOON = 7  # days: an open request due within a week is marked "due"


class BadFilter(ValueError):
    """One line naming the filter and what is allowed."""


def parse(params: dict[str, str]) -> tuple[str | None, bool]:
    """The status (None: any) and whether only overdue requests are wanted."""
    for name in params:
        if name not in FILTERS:
            raise BadFilter(f"{name}: not a filter of the register; allowed: "
                            f"{', '.join(FILTERS)}")
    status = params.get("status", "").strip() or None
    if status is not None and status not in STATUSES:
        raise BadFilter(f"status: one of {', '.join(STATUSES)}")
    overdue = params.get("overdue", "").strip().lower()
    if overdue not in YES + NO:
        raise BadFilter("overdue: 1 for only the open requests past their deadline, or "
                        "leave it out")
    return status, overdue in YES


def state(request: dict[str, Any]) -> tuple[str, str]:
    """What the "days left" column says, and its class."""
    left = request["days_left"]
    if request["status"] not in OPEN:
        return "closed", "muted"
    if request["overdue"]:
        return f"overdue by {-left} day{'s' if left != -1 else ''}", "overdue"
    if left == 0:
        return "due today", "due"
    return f"{left} day{'s' if left != 1 else ''} left", "due" if left <= SOON else ""


def listed(register: RequestRegister, status: str | None,
           overdue: bool) -> list[dict[str, Any]]:
    today = datetime.now(UTC).date()
    shown = []
    for found in register.list(status, overdue, today):
        row = found.as_dict(today)
        row["left"], row["left_class"] = state(row)
        shown.append(row)
    return shown


def routes(site: Site) -> list[Route]:
    @functools.cache
    def register() -> RequestRegister:
        return RequestRegister.connect(site.uri)  # once per worker, on first use

    async def requests_page(request: Request) -> Response:
        params = query_fields(request.scope)
        who = site.who(request)
        try:
            status, overdue = parse(params)
        except BadFilter as e:
            return page("requests.html", 400, who=who, section="requests", error=str(e),
                        chosen=None, overdue=False, statuses=STATUSES, rows=[],
                        late=0)
        rows = await run_in_threadpool(lambda: listed(register(), status, overdue))
        return page("requests.html", who=who, section="requests", error=None,
                    chosen=status, overdue=overdue, statuses=STATUSES, rows=rows,
                    late=sum(1 for r in rows if r["overdue"]))

    return [Route("/compliance/requests", requests_page, methods=["GET"])]
