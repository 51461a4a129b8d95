"""The policy a server holds its records to: which declarations are the minimum record,
the longest retention period allowed, and the shortest time a high-risk system's own
event logs may be kept.

The compliance server reads it from its settings (:meth:`Policy.from_env`) and reports
it in ``GET /api/2.0/compliance/server-info`` (:meth:`Policy.as_dict`); ``check`` uses
the policy of the server it checks (:meth:`Policy.from_dict`), the defaults for a plain
MLflow server.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlflow_compliance.record import DEFAULT_REQUIRED, FIELDS, period_days
from mlflow_compliance.settings import (
    MAX_RETENTION_ENV,
    MIN_RETENTION_DAYS,
    REQUIRED_RECORD_ENV,
    SettingProblem,
)

DEFAULT_MAX_RETENTION_DAYS = 3653  # P10Y


@dataclass(frozen=True)
class Policy:
    required: tuple[str, ...] = DEFAULT_REQUIRED  # the minimum record (tag keys)
    max_retention_days: int = DEFAULT_MAX_RETENTION_DAYS  # a longer retention fails
    min_event_log_days: int = MIN_RETENTION_DAYS  # AI Act Art. 19(1): six months

    @classmethod
    def from_env(cls) -> Policy:
        """MLFLOW_COMPLIANCE_REQUIRED_RECORD (comma-separated tag keys, "" or "none" for
        nothing, unset for the default) and MLFLOW_COMPLIANCE_MAX_RETENTION (an ISO 8601
        period); a bad value is a SettingProblem naming the variable."""
        raw = os.environ.get(REQUIRED_RECORD_ENV)
        required = DEFAULT_REQUIRED if raw is None else _required(raw)
        period = os.environ.get(MAX_RETENTION_ENV, "").strip()
        if not period:
            return cls(required=required)
        try:
            days = period_days(period)
        except ValueError:
            raise SettingProblem(f"{MAX_RETENTION_ENV}: {period!r} is not allowed; allowed: an "
                                 "ISO 8601 period such as P10Y or P18M") from None
        if days <= 0:
            raise SettingProblem(f"{MAX_RETENTION_ENV}: {period!r} is zero; allowed: a period "
                                 "longer than zero, such as P10Y")
        return cls(required=required, max_retention_days=math.ceil(days))

    def as_dict(self) -> dict[str, Any]:
        return {
            "required": list(self.required),
            "max_retention_days": self.max_retention_days,
            "min_event_log_days": self.min_event_log_days,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Policy:
        """The policy a server reports; what it leaves out keeps the default."""
        if not isinstance(data, Mapping):
            return cls()
        defaults = cls()
        required = data.get("required")
        return cls(
            required=tuple(str(t) for t in required) if isinstance(required, list)
            else defaults.required,
            max_retention_days=_days(data.get("max_retention_days"), defaults.max_retention_days),
            min_event_log_days=_days(data.get("min_event_log_days"), defaults.min_event_log_days),
        )


def _required(raw: str) -> tuple[str, ...]:
    if raw.strip().lower() in ("", "none"):
        return ()
    keys = tuple(dict.fromkeys(k.strip() for k in raw.split(",") if k.strip()))
    unknown = [k for k in keys if k not in FIELDS]
    if unknown:
        raise SettingProblem(
            f"{REQUIRED_RECORD_ENV}: {', '.join(unknown)} is not a field of the compliance "
            f"record; allowed: a comma-separated list of {', '.join(FIELDS)}, or none"
        )
    return keys


def _days(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 \
        else default
