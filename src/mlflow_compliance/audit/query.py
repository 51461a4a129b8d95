"""Searching the audit log: the query both the REST endpoint and the CLI speak."""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from mlflow_compliance.audit.entry import time_us_of
from mlflow_compliance.audit.log import AuditLog


class InvalidQuery(ValueError):
    """One line naming the parameter and what is allowed."""


class SearchQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    principal: str | None = None
    action: str | None = Field(None, description="exact, or a prefix ending in *")
    resource: str | None = Field(None, description="text the named resources contain")
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None
    max_results: int = Field(100, ge=1, le=1000)
    page_token: int = Field(0, ge=0, description="the seq after which to continue")


def parse_query(data: dict[str, Any]) -> SearchQuery:
    try:
        return SearchQuery.model_validate({k: v for k, v in data.items() if v not in (None, "")})
    except ValidationError as e:
        error = e.errors()[0]
        where = ".".join(str(p) for p in error["loc"]) or "query"
        raise InvalidQuery(f"{where}: {error['msg']}") from None


def search(log: AuditLog, query: SearchQuery) -> dict[str, Any]:
    """A page of matching entries, oldest first, and the token for the next page."""
    found = log.search(
        principal=query.principal,
        action=query.action,
        resource=query.resource,
        since_us=time_us_of(query.since) if query.since else None,
        until_us=time_us_of(query.until) if query.until else None,
        after_seq=query.page_token,
        limit=query.max_results,
    )
    page: dict[str, Any] = {"entries": [e.as_dict() for e in found]}
    if len(found) == query.max_results:
        page["next_page_token"] = str(found[-1].seq)
    return page
