"""The pages' templates: Jinja2, autoescaped, from this package's ``templates`` folder."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse

SECURITY_HEADERS = {
    # no script at all, styles from this server only, no framing, no referrer leaks
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def when(ms_or_us: int | None, unit: str = "ms") -> str:
    """A timestamp (ms or us since the epoch) as ``2026-11-30 14:05 UTC``; "" for none."""
    if not ms_or_us:
        return ""
    seconds = ms_or_us / (1000 if unit == "ms" else 1_000_000)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M UTC")


@functools.cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("mlflow_compliance.server.pages", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = when
    return env


def page(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """``template`` rendered with ``context`` as an HTML answer with the pages' headers."""
    html = environment().get_template(template).render(**context)
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
