"""The value types of the record: what a field may hold, and placeholders refused.

Evidence that says nothing is no evidence: a DPIA reference of ``TBD``, a purpose of
``x`` or a retention of ``P0D`` would let a check pass on paper (GDPR Art. 5(2), the
controller must be *able to demonstrate* compliance). Each type here refuses them and
carries an :class:`Allowed` phrase, the one line a user reads when a value is refused.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator

PLACEHOLDERS = frozenset(
    {
        "x", "xx", "xxx", "tbd", "tba", "tbc", "todo", "fixme", "n/a", "na", "none", "null",
        "nil", "unknown", "?", "-", "--", "...", "placeholder", "test", "dummy",
        "lorem ipsum", "later", "pending", "same", "asdf", "foo", "bar", "changeme",
        "see above", "etc",
    }
)
_SURROUNDING = " \t\r\n.,;:!?-_*#'\"`()[]{}<>/\\|~"
LEADING = frozenset({"tbd", "tba", "tbc", "todo", "fixme", "placeholder", "xxx", "lorem", "wip"})
"""A first word that makes the whole text a placeholder ("TBD: will write later")."""
DEFERRALS = re.compile(
    r"\b(to be (determined|defined|decided|done|added|completed|confirmed|written|filled)"
    r"|coming soon|fill (this )?in|will be (added|written|completed|provided) later"
    r"|not yet (written|known|decided|available))\b"
)
"""A phrase that puts the value off to later instead of giving it."""


def is_placeholder(text: str) -> bool:
    """Whether ``text`` stands in for a value instead of being one (``TBD``, ``n/a``, ``???``).

    Lower-cased and stripped of surrounding punctuation and spaces, it is one of the
    known placeholders, begins with "lorem ipsum" or a placeholder word (``TBD: ...``),
    puts the value off ("to be determined", "will be added later"), or it has no letter
    at all.
    """
    lowered = text.strip().lower()
    core = lowered.strip(_SURROUNDING)
    if lowered in PLACEHOLDERS or core in PLACEHOLDERS or core.startswith("lorem ipsum"):
        return True
    first = re.split(r"[\s.,;:!?()\[\]-]+", core, maxsplit=1)[0]
    if first in LEADING or DEFERRALS.search(lowered):
        return True
    return not any(c.isalpha() for c in text)


@dataclass(frozen=True)
class Allowed:
    """What a user may write for a value of this type, in one phrase (for errors and docs).

    ``in_list`` is the phrase for a comma-separated list of such items, when the
    generic "a comma-separated list, each item ..." reads worse.
    """

    phrase: str
    in_list: str | None = None


def _text(min_length: int, max_length: int, min_words: int = 0) -> Any:
    def check(value: str) -> str:
        if not isinstance(value, str):
            raise ValueError("not text")
        value = value.strip()
        if not min_length <= len(value) <= max_length:
            raise ValueError(f"not {min_length} to {max_length} characters")
        if is_placeholder(value):
            raise ValueError("a placeholder")
        if len(value.split()) < min_words:
            raise ValueError(f"fewer than {min_words} words")
        return value

    return AfterValidator(check)


Text = Annotated[
    str, _text(1, 500), Allowed("text of 1 to 500 characters, not a placeholder")
]
"""Free text that fits in an MLflow tag and says something."""

Statement = Annotated[
    str,
    _text(20, 500, min_words=3),
    Allowed("text of 20 to 500 characters, at least 3 words, not a placeholder"),
]
"""A statement a reader can act on: a purpose, a measure, how data was collected."""

PersonName = Annotated[
    str, _text(3, 200), Allowed("a person's name of 3 to 200 characters, not a placeholder")
]
"""The name of a natural person (AI Act Art. 26(2): the deployer assigns a person)."""


def _check_label(value: str) -> str:
    if "," in value:
        raise ValueError("contains a comma")
    return value


Label = Annotated[
    str,
    _text(2, 100),
    AfterValidator(_check_label),
    Allowed("text of 2 to 100 characters without commas, not a placeholder"),
]
"""One item of a comma-separated list."""

_EMAIL = re.compile(r"[^@\s,;<>()]+@[^@\s,;<>()]+\.[A-Za-z]{2,}")
_HTTPS = re.compile(r"https://[^\s/]+\.[^\s/]+")
_PHONE = re.compile(r"\+\d(?:[ -]?\d){6,}")


def _check_contact(value: str) -> str:
    if not (_EMAIL.search(value) or _HTTPS.search(value) or _PHONE.search(value)):
        raise ValueError("no e-mail address, https:// URL or phone number")
    return value


Contact = Annotated[
    str,
    _text(5, 500),
    AfterValidator(_check_contact),
    Allowed(
        "text of 5 to 500 characters with an e-mail address, an https:// URL or a phone "
        "number (+ and at least 7 digits), not a placeholder"
    ),
]
"""Contact details someone can actually use (GDPR Art. 30(1)(a))."""

ARTIFACT_SCHEME = "artifact:"


def artifact_path(reference: str) -> str | None:
    """The run-relative artifact path of an ``artifact:`` reference, else None."""
    return reference[len(ARTIFACT_SCHEME):] if reference.startswith(ARTIFACT_SCHEME) else None


def _check_reference(value: str) -> str:
    if not isinstance(value, str):
        raise ValueError("not text")
    value = value.strip()
    if len(value) > 500:
        raise ValueError("longer than 500 characters")
    path = artifact_path(value)
    if path is not None:
        if (
            not path.strip()
            or path.startswith("/")
            or "\\" in path
            or ".." in path.split("/")
            or any(c.isspace() for c in path[:1] + path[-1:])
        ):
            raise ValueError("not a path inside the run's artifacts")
        return value
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname or any(c.isspace() for c in value):
        raise ValueError("not an artifact: path or an https:// URL")
    return value


Reference = Annotated[
    str,
    AfterValidator(_check_reference),
    Allowed("artifact:<path in the run's artifacts> or an https:// URL"),
]
"""Where a document is: an artifact of the run or model, or an https URL."""

_ISO_PERIOD = re.compile(r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?$")


def _check_period(value: str) -> str:
    if not isinstance(value, str) or not _ISO_PERIOD.match(value.strip()):
        raise ValueError("not an ISO 8601 period")
    if not any(c in "123456789" for c in value):
        raise ValueError("a period of zero")
    return value.strip()


Period = Annotated[
    str,
    AfterValidator(_check_period),
    Allowed("an ISO 8601 period such as P6M, P5Y or P30D, not zero"),
]
"""An ISO 8601 period such as P6M, P5Y or P30D; how long is a policy, not the schema."""


def period_days(value: str) -> float:
    """The length of an ISO 8601 period in days (a year 365.25, a month 30.44)."""
    match = _ISO_PERIOD.match(value.strip())
    if not match:
        raise ValueError(f"{value!r} is not an ISO 8601 period")
    per_unit = {"Y": 365.25, "M": 30.44, "W": 7.0, "D": 1.0}
    return sum(int(g[:-1]) * per_unit[g[-1]] for g in match.groups() if g)


_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _check_day(value: Any) -> Any:
    if isinstance(value, str) and not _DAY.match(value.strip()):
        raise ValueError("not a date as YYYY-MM-DD")
    return value.strip() if isinstance(value, str) else value


Day = Annotated[date, BeforeValidator(_check_day), Allowed("a date as YYYY-MM-DD")]
"""A calendar date, written YYYY-MM-DD and nothing else."""

_THRESHOLD = re.compile(r"^\s*([A-Za-z0-9_./:-]+?)\s*(>=|<=|>|<)\s*(\S+)\s*$")


@dataclass(frozen=True)
class Threshold:
    """A declared level a logged metric must reach (AI Act Art. 15(1), 13(3)(b)(ii))."""

    metric: str
    op: str
    value: float

    def met(self, x: float) -> bool:
        """Whether a logged value reaches the level; NaN and infinities never do."""
        if not math.isfinite(x):
            return False
        return {
            ">=": x >= self.value,
            "<=": x <= self.value,
            ">": x > self.value,
            "<": x < self.value,
        }[self.op]

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{self.value:g}"


def parse_threshold(text: str) -> Threshold:
    """``test_accuracy>=0.9`` to a Threshold; raises ValueError on anything else."""
    match = _THRESHOLD.match(text) if isinstance(text, str) else None
    if not match:
        raise ValueError(f"{text!r} is not <metric><op><number> with op >=, <=, > or <")
    metric, op, number = match.groups()
    try:
        value = float(number)
    except ValueError:
        raise ValueError(f"{number!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{number!r} is not a finite number")
    return Threshold(metric, op, value)


def _check_threshold(value: str) -> str:
    threshold = parse_threshold(value)
    number = value.strip().split(threshold.op, 1)[1].strip()
    return f"{threshold.metric}{threshold.op}{number}"


ThresholdItem = Annotated[
    str,
    AfterValidator(_check_threshold),
    Allowed(
        "metric>=value such as test_accuracy>=0.9 (op >=, <=, > or <; a finite number)",
        in_list="a comma-separated list of metric>=value items such as test_accuracy>=0.9 "
        "(op >=, <=, > or <; a finite number)",
    ),
]
"""One declared threshold, stored as its text; read it with :func:`parse_threshold`."""
