"""Searches answered as if what the caller may not see did not exist.

Filtering MLflow's answer after the fact leaks through its page token: an empty page
with a token says a hidden experiment matches ``name LIKE 'secret%'``, or a hidden
personal-data run matches ``tags.email LIKE 'a%'``. So a filtered search is paged here
instead. The rule: a caller gets exactly what MLflow would answer if the hidden items
did not exist: the same items in MLflow's order, up to ``max_results`` per page, a token
exactly when more visible items follow, and every visible item once over all pages.

How: MLflow is asked again and again, from one offset of its own search onwards, with
the request as the client sent it but our page size and page token; hidden items are
skipped until ``max_results + 1`` visible ones are found or MLflow has no more. The
first ``max_results`` are answered; the extra one says a token is due, and where the
next page starts: the token names its offset in MLflow's search, so the hidden items
before it are not scanned again.

The token is ours: Fernet (AES-CBC and HMAC-SHA256) under a key in the server's home,
``page-tokens.key``, shared by every worker. Sealed inside: the offset (8 bytes, so every
token of one search has one length), one of MLflow's own page tokens for this search
(MLflow's tokens name an offset; logged models' also name the search, so one is kept
and moved), and a digest of the caller and the search (everything but ``max_results``
and ``page_token``). It must be sealed, not just signed: the offset counts the hidden
items before it, and a forged offset would position the search on any item (the first
visible item after offset k, for each k, tells where every hidden item lies). A token
that does not open, or belongs to another caller or another search, is refused with
400 INVALID_PARAMETER_VALUE and one message, whatever was wrong with it. A token only
ever positions MLflow's search; every item answered passes the caller's filter.

Bounded cost: one request skips at most about HIDDEN_PER_REQUEST hidden items (pages of
``max_results + 1``, then growing to PAGE_MOST; the check falls between pages). Past
that, it answers the visible items found so far with a token that continues after the
last item scanned. Only then does the answer differ from the rule, and only in its
token: present although the visible items may have ended (the page may be short, or
the next one empty). What a caller can learn from that: at least HIDDEN_PER_REQUEST
items it cannot see match this search after the page's last item; paging on, each
further such page says another HIDDEN_PER_REQUEST. Never which items, nor any name or
value, and nothing below that count: otherwise the token's presence is a function of
the visible items only. Response time grows with the hidden items skipped, as for any
filter that reads them; that timing channel is not closed here.

Tokens stay valid as long as the key file does; servers that share a database but not a
home do not accept each other's tokens. A user whose grants change between pages may
be told the token no longer matches the search (the search names the experiments read).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import anyio.to_thread
from cryptography.fernet import Fernet, InvalidToken
from mlflow.protos.model_registry_pb2 import SearchModelVersions, SearchRegisteredModels
from mlflow.protos.service_pb2 import (
    SearchExperiments,
    SearchLoggedModels,
    SearchRuns,
    SearchTraces,
    SearchTracesV3,
)
from mlflow.store.model_registry import (
    SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD,
    SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD,
)
from mlflow.store.tracking import SEARCH_MAX_RESULTS_THRESHOLD
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mlflow_compliance.identity.principal import ANONYMOUS, SCOPE_KEY
from mlflow_compliance.server.body import (
    BODY_KEY,
    BodyTooLarge,
    JsonBody,
    json_body,
    replay,
    with_body,
)
from mlflow_compliance.server.errors import send_error, send_invalid, send_too_large

HIDDEN_PER_REQUEST = 10_000
"""Hidden items one request skips before it answers what it found (see the docstring)."""
PAGE_MOST = 1_000
"""The largest page asked of MLflow while skipping hidden items (beyond max_results + 1)."""
KEY_FILE = "page-tokens.key"

View = Callable[[dict[str, Any]], dict[str, Any] | None]
"""One item as this caller may see it (possibly narrowed), or None when it is hidden."""


@dataclass(frozen=True)
class Search:
    """One of MLflow's searches, as paging needs to know it."""

    items: str  # the answer's list of what was found
    default: int  # max_results when the request gives none (MLflow's protobuf default)
    most: int  # the largest max_results MLflow accepts


