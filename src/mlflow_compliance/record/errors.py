"""The one error type for a compliance record or tag that is not allowed."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One bad field: the tag key it is stored under, what was given, what is allowed."""

    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


class InvalidComplianceRecord(ValueError):
    """A compliance record or tag that breaks the schema. Lists every bad field."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("invalid compliance record: " + "; ".join(map(str, problems)))
