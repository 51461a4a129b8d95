"""What the rules read from a run's datasets: each dataset input's own record."""

from __future__ import annotations

import functools
from typing import Any

from mlflow_compliance.checks.model import DatasetRef, Target
from mlflow_compliance.checks.rules import field_value, shown
from mlflow_compliance.record import PERSONAL_DATA_TAG, RecordKind, declares_personal_data

SPECIAL_CATEGORIES_TAG = "compliance.gdpr.special_categories"


def dataset_value(dataset: DatasetRef, tag: str) -> Any:
    """A field of the dataset's record (None: not set, or no valid record)."""
    if dataset.record is None:
        return None
    return field_value(dataset.record, tag, RecordKind.DATASET)


def personal_datasets(target: Target) -> list[str]:
    """The datasets whose record declares personal data; a value the record refuses
    counts as personal data (fail closed, as for need-to-know)."""
    return [d.name for d in target.datasets if _declares(d.tags.get(PERSONAL_DATA_TAG))]


@functools.lru_cache(maxsize=64)
def _declares(value: str | None) -> bool:
    return declares_personal_data(value)


def invalid_datasets(target: Target) -> list[str]:
    return [d.name for d in target.datasets if d.record is None]


def special_categories(target: Target) -> list[str]:
    """The special categories the record lists, and those its datasets list."""
    found: list[str] = []
    if target.record is not None:
        found += [shown(c) for c in target.record.gdpr.special_categories or ()]
    for d in target.datasets:
        found += [shown(c) for c in dataset_value(d, SPECIAL_CATEGORIES_TAG) or ()]
    return list(dict.fromkeys(found))
