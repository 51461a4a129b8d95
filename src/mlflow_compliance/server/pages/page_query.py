"""The query fields of the list pages: page sizes, choices and MLflow's page tokens, read
the same way on every page; a field out of range is a ``BadInput`` naming it."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

from mlflow.exceptions import MlflowException
from mlflow.utils.search_utils import SearchUtils


class BadInput(ValueError):
    """A query field out of range: the 400 page names it and what is allowed."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.field = name


def number(params: Mapping[str, str], name: str, default: int, most: int) -> int:
    text = params.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or not 1 <= int(text) <= most:
        raise BadInput(name, f"{text[:40]!r} is not allowed; allowed: a whole number from 1 "
                             f"to {most} (default {default})")
    return int(text)


def choice(params: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str:
    value = params.get(name, "").strip()
    if value and value not in allowed:
        raise BadInput(name, f"{value[:40]!r} is not allowed; allowed: {', '.join(allowed)} "
                             "(or empty for any)")
    return value


def offset_of(params: Mapping[str, str]) -> int:
    token = params.get("page_token", "").strip()
    if not token:
        return 0
    try:
        return int(SearchUtils.parse_start_offset_from_page_token(token))
    except MlflowException:
        raise BadInput("page_token", "not a page token of this list; follow the page "
                                     "links, or leave it out for the first page") from None


def token_of(offset: int) -> str:
    """MLflow's page token for ``offset`` ("" for the first page)."""
    if offset <= 0:
        return ""
    token = SearchUtils.create_page_token(offset)
    return token.decode("ascii") if isinstance(token, bytes) else str(token)


def href(path: str, query: Mapping[str, str]) -> str:
    kept = {k: v for k, v in query.items() if v}
    return path + ("?" + urlencode(kept) if kept else "")