def _search(message: Any, items: str, most: int) -> Search:
    return Search(items, message.DESCRIPTOR.fields_by_name["max_results"].default_value, most)


EXPERIMENTS = _search(SearchExperiments, "experiments", SEARCH_MAX_RESULTS_THRESHOLD)
RUNS = _search(SearchRuns, "runs", SEARCH_MAX_RESULTS_THRESHOLD)
# MLflow caps no logged-models page; this layer caps it as MLflow caps runs.
LOGGED_MODELS = _search(SearchLoggedModels, "models", SEARCH_MAX_RESULTS_THRESHOLD)
REGISTERED_MODELS = _search(
    SearchRegisteredModels, "registered_models", SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD
)
MODEL_VERSIONS = _search(
    SearchModelVersions, "model_versions", SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD
)
TRACES_MOST = 500  # MLflow's own check of a trace search's max_results (handlers)
TRACES = _search(SearchTracesV3, "traces", TRACES_MOST)
LEGACY_TRACES = _search(SearchTraces, "traces", TRACES_MOST)


# --- the token --------------------------------------------------------------------------

_VERSION = b"\x01"
_DIGEST = 32
_OFFSET = 8


class InvalidPageToken(Exception):
    """A page token this server cannot trust for this caller and search."""


class PageTokens:
    """Seals and opens this server's page tokens (see the module docstring)."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    @classmethod
    def load_or_create(cls, home: Path) -> PageTokens:
        """The home's key; the first worker to need it creates it (0600)."""
        path = home / KEY_FILE
        if not path.exists():
            spare = home / f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
            fd = os.open(spare, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(Fernet.generate_key())
            try:
                os.link(spare, path)  # never replaces a key another worker made first
            except FileExistsError:
                pass
            finally:
                spare.unlink()
        try:
            return cls(path.read_bytes().strip())
        except ValueError:
            raise ValueError(
                f"{path}: not a page-token key (a Fernet key); delete it to have a new one "
                "made (page tokens handed out before stop working)"
            ) from None

    def seal(self, bound_to: bytes, offset: int, template: str | None) -> str:
        moved = _moved(template, 0).encode() if template else b""
        plain = _VERSION + bound_to + offset.to_bytes(_OFFSET, "big") + moved
        return self._fernet.encrypt(plain).decode()

    def open(self, token: Any, bound_to: bytes) -> tuple[int, str | None]:
        """The offset and MLflow template sealed in ``token``; InvalidPageToken otherwise."""
        try:
            plain = self._fernet.decrypt(token.encode() if isinstance(token, str) else b"")
        except InvalidToken:
            raise InvalidPageToken from None
        head, rest = plain[: 1 + _DIGEST], plain[1 + _DIGEST :]
        if not hmac.compare_digest(head, _VERSION + bound_to) or len(rest) < _OFFSET:
            raise InvalidPageToken
        offset, template = int.from_bytes(rest[:_OFFSET], "big"), rest[_OFFSET:].decode()
        if offset and not template:
            raise InvalidPageToken
        return offset, template or None


@functools.cache
def page_tokens() -> PageTokens:
    """This server's PageTokens, from the home every worker shares."""
    from mlflow_compliance.settings import Settings

    return PageTokens.load_or_create(Settings.from_env().home)


def _at(offset: int, template: str | None) -> str | None:
    """MLflow's page token for ``offset`` of this search (none for its start)."""
    if offset == 0:
        return None
    if template is None:
        raise RuntimeError("an offset past the start without an MLflow token to move")
    return _moved(template, offset)


def _moved(template: str, offset: int) -> str:
    """One of MLflow's page tokens for this search, moved to ``offset``.

    MLflow's SQL stores' tokens are base64 JSON naming an ``offset`` (logged models'
    also name the search, which MLflow checks); the rest is kept as MLflow wrote it.
    """
    try:
        fields = json.loads(base64.b64decode(template))
        fields["offset"] = offset
    except (ValueError, TypeError, binascii.Error):
        raise RuntimeError(
            "MLflow's page token does not name an offset: paging filtered searches needs "
            "the MLflow version this server was tested with"
        ) from None
    return base64.b64encode(json.dumps(fields).encode()).decode()


# --- the request, as MLflow reads it ------------------------------------------------------

_PAGING = {"max_results": "maxResults", "page_token": "pageToken"}  # name: JSON alias


class _Refused(Exception):
    """The request cannot be paged; the message says why (400)."""


@dataclass(frozen=True)
class _Request:
    scope: Scope
    receive: Receive
    raw: bytes  # the body as the client sent it
    query: list[tuple[str, str]] | None  # a GET's arguments (MLflow then ignores the body)
    payload: dict[str, Any]  # otherwise, the JSON body

    @classmethod
    async def read(cls, scope: Scope, receive: Receive) -> _Request:
        payload, receive = await json_body(scope, receive)
        cached: JsonBody = scope[BODY_KEY]
        query = scope.get("query_string", b"").decode("latin-1")
        pairs = parse_qsl(query, keep_blank_values=True)
        if scope["method"] == "GET" and pairs:  # MLflow reads a GET's query, if it has one
            return cls(scope, receive, cached.raw, pairs, {})
        if payload is None and cached.raw.strip():
            raise _Refused("request body: not JSON")
        if not isinstance(payload, dict | None):
            raise _Refused("request body: not a JSON object")
        for name, alias in _PAGING.items():
            if payload and name in payload and alias in payload:
                raise _Refused(
                    f"Request specifies both '{name}' and '{alias}'; provide only one of them."
                )
        return cls(scope, receive, cached.raw, None, payload or {})

    def given(self, name: str) -> Any:
        if self.query is not None:
            return next((v for k, v in self.query if k == name), None)
        return self.payload.get(name, self.payload.get(_PAGING[name]))

    def bound_to(self) -> bytes:
        """The caller and the search, without where its pages start and end."""
        who = self.scope.get(SCOPE_KEY, ANONYMOUS).name
        search = self._search() if self.query is None else [list(p) for p in self._pairs()]
        text = json.dumps([who, self.scope["path"], self.query is not None, search],
                          sort_keys=True)
        return hashlib.sha256(text.encode()).digest()

    def at(self, token: str | None, size: int) -> tuple[Scope, Receive]:
        """This request as MLflow should see it for one page: ``size`` items from ``token``."""
        paging: dict[str, Any] = {"max_results": size} | ({"page_token": token} if token else {})
        if self.query is not None:
            query = urlencode(self._pairs() + list(paging.items())).encode()
            return {**self.scope, "query_string": query}, replay(self.raw, self.receive)
        return with_body(self.scope, self.receive, self._search() | paging)

    def _pairs(self) -> list[tuple[str, str]]:
        return [(k, v) for k, v in self.query or [] if k not in _PAGING]

    def _search(self) -> dict[str, Any]:
        return {k: v for k, v in self.payload.items()
                if k not in _PAGING and k not in _PAGING.values()}


def _page_size(given: Any, search: Search) -> int:
    """max_results as MLflow reads it, within what MLflow accepts; _Refused otherwise."""
    value = search.default if given is None else given
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = int(value)  # MLflow's own reading of a query's "10"
    elif isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= search.most:
        raise _Refused(
            f"Invalid value {given!r} for parameter 'max_results' supplied. It must be a "
            f"positive integer, at most {search.most}"
        )
    return value


# --- asking MLflow ------------------------------------------------------------------------


class _Answer:
    """One answer of the inner app, held back in memory."""

    def __init__(self) -> None:
        self.start: Message | None = None
        self.chunks: list[bytes] = []

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.start = message
        elif message["type"] == "http.response.body":
            self.chunks.append(message.get("body", b""))

    @property
    def status(self) -> int:
        return self.start["status"] if self.start else 500

    def json(self) -> dict[str, Any] | None:
        try:
            data = json.loads(b"".join(self.chunks))
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    async def pass_on(self, send: Send) -> None:
        if self.start is None:
            await send_error(send, 500, "INTERNAL_ERROR", "search: no answer")
            return
        await send(self.start)
        await send({"type": "http.response.body", "body": b"".join(self.chunks)})


async def _ask(app: ASGIApp, request: _Request, token: str | None, size: int) -> _Answer:
    answer = _Answer()
    scope, receive = request.at(token, size)
    await app(scope, receive, answer.send)
    return answer


async def _send_page(send: Send, first: _Answer, data: dict[str, Any]) -> None:
    body = json.dumps(data).encode()
    start = first.start or {}
    headers = [(k, v) for k, v in start.get("headers", []) if k != b"content-length"]
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# --- the page -----------------------------------------------------------------------------


async def answer_visible(
    app: ASGIApp,
    scope: Scope,
    receive: Receive,
    send: Send,
    search: Search,
    view: View,
    tokens: PageTokens | None = None,
) -> None:
    """Answer the search in ``scope`` with the items ``view`` shows, paged as MLflow would
    page them if every item ``view`` hides did not exist (see the module docstring)."""
    tokens = tokens or page_tokens()
    try:
        request = await _Request.read(scope, receive)
        wanted = _page_size(request.given("max_results"), search)
        bound_to = request.bound_to()
        given_token = request.given("page_token")
        offset, template = tokens.open(given_token, bound_to) if given_token else (0, None)
    except BodyTooLarge:
        await send_too_large(send)
        return
    except _Refused as refused:
        await send_invalid(send, str(refused))
        return
    except InvalidPageToken:
        await send_invalid(send, "Invalid page token: not one this server gave for this search")
        return

    shown: list[dict[str, Any]] = []
    hidden = 0
    first: _Answer | None = None
    size = min(wanted + 1, search.most)
    while True:
        answer = await _ask(app, request, _at(offset, template), size)
        data = answer.json() if answer.status == 200 else None
        if data is None:
            if answer.status == 200:  # never pass on an answer that was not filtered
                await send_error(send, 500, "INTERNAL_ERROR", "search: MLflow's answer is not JSON")
            else:
                await answer.pass_on(send)
            return
        first = first or answer
        items = data.get(search.items) or []
        mlflow_token = data.get("next_page_token") or None
        template = mlflow_token or template
        # A view may read the stores (lineage): off the event loop, one hop per page.
        views = await anyio.to_thread.run_sync(_viewed, view, items)
        for i, seen in enumerate(views):
            if seen is None:
                hidden += 1
                continue
            if len(shown) == wanted:  # one more visible item: the next page starts here
                token = await _token(app, request, tokens, bound_to, offset + i, template)
                await _send_page(send, first, _page(search, shown, token))
                return
            shown.append(seen)
        offset += len(items)
        if not mlflow_token or not items:
            await _send_page(send, first, _page(search, shown, None))
            return
        if hidden >= HIDDEN_PER_REQUEST:  # answer what was found; continue from here
            token = tokens.seal(bound_to, offset, template)
            await _send_page(send, first, _page(search, shown, token))
            return
        size = min(search.most, max(wanted + 1 - len(shown), min(PAGE_MOST, 2 * size)))


def _viewed(view: View, items: list[dict[str, Any]]) -> list[dict[str, Any] | None]:
    return [view(item) for item in items]


async def _token(
    app: ASGIApp,
    request: _Request,
    tokens: PageTokens,
    bound_to: bytes,
    offset: int,
    template: str | None,
) -> str:
    if template is None:
        # The whole rest came in one page, so MLflow gave no token to move: ask for one.
        # At least two items follow the start, so a one-item page carries a token.
        probe = await _ask(app, request, None, 1)
        data = probe.json() if probe.status == 200 else None
        template = (data or {}).get("next_page_token") or None
        if template is None:  # never answer a page that silently ends the search early
            raise RuntimeError("search: MLflow gave no page token where visible items follow")
    return tokens.seal(bound_to, offset, template)


def _page(search: Search, shown: list[dict[str, Any]], token: str | None) -> dict[str, Any]:
    """The answer as MLflow writes it: empty lists and absent tokens left out."""
    page: dict[str, Any] = {search.items: shown} if shown else {}
    if token:
        page["next_page_token"] = token
    return page
