"""The compliance record: schema, dataset record, value types, tag codec, validation."""

from mlflow_compliance.record.dataset import DatasetRecord
from mlflow_compliance.record.errors import InvalidComplianceRecord, Problem
from mlflow_compliance.record.fields import (
    DATASET_FIELDS,
    FIELDS,
    RecordKind,
    TagField,
    fields_for,
)
from mlflow_compliance.record.schema import AiActRecord, ComplianceRecord, GdprRecord
from mlflow_compliance.record.tags import (
    DEFAULT_REQUIRED,
    PERSONAL_DATA_TAG,
    check_tag,
    check_tags,
    dataset_record_from_tags,
    declares_personal_data,
    is_compliance_tag,
    missing_fields,
    parse_dataset_record,
    parse_record,
    record_from_tags,
    record_to_tags,
)
from mlflow_compliance.record.values import (
    Threshold,
    artifact_path,
    is_placeholder,
    parse_threshold,
    period_days,
)
from mlflow_compliance.record.writes import record_problems_after

__all__ = [
    "DATASET_FIELDS",
    "DEFAULT_REQUIRED",
    "FIELDS",
    "PERSONAL_DATA_TAG",
    "AiActRecord",
    "ComplianceRecord",
    "DatasetRecord",
    "GdprRecord",
    "InvalidComplianceRecord",
    "Problem",
    "RecordKind",
    "TagField",
    "Threshold",
    "artifact_path",
    "check_tag",
    "check_tags",
    "dataset_record_from_tags",
    "declares_personal_data",
    "fields_for",
    "is_compliance_tag",
    "is_placeholder",
    "missing_fields",
    "parse_dataset_record",
    "parse_record",
    "parse_threshold",
    "period_days",
    "record_from_tags",
    "record_problems_after",
    "record_to_tags",
]
