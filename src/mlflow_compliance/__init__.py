"""mlflow-compliance: GDPR and EU AI Act compliance for an unmodified MLflow.

The record and the seed's workflow::

    from mlflow_compliance import ComplianceRecord, compliance_run, log_model_with_compliance

This package records and checks evidence of compliance; it does not give legal advice.
"""

from typing import Any

from mlflow_compliance.record import (
    AiActRecord,
    ComplianceRecord,
    GdprRecord,
    InvalidComplianceRecord,
    record_from_tags,
    record_to_tags,
)

__all__ = [
    "AiActRecord",
    "ComplianceRecord",
    "GdprRecord",
    "InvalidComplianceRecord",
    "compliance_run",
    "log_dataset_with_compliance",
    "log_model_with_compliance",
    "record_from_tags",
    "record_to_tags",
]


def __getattr__(name: str) -> Any:
    # The client API imports mlflow; loaded lazily because MLflow itself imports this
    # package (run context provider) while mlflow is still initialising.
    if name in ("compliance_run", "log_dataset_with_compliance", "log_model_with_compliance"):
        from mlflow_compliance.client import runs

        return getattr(runs, name)
    raise AttributeError(name)
