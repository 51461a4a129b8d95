"""One line per record field in the Markdown documents: the declared value with the tag
it came from, or the gap with the article that asks for it, never text made up.

GDPR Art. 5(2) and AI Act Art. 11(1): the documents demonstrate what was recorded, so a
field left empty is shown as empty, naming where it belongs.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import Enum
from typing import Any

from pydantic import BaseModel

from mlflow_compliance.record.fields import DATASET_FIELDS, FIELDS, TagField


def text(value: object) -> str:
    """A value as Markdown text: one line, no HTML tag (``<`` escaped), no table break."""
    shown = " ".join(str(value).split())
    return shown.replace("<", "&lt;").replace("|", "\\|")


def when(ms: int) -> str:
    """A timestamp in ms as UTC ISO 8601 to the second ("" for none)."""
    if not ms:
        return ""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def shown(value: Any) -> str:
    """A record value as a reader reads it: lists comma-separated, enums by value."""
    if isinstance(value, list):
        return ", ".join(shown(v) for v in value)
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def field(tag: str, dataset: bool = False) -> TagField:
    return (DATASET_FIELDS if dataset else FIELDS)[tag]


def value_of(record: BaseModel | None, tag: str, dataset: bool = False) -> Any:
    """The value the record declares for ``tag`` (None: not declared, or no record)."""
    if record is None:
        return None
    value: Any = record
    for part in field(tag, dataset).path:
        value = getattr(value, part, None)
    return None if value in (None, []) else value


def gap(tag: str, dataset: bool = False) -> str:
    """``not declared: TAG (ARTICLE)``."""
    return f"not declared: `{tag}` ({field(tag, dataset).article})"


def line(label: str, record: BaseModel | None, tag: str, *, dataset: bool = False,
         not_applicable: str | None = None, unread: str = "") -> str:
    """``- **label:** value (`tag`)``, the gap, or why the field does not apply.

    ``unread`` names where the record is that the caller may not read (a field missing
    there is not known to be undeclared, so it is not called a gap)."""
    value = value_of(record, tag, dataset)
    if value is not None:
        return f"- **{label}:** {text(shown(value))} (`{tag}`)"
    if not_applicable:
        return f"- **{label}:** not applicable: {text(not_applicable)}"
    if unread:
        return (f"- **{label}:** not readable: `{tag}` ({field(tag, dataset).article}) "
                f"may be on {text(unread)}")
    return f"- **{label}:** {gap(tag, dataset)}"


def record_line(facts: Any, label: str, tag: str, **options: Any) -> str:
    """:func:`line` for a field of the version's own record (``facts``: VersionFacts).
    When part of the record could not be read, nothing is inferred from its absence."""
    if facts.unread:
        options.pop("not_applicable", None)
    return line(label, facts.record, tag, unread=facts.unread, **options)


def fact(label: str, value: object, source: str, missing: str = "") -> str:
    """``- **label:** value (source)`` for what MLflow itself holds; ``missing`` when
    it holds nothing (e.g. "not recorded in MLflow")."""
    if value in (None, "", (), []):
        return f"- **{label}:** {missing or 'not recorded'} ({source})"
    return f"- **{label}:** {text(value)} ({source})"
