"""The codec between a compliance record and MLflow tags.

Each field is one tag (``compliance.gdpr.lawful_basis = consent``) so that MLflow's own
search finds it. Lists are comma-separated, booleans are ``true``/``false``, dates are
ISO 8601. ``check_tag`` validates one tag on its own, which is what the server does on
every tag write.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import Enum
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from mlflow_compliance.record.errors import InvalidComplianceRecord, Problem
from mlflow_compliance.record.schema import ComplianceRecord

SEED_TAGS = ("compliance", "data_privacy")
PREFIX = "compliance."


def is_compliance_tag(key: str) -> bool:
    """Whether the tag key belongs to the compliance record's namespace."""
    return key.startswith(PREFIX) or key in SEED_TAGS


def _without_none(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else Union[tuple(args)]  # noqa: UP007
    return annotation


def _describe(annotation: Any) -> str:
    """What a user may write for a value of this type, in one phrase."""
    origin = get_origin(annotation)
    if origin is list:
        item = get_args(annotation)[0]
        return f"a comma-separated list, each item {_describe(item)}"
    if origin is Annotated:
        base, *meta = get_args(annotation)
        for m in meta:
            doc = getattr(m, "func", None)
            if doc is not None and doc.__name__ == "_check_period":
                return "an ISO 8601 period such as P6M, P5Y or P30D"
            if getattr(m, "pattern", None) == r"^[^,]+$":
                return "text of 1 to 100 characters without commas"
            if getattr(m, "max_length", None):
                return f"text of 1 to {m.max_length} characters"
        return _describe(base)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return "one of " + ", ".join(str(e.value) for e in annotation)
    if annotation is bool:
        return "true or false"
    if annotation is date:
        return "a date as YYYY-MM-DD"
    return "text"


@dataclass(frozen=True)
class TagField:
    """One field of the record and the tag it is stored under."""

    tag: str
    path: tuple[str, ...]
    article: str
    description: str
    allowed: str
    annotation: Any
    adapter: TypeAdapter[Any]

    @property
    def is_list(self) -> bool:
        return get_origin(self.annotation) is list

    def decode(self, text: str) -> Any:
        """Tag text to a Python value; raises InvalidComplianceRecord naming the tag."""
        raw: Any = text
        if self.annotation is bool:
            lowered = text.strip().lower()
            if lowered not in ("true", "false"):
                raise self._invalid(text)
            raw = lowered == "true"
        elif self.is_list:
            raw = [item.strip() for item in text.split(",")]
        try:
            return self.adapter.validate_python(raw)
        except ValidationError:
            raise self._invalid(text) from None

    def encode(self, value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, list):
            return ",".join(self.encode(v) for v in value)
        if isinstance(value, Enum):
            return str(value.value)
        if isinstance(value, date):
            return value.isoformat()
        return str(value)

    def _invalid(self, text: str) -> InvalidComplianceRecord:
        shown = text if len(text) <= 60 else text[:57] + "..."
        return InvalidComplianceRecord(
            [Problem(self.tag, f"{shown!r} is not allowed; allowed: {self.allowed}")]
        )


def _fields_of(model: type[BaseModel], prefix: tuple[str, ...]) -> Iterable[TagField]:
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra
        if isinstance(extra, dict) and "tag" in extra:
            yield _tag_field(name, info, prefix)
        elif isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel):
            yield from _fields_of(info.annotation, (*prefix, name))


def _tag_field(name: str, info: FieldInfo, prefix: tuple[str, ...]) -> TagField:
    extra = info.json_schema_extra
    assert isinstance(extra, dict)
    annotation = _without_none(info.annotation)
    return TagField(
        tag=str(extra["tag"]),
        path=(*prefix, name),
        article=str(extra["article"]),
        description=info.description or "",
        allowed=_describe(annotation),
        annotation=annotation,
        adapter=TypeAdapter(annotation),
    )


FIELDS: dict[str, TagField] = {f.tag: f for f in _fields_of(ComplianceRecord, ())}
"""Every field of the record, by tag key, in schema order."""


