"""Reading a page's form post: the one way the pages' forms are read.

No python-multipart here: a form is ``application/x-www-form-urlencoded``, at most
``limit`` bytes and ``fields`` fields, UTF-8; anything else is a ``FormProblem`` with
the status and one sentence naming what is wrong (415, 413, 400), before any of it is
acted on. Each field's first value is taken, as the authorization layer reads a query.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.requests import Request

FORM_TYPE = "application/x-www-form-urlencoded"


class FormProblem(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def read_form(request: Request, limit: int, fields: int = 10) -> dict[str, str]:
    """The form's fields (first value of each), or FormProblem."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != FORM_TYPE:
        raise FormProblem(415, f"Content-Type: {kind or 'missing'} is not allowed; "
                               f"allowed: {FORM_TYPE} (the page's form)")
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise FormProblem(413, f"the form is larger than {limit} bytes")
    try:
        found = parse_qs(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=fields,
                         strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        raise FormProblem(400, "the form is not a valid urlencoded UTF-8 body") from None
    return {name: values[0] for name, values in found.items() if values}
