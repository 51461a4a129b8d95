"""Every item of a paged MLflow search, one page at a time.

MLflow's searches (``search_model_versions``, ``search_logged_models``, the stores'
own) answer a page and a ``token`` for the next: a reader that takes only the first
page silently misses the rest. Client and server code page through here alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

VERSION_PAGE = 10000
"""Model versions per request (MLflow's own maximum for the search)."""


def pages(search: Callable[[str | None], Any],
          progress: Callable[[int], None] | None = None) -> Iterator[Any]:
    """Every item ``search(page_token)`` answers, page after page; ``progress`` is told
    the size of each page."""
    token = None
    while True:
        page = search(token)
        if progress is not None:
            progress(len(page))
        yield from page
        token = getattr(page, "token", None)
        if not token:
            return


def name_is(name: str) -> str:
    """The registry filter for one registered model's name, quotes escaped."""
    return "name = '" + name.replace("\\", "\\\\").replace("'", "\\'") + "'"


def model_versions(registry: Any, query: str | None = None,
                   progress: Callable[[int], None] | None = None,
                   page_size: int = VERSION_PAGE) -> Iterator[Any]:
    """Every model version matching ``query`` (None: all) of an MlflowClient or a model
    registry store (both take ``filter_string``, ``max_results`` and ``page_token``)."""
    return pages(lambda token: registry.search_model_versions(
        filter_string=query, max_results=page_size, page_token=token), progress)
