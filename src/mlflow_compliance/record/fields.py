"""The fields of each kind of record, and how one tag's text is read and written.

A field is one MLflow tag (``compliance.gdpr.lawful_basis = consent``): lists are
comma-separated, booleans ``true``/``false``, dates ``YYYY-MM-DD``. Runs, model
versions, logged models, registered models and experiments carry the
:class:`ComplianceRecord`; a dataset input carries the :class:`DatasetRecord`.
"""

from __future__ import annotations

import types
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import Enum, StrEnum
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from mlflow_compliance.record.dataset import DatasetRecord
from mlflow_compliance.record.errors import InvalidComplianceRecord, Problem
from mlflow_compliance.record.schema import HINT_ERROR, ComplianceRecord
from mlflow_compliance.record.values import Allowed


class RecordKind(StrEnum):
    """What a tag is written on; a dataset input has its own record, the rest share one."""

    RUN = "run"
    MODEL_VERSION = "model_version"
    EXPERIMENT = "experiment"
    DATASET = "dataset"
    REGISTERED_MODEL = "registered_model"
    LOGGED_MODEL = "logged_model"


def _without_none(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else Union[tuple(args)]  # noqa: UP007
    return annotation


def _allowed_marker(annotation: Any) -> Allowed | None:
    if get_origin(annotation) is Annotated:
        return next((m for m in get_args(annotation)[1:] if isinstance(m, Allowed)), None)
    return None


def describe(annotation: Any) -> str:
    """What a user may write for a value of this type, in one phrase."""
    if get_origin(annotation) is list:
        item = get_args(annotation)[0]
        marker = _allowed_marker(item)
        if marker is not None and marker.in_list:
            return marker.in_list
        return f"a comma-separated list, each item {describe(item)}"
    marker = _allowed_marker(annotation)
    if marker is not None:
        return marker.phrase
    if get_origin(annotation) is Annotated:
        return describe(get_args(annotation)[0])
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return "one of " + ", ".join(str(e.value) for e in annotation)
    if annotation is bool:
        return "true or false"
    if annotation is date:
        return "a date as YYYY-MM-DD"
    return "text"


def _shown(text: Any) -> str:
    if isinstance(text, list):
        text = ",".join(map(str, text))
    text = str(text) if not isinstance(text, str) else text
    return repr(text if len(text) <= 60 else text[:57] + "...")


@dataclass(frozen=True)
class TagField:
    """One field of a record and the tag it is stored under."""

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
                raise InvalidComplianceRecord([self.refused(text)])
            raw = lowered == "true"
        elif self.is_list:
            raw = [item.strip() for item in text.split(",")]
        try:
            return self.adapter.validate_python(raw)
        except ValidationError as e:
            raise InvalidComplianceRecord([self.refused(text, e.errors())]) from None

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

    def refused(self, value: Any, errors: Iterable[Any] = ()) -> Problem:
        """The one-line problem for a value of this field that is not allowed."""
        hint = next((str(e["msg"]) for e in errors if e.get("type") == HINT_ERROR), None)
        if hint is not None:
            return Problem(self.tag, f"{hint}; allowed: {self.allowed}")
        return Problem(self.tag, f"{_shown(value)} is not allowed; allowed: {self.allowed}")


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
        allowed=describe(annotation),
        annotation=annotation,
        adapter=TypeAdapter(annotation),
    )


FIELDS: dict[str, TagField] = {f.tag: f for f in _fields_of(ComplianceRecord, ())}
"""Every field of the run / model-version / experiment record, by tag key, in order."""

DATASET_FIELDS: dict[str, TagField] = {f.tag: f for f in _fields_of(DatasetRecord, ())}
"""Every field of a dataset input's record, by tag key, in order."""


def fields_for(kind: RecordKind | str = RecordKind.RUN) -> dict[str, TagField]:
    """The fields a record of this kind has: a dataset's, or the compliance record's."""
    return DATASET_FIELDS if RecordKind(kind) is RecordKind.DATASET else FIELDS


def model_for(kind: RecordKind | str = RecordKind.RUN) -> type[BaseModel]:
    """The pydantic model of a record of this kind."""
    return DatasetRecord if RecordKind(kind) is RecordKind.DATASET else ComplianceRecord
