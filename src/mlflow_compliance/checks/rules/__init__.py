"""The built-in rules, one module per pack (``baseline``, ``gdpr``, ``ai_act``).

This module holds what the packs share: the ``rule`` decorator, which makes a check
function a Rule whose documentation is the function's docstring (so the text a
data-protection officer reads sits next to the code it describes), the three outcome
shorthands, and remediation phrases built from the record's own allowed values, so they
cannot drift from the schema.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable

from mlflow_compliance.checks.model import Check, Kind, Outcome, Rule, Severity, Status
from mlflow_compliance.record.tags import FIELDS


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


def allowed(tag: str) -> str:
    """What the record allows for a field, for remediations (a KeyError names a typo)."""
    return FIELDS[tag].allowed


def set_tag(tag: str) -> str:
    """The remediation of a rule that asks for one field of the record."""
    return f"Set tag {tag} to {allowed(tag)}."
