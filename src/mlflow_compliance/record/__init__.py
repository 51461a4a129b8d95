"""The compliance record: schema, tag codec, validation."""

from mlflow_compliance.record.errors import InvalidComplianceRecord, Problem
from mlflow_compliance.record.schema import AiActRecord, ComplianceRecord, GdprRecord
from mlflow_compliance.record.tags import (
    FIELDS,
    check_tag,
    check_tags,
    is_compliance_tag,
    parse_record,
    record_from_tags,
    record_to_tags,
)

__all__ = [
    "FIELDS",
    "AiActRecord",
    "ComplianceRecord",
    "GdprRecord",
    "InvalidComplianceRecord",
    "Problem",
    "check_tag",
    "check_tags",
    "is_compliance_tag",
    "parse_record",
    "record_from_tags",
    "record_to_tags",
]
