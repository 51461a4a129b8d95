"""The codec between a record and MLflow tags.

Each field is one tag (``compliance.gdpr.lawful_basis = consent``) so that MLflow's own
search finds it. ``check_tag`` validates one tag on its own; the whole record, with its
cross-field rules, is validated by ``record_from_tags`` (and, for a batch of writes to
a stored record, by :func:`mlflow_compliance.record.writes.record_problems_after`).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from mlflow_compliance.record.dataset import DatasetRecord
from mlflow_compliance.record.errors import InvalidComplianceRecord, Problem
from mlflow_compliance.record.fields import (
    DATASET_FIELDS,
    FIELDS,
    RecordKind,
    TagField,
    fields_for,
)
from mlflow_compliance.record.schema import ComplianceRecord

M = TypeVar("M", bound=BaseModel)

SEED_TAGS = ("compliance", "data_privacy")
PREFIX = "compliance."
DATASET_PREFIX = "compliance.dataset."
PERSONAL_DATA_TAG = "compliance.gdpr.personal_data"

DEFAULT_REQUIRED = ("compliance.gdpr.personal_data", "compliance.ai_act.risk_class")
"""The minimum record when nothing else is configured: which GDPR articles apply
(personal data, GDPR Art. 2(1), 4(1)) and which AI Act duties do (risk class, AI Act
Art. 5, 6)."""

__all__ = [
    "DATASET_FIELDS",
    "DEFAULT_REQUIRED",
    "FIELDS",
    "PERSONAL_DATA_TAG",
    "SEED_TAGS",
    "RecordKind",
    "TagField",
    "check_tag",
    "check_tags",
    "dataset_record_from_tags",
    "declares_personal_data",
    "fields_for",
    "is_compliance_tag",
    "missing_fields",
    "parse_dataset_record",
    "parse_record",
    "record_from_tags",
    "record_to_tags",
]


TRAINED_ON_ERASED_DATA_TAG = "compliance.gdpr.trained_on_erased_data"
"""Set by the server only, on a model version made from data a person had erased (GDPR
Art. 17, subjects/erasure/flags.py): a finding about the version, not part of the
record its team writes, so no client may set or delete it (server/claims.py)."""
SERVER_OWNED = frozenset({TRAINED_ON_ERASED_DATA_TAG})


def is_compliance_tag(key: str) -> bool:
    """Whether the tag key belongs to the compliance record's namespace (the tags the
    server sets itself are not the record's)."""
    return (key.startswith(PREFIX) or key in SEED_TAGS) and key not in SERVER_OWNED


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


def missing_fields(tags: Mapping[str, str], required: Iterable[str]) -> list[str]:
    """The required tag keys that are absent or blank, in the order required."""
    return [key for key in required if not (tags.get(key) or "").strip()]


def _unknown(key: str, kind: RecordKind) -> Problem:
    fields = fields_for(kind)
    if kind is not RecordKind.DATASET and key.startswith(DATASET_PREFIX) and key in DATASET_FIELDS:
        return Problem(
            key, "a dataset field: set it on the dataset input's tags "
            "(mlflow.log_input(dataset, tags=...)), not on a " + kind.value.replace("_", " ")
        )
    if kind is RecordKind.DATASET and key in FIELDS:
        return Problem(
            key, "a field of the run's record, not of a dataset; a dataset has: "
            + ", ".join(fields)
        )
    close = difflib.get_close_matches(key, fields, n=1, cutoff=0.8)
    hint = f"did you mean {close[0]}?" if close else f"allowed: {', '.join(fields)}"
    return Problem(key, f"unknown compliance field; {hint}")


def check_tag(key: str, value: str, kind: RecordKind | str = RecordKind.RUN) -> Problem | None:
    """The problem with writing this one tag on a record of ``kind``, or None if it is
    fine (or not a compliance tag). Cross-field rules need the whole record:
    :func:`~mlflow_compliance.record.writes.record_problems_after`."""
    if not is_compliance_tag(key):
        return None
    kind = RecordKind(kind)
    field = fields_for(kind).get(key)
    if field is None:
        return _unknown(key, kind)
    try:
        field.decode(value)
    except InvalidComplianceRecord as e:
        return e.problems[0]
    return None


