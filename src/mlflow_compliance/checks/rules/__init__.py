"""The built-in rules, one module per pack (``baseline``, ``gdpr``, ``ai_act``, with
the AI Act's dataset rules in ``datasets``).

This module holds what the packs share: the ``rule`` decorator, which makes a check
function a Rule whose documentation is the function's docstring (so the text a
data-protection officer reads sits next to the code it describes), the outcome
shorthands, reading a field of a record by its tag, and remediation phrases built from
the record's own allowed values, so they cannot drift from the schema.

Rules fail closed: a rule that cannot decide because a declaration is missing says
``undeclared`` naming the tag; ``not_applicable`` only when the record says why.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from typing import Any

from mlflow_compliance.checks.model import Check, Kind, Outcome, Rule, Severity, Status, Target
from mlflow_compliance.record import RecordKind, fields_for
from mlflow_compliance.record.tags import FIELDS

DATASET_FIELDS = fields_for(RecordKind.DATASET)


def rule(
    *,
    id: str,
    article: str,
    severity: Severity,
    applies_to: Iterable[Kind],
    title: str,
    remediation: str,
) -> Callable[[Check], Rule]:
    """Declare a rule; the decorated function is its check, its docstring its doc."""

    def make(check: Check) -> Rule:
        assert check.__doc__, f"{id}: the check's docstring is the rule's doc"
        return Rule(
            id=id,
            article=article,
            severity=severity,
            applies_to=frozenset(applies_to),
            title=title,
            doc=" ".join(inspect.cleandoc(check.__doc__).split()),
            remediation=remediation,
            check=check,
        )

    return make


def passed(message: str) -> Outcome:
    return Outcome(Status.PASS, message)


def failed(message: str) -> Outcome:
    return Outcome(Status.FAIL, message)


def not_applicable(message: str) -> Outcome:
    return Outcome(Status.NOT_APPLICABLE, message)


def undeclared(message: str) -> Outcome:
    return Outcome(Status.UNDECLARED, message)


def allowed(tag: str) -> str:
    """What the record allows for a field, for remediations (a KeyError names a typo)."""
    return (FIELDS[tag] if tag in FIELDS else DATASET_FIELDS[tag]).allowed


def field_value(record: Any, tag: str, kind: RecordKind = RecordKind.RUN) -> Any:
    """The value of the field stored under ``tag`` in a parsed record (None: not set)."""
    value = record
    for part in fields_for(kind)[tag].path:
        value = getattr(value, part)
    return value


def shown(value: Any) -> str:
    """A record value as its tag writes it: enums by value, lists comma-separated."""
    if isinstance(value, list | tuple):
        return ",".join(shown(v) for v in value)
    return str(getattr(value, "value", value))


def started_on(target: Target) -> date | None:
    """The day (UTC) the training run started: the run's own, a version's source run's."""
    if target.started <= 0:
        return None
    return datetime.fromtimestamp(target.started / 1000, UTC).date()


def set_tag(tag: str) -> str:
    """The remediation of a rule that asks for one field of the record."""
    return f"Set tag {tag} to {allowed(tag)}."
