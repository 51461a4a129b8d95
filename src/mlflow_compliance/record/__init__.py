"""The compliance record: schema, tag codec, validation."""

from mlflow_compliance.record.errors import InvalidComplianceRecord, Problem
from mlflow_compliance.record.schema import AiActRecord, ComplianceRecord, GdprRecord
from mlflow_compliance.record.tags import (
    FIELDS,
    PERSONAL_DATA_TAG,
    check_tag,
    check_tags,
    declares_personal_data,
    is_compliance_tag,
    parse_record,
    record_from_tags,
    record_to_tags,
)

__all__ = [
    "FIELDS",
    "PERSONAL_DATA_TAG",
    "AiActRecord",
    "ComplianceRecord",
    "GdprRecord",
    "InvalidComplianceRecord",
    "Problem",
    "check_tag",
    "check_tags",
    "declares_personal_data",
    "is_compliance_tag",
    "parse_record",
    "record_from_tags",
    "record_to_tags",
]
