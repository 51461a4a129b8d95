"""A team's own rules in a TOML file: required tags and params, no Python needed.

    [[rule]]
    id = "TEAM-OWNER"
    article = "GDPR Art. 5(2)"
    severity = "medium"
    applies_to = ["run", "model_version"]
    title = "Owner named"
    doc = "Accountability needs a person to ask. This rule looks for the team.owner tag."
    remediation = "Set tag team.owner to the e-mail address of the run's owner."

    [rule.require]                       # tag key -> "*" (any non-empty value) or a list
    "team.owner" = "*"
    "compliance.ai_act.risk_class" = ["minimal", "high"]

    [rule.require_params]                # the same, for params
    data_description = "*"

The file is checked in full before any rule runs; every problem is reported on one line
that names the file and the field.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StringConstraints,
    ValidationError,
    model_validator,
)

from mlflow_compliance.checks.model import Check, Kind, Outcome, Rule, Severity, Target
from mlflow_compliance.checks.rules import failed, passed
from mlflow_compliance.record.tags import FIELDS, check_tag, is_compliance_tag

ANY_VALUE = "*"


class RuleFileError(ValueError):
    """A rule file that cannot be used; the one-line message names the file and field."""


def _requirement(value: Any) -> str | tuple[str, ...]:
    if value == ANY_VALUE:
        return ANY_VALUE
    if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
        return tuple(value)
    raise ValueError("not a requirement")


Requirement = Annotated[str | tuple[str, ...], PlainValidator(_requirement)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
RuleId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]


class RuleSpec(BaseModel):
    """One ``[[rule]]`` table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: RuleId
    article: Text
    severity: Severity
    applies_to: list[Kind] = Field(min_length=1)
    title: Text
    doc: Text
    remediation: Text
    require: dict[str, Requirement] = Field(default_factory=dict)
    require_params: dict[str, Requirement] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _requires_something(self) -> RuleSpec:
        if not self.require and not self.require_params:
            raise ValueError("a rule needs [rule.require] or [rule.require_params]")
        return self


class RuleFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rule: list[RuleSpec] = Field(min_length=1)


ALLOWED = {
    "rule": "one or more [[rule]] tables",
    "id": "letters, digits, '.', '_' and '-', such as TEAM-OWNER",
    "severity": ", ".join(Severity),
    "applies_to": "a list of " + ", ".join(Kind),
    "require": f'"{ANY_VALUE}" (any non-empty value) or a list of allowed values',
    "require_params": f'"{ANY_VALUE}" (any non-empty value) or a list of allowed values',
}
TEXT = "non-empty text"


def load_rule_file(path: Path) -> list[Rule]:
    """The rules declared in a TOML file; RuleFileError names every bad field."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise RuleFileError(f"{path}: cannot read ({e.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise RuleFileError(f"{path}: not valid TOML ({e})") from None
    try:
        specs = RuleFile.model_validate(data).rule
    except ValidationError as e:
        problems = [_describe(err) for err in e.errors()]
        raise RuleFileError(f"{path}: " + "; ".join(problems)) from None
    tag_problems = [p for n, spec in enumerate(specs, 1) for p in _record_tag_problems(n, spec)]
    if tag_problems:
        raise RuleFileError(f"{path}: " + "; ".join(tag_problems))
    return [_rule(spec) for spec in specs]


def _where(loc: tuple[int | str, ...]) -> str:
    """A pydantic location as the user wrote it: rule[2].require."team.owner" (from 1)."""
    where = ""
    for part in loc:
        if isinstance(part, int):
            where += f"[{part + 1}]"
        else:
            where += ("." if where else "") + (
                part if re.fullmatch(r"[A-Za-z0-9_-]+", part) else f'"{part}"'
            )
    return where


def _describe(err: Mapping[str, Any]) -> str:
    loc = tuple(err["loc"])
    if err["type"] == "missing":
        return f"{_where(loc)}: missing"
    if err["type"] == "extra_forbidden":
        fields = RuleSpec.model_fields if loc[0] == "rule" else RuleFile.model_fields
        return f"{_where(loc)}: unknown field; allowed: {', '.join(fields)}"
    if err["type"] == "value_error" and len(loc) == 2:  # a [[rule]] table's own check
        return f"{_where(loc)}: {str(err['msg']).removeprefix('Value error, ')}"
    field = str(loc[2]) if len(loc) > 2 and loc[0] == "rule" else str(loc[0])
    shown = repr(err["input"])
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return f"{_where(loc)}: {shown} is not allowed; allowed: {ALLOWED.get(field, TEXT)}"


def _record_tag_problems(n: int, spec: RuleSpec) -> list[str]:
    """Requirements on compliance tags must name a field and values the record allows,
    or the rule could never pass."""
    problems = []
    for key, requirement in spec.require.items():
        where = _where(("rule", n - 1, "require", key))
        if not is_compliance_tag(key):
            continue
        if key not in FIELDS:
            problems.append(f"{where}: not a field of the compliance record (docs/record.md)")
            continue
        values = () if requirement == ANY_VALUE else requirement
        problems += [f"{where}: {p.reason}" for v in values if (p := check_tag(key, v))]
    return problems


def _rule(spec: RuleSpec) -> Rule:
    return Rule(
        id=spec.id,
        article=spec.article,
        severity=spec.severity,
        applies_to=frozenset(spec.applies_to),
        title=spec.title,
        doc=spec.doc,
        remediation=spec.remediation,
        check=_check(spec),
    )


def _check(spec: RuleSpec) -> Check:
    def check(target: Target) -> Outcome:
        problems = _unmet("tag", spec.require, target.tags)
        problems += _unmet("param", spec.require_params, target.params)
        if problems:
            return failed("; ".join(problems))
        return passed("has " + ", ".join([*spec.require, *spec.require_params]))

    return check


def _unmet(
    what: str, required: Mapping[str, str | tuple[str, ...]], found: Mapping[str, str]
) -> list[str]:
    problems = []
    for key, requirement in required.items():
        value = found.get(key, "").strip()
        if not value:
            problems.append(f"missing {what} {key}")
        elif requirement != ANY_VALUE and value not in requirement:
            problems.append(f"{what} {key} is {value!r}; allowed: {', '.join(requirement)}")
    return problems
