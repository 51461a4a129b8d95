"""What a batch of tag writes does to a stored record: the record is judged as a whole.

Checking tags one by one lets a record contradict itself over two writes (special
categories today, ``personal_data = false`` tomorrow). The server therefore applies
each batch of writes and deletes to the stored tags and validates the result, cross-
field rules included (GDPR Art. 5(2): the controller must be able to demonstrate
compliance, which a self-contradicting record cannot).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from mlflow_compliance.record.errors import InvalidComplianceRecord, Problem
from mlflow_compliance.record.fields import RecordKind
from mlflow_compliance.record.tags import is_compliance_tag, record_of_kind


def record_after(
    existing: Mapping[str, str],
    writes: Iterable[tuple[str, str]],
    deletes: Iterable[str] = (),
) -> dict[str, str]:
    """The compliance tags once ``writes`` (in order, the last one wins) and ``deletes``
    are applied to ``existing``; other tags are left out."""
    tags = {k: v for k, v in existing.items() if is_compliance_tag(k)}
    for key, value in writes:
        if is_compliance_tag(key):
            tags[key] = value
    for key in deletes:
        tags.pop(key, None)
    return tags


def record_problems_after(
    existing: Mapping[str, str],
    writes: Iterable[tuple[str, str]],
    deletes: Iterable[str] = (),
    kind: RecordKind | str = RecordKind.RUN,
) -> list[Problem]:
    """The problems of the whole record of ``kind`` once the writes and deletes are
    applied to the existing tags, contradictions included; ``[]`` when they touch no
    compliance tag, so a plain MLflow tag write is never blocked by an old bad record.
    """
    writes = list(writes)
    deletes = list(deletes)
    touched = [key for key, _ in writes] + deletes
    if not any(is_compliance_tag(key) for key in touched):
        return []
    try:
        record_of_kind(record_after(existing, writes, deletes), kind)
    except InvalidComplianceRecord as e:
        return e.problems
    return []