PERSONAL_DATA_TAG = "compliance.gdpr.personal_data"


def declares_personal_data(value: str | None) -> bool:
    """Whether a stored ``compliance.gdpr.personal_data`` value declares personal data.

    The one reading of that tag, the record's own parser, for validation, checks and
    need-to-know alike (so ``"true "`` means true everywhere). A value the parser
    refuses (stored before validation, or behind its back) counts as personal data:
    need-to-know fails closed.
    """
    if value is None:
        return False
    try:
        return bool(FIELDS[PERSONAL_DATA_TAG].decode(value))
    except InvalidComplianceRecord:
        return True


def _unknown(key: str) -> Problem:
    close = difflib.get_close_matches(key, FIELDS, n=1, cutoff=0.8)
    hint = f"did you mean {close[0]}?" if close else f"allowed: {', '.join(FIELDS)}"
    return Problem(key, f"unknown compliance field; {hint}")


def check_tag(key: str, value: str) -> Problem | None:
    """The problem with writing this tag, or None if it is fine (or not ours)."""
    if not is_compliance_tag(key):
        return None
    field = FIELDS.get(key)
    if field is None:
        return _unknown(key)
    try:
        field.decode(value)
    except InvalidComplianceRecord as e:
        return e.problems[0]
    return None


def check_tags(tags: Iterable[tuple[str, str]]) -> list[Problem]:
    """Every problem in a batch of tag writes."""
    return [p for key, value in tags if (p := check_tag(key, value)) is not None]


def record_to_tags(record: ComplianceRecord) -> dict[str, str]:
    """The tags that store this record; fields left unset produce no tag."""
    data = record.model_dump()
    tags: dict[str, str] = {}
    for field in FIELDS.values():
        value: Any = data
        for part in field.path:
            value = value[part]
        if value is not None:
            tags[field.tag] = field.encode(value)
    return tags


def record_from_tags(tags: Mapping[str, str]) -> ComplianceRecord:
    """The record stored in these tags; other tags are ignored, bad ones all reported."""
    problems: list[Problem] = []
    data: dict[str, Any] = {}
    for key, text in tags.items():
        if not is_compliance_tag(key):
            continue
        field = FIELDS.get(key)
        if field is None:
            problems.append(_unknown(key))
            continue
        try:
            value = field.decode(text)
        except InvalidComplianceRecord as e:
            problems.extend(e.problems)
            continue
        target = data
        for part in field.path[:-1]:
            target = target.setdefault(part, {})
        target[field.path[-1]] = value
    if problems:
        raise InvalidComplianceRecord(problems)
    return parse_record(data)


def parse_record(data: Mapping[str, Any] | ComplianceRecord | None) -> ComplianceRecord:
    """A record from a mapping (as in ``compliance.toml``), every bad field reported."""
    if data is None:
        return ComplianceRecord()
    if isinstance(data, ComplianceRecord):
        return data
    try:
        return ComplianceRecord.model_validate(data)
    except ValidationError as e:
        problems = [p for err in e.errors() for p in _problems_from(err, data)]
        raise InvalidComplianceRecord(problems) from None


_BY_PATH = {f.path: f for f in FIELDS.values()}


def _problems_from(err: Any, data: Mapping[str, Any]) -> list[Problem]:
    loc = tuple(p for p in err["loc"] if isinstance(p, str))
    if not loc:  # a model-level consistency error names its own fields, one per line
        message = str(err["msg"]).removeprefix("Value error, ")
        return [Problem(*line.split(": ", 1)) for line in message.splitlines()]
    field = _BY_PATH.get(loc)
    if field is None:
        return [_unknown(PREFIX + ".".join(loc) if len(loc) > 1 else loc[0])]
    value: Any = data
    for part in loc:
        value = value.get(part) if isinstance(value, Mapping) else None
    shown = repr(value) if not isinstance(value, list) else repr(",".join(map(str, value)))
    return [Problem(field.tag, f"{shown} is not allowed; allowed: {field.allowed}")]