def check_tags(
    tags: Mapping[str, str] | Iterable[tuple[str, str]], kind: RecordKind | str = RecordKind.RUN
) -> list[Problem]:
    """Every problem in a batch of tag writes, each tag on its own."""
    pairs = tags.items() if isinstance(tags, Mapping) else tags
    return [p for key, value in pairs if (p := check_tag(key, value, kind)) is not None]


def record_to_tags(record: ComplianceRecord | DatasetRecord) -> dict[str, str]:
    """The tags that store this record (either kind); fields left unset produce no tag."""
    fields = DATASET_FIELDS if isinstance(record, DatasetRecord) else FIELDS
    data = record.model_dump()
    tags: dict[str, str] = {}
    for field in fields.values():
        value: Any = data
        for part in field.path:
            value = value[part]
        if value is not None:
            tags[field.tag] = field.encode(value)
    return tags


def _decoded(tags: Mapping[str, str], kind: RecordKind) -> dict[str, Any]:
    fields = fields_for(kind)
    problems: list[Problem] = []
    data: dict[str, Any] = {}
    for key, text in tags.items():
        if not is_compliance_tag(key):
            continue
        field = fields.get(key)
        if field is None:
            problems.append(_unknown(key, kind))
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
    return data


def record_from_tags(tags: Mapping[str, str]) -> ComplianceRecord:
    """The record stored in these tags; other tags are ignored, bad ones all reported."""
    return parse_record(_decoded(tags, RecordKind.RUN))


def dataset_record_from_tags(tags: Mapping[str, str]) -> DatasetRecord:
    """The record stored in a dataset input's tags (``mlflow.data.context`` and other
    non-compliance tags ignored); raises InvalidComplianceRecord listing every bad one."""
    return parse_dataset_record(_decoded(tags, RecordKind.DATASET))


def record_of_kind(tags: Mapping[str, str], kind: RecordKind | str) -> BaseModel:
    """The whole record of ``kind`` stored in these tags, contradictions refused."""
    kind = RecordKind(kind)
    if kind is RecordKind.DATASET:
        return dataset_record_from_tags(tags)
    return record_from_tags(tags)


def parse_record(data: Mapping[str, Any] | ComplianceRecord | None) -> ComplianceRecord:
    """A record from a mapping (as in ``compliance.toml``), every bad field reported."""
    if data is None:
        return ComplianceRecord()
    if isinstance(data, ComplianceRecord):
        return data
    return _validate(ComplianceRecord, data, RecordKind.RUN)


def parse_dataset_record(data: Mapping[str, Any] | DatasetRecord | None) -> DatasetRecord:
    """A dataset record from its field names (``{"personal_data": True, "origin": ...}``)
    or from its tag keys (``{"compliance.dataset.origin": ...}``), every bad one reported."""
    if data is None:
        return DatasetRecord()
    if isinstance(data, DatasetRecord):
        return data
    if data and all(isinstance(k, str) and is_compliance_tag(k) and isinstance(v, str)
                    for k, v in data.items()):
        return dataset_record_from_tags(data)
    return _validate(DatasetRecord, data, RecordKind.DATASET)


def _validate(model: type[M], data: Mapping[str, Any], kind: RecordKind) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as e:
        problems = [p for err in e.errors() for p in _problems_from(err, data, kind)]
        raise InvalidComplianceRecord(problems) from None


def _problems_from(err: Any, data: Mapping[str, Any], kind: RecordKind) -> list[Problem]:
    loc = tuple(p for p in err["loc"] if isinstance(p, str))
    if not loc:  # a model-level consistency error names its own fields, one per line
        message = str(err["msg"]).removeprefix("Value error, ")
        return [Problem(*line.split(": ", 1)) for line in message.splitlines()]
    by_path = {f.path: f for f in fields_for(kind).values()}
    field = by_path.get(loc)
    if field is None:
        nested = kind is not RecordKind.DATASET and len(loc) > 1
        return [_unknown(PREFIX + ".".join(loc) if nested else loc[0], kind)]
    value: Any = data
    for part in loc:
        value = value.get(part) if isinstance(value, Mapping) else None
    return [field.refused(value, [err])]

