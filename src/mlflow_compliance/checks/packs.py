"""Rule packs: which rules a check or the promotion gate runs, and running them.

A pack is named on the command line or in MLFLOW_COMPLIANCE_GATE_RULES: a built-in pack
(``baseline``, ``gdpr``, ``ai-act``), a pack another installed package registers in the
entry point group ``mlflow_compliance.rules``, or the path of a declarative ``.toml``
rule file. A spec that cannot be loaded is a ValueError with a one-line message; a rule
that breaks while running is a RuleFailed, never a silent pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

from mlflow_compliance.checks.declarative import load_rule_file
from mlflow_compliance.checks.model import Finding, Kind, Outcome, Rule, Target
from mlflow_compliance.checks.rules import ai_act, baseline, datasets, gdpr

ENTRY_POINT_GROUP = "mlflow_compliance.rules"

BUILTIN_PACKS: dict[str, list[Rule]] = {
    "baseline": baseline.RULES,
    "gdpr": gdpr.RULES,
    "ai-act": [*ai_act.RULES, *datasets.RULES],
}


class PackError(ValueError):
    """A rule pack that cannot be used; the message names it."""


class UnknownPack(PackError):
    """A pack name that is neither built in, nor installed, nor a .toml file."""


class RuleFailed(RuntimeError):
    """A rule raised (or returned no Outcome) on a target: a bug in the rule, reported
    with both names rather than counted as a pass or a fail."""

    def __init__(self, rule_id: str, target: Target, reason: str) -> None:
        self.rule_id, self.target_id = rule_id, target.id
        super().__init__(f"rule {rule_id} failed on {target.kind.value} {target.id}: {reason}")


def installed_packs() -> dict[str, EntryPoint]:
    """Packs other packages register: ``[project.entry-points."mlflow_compliance.rules"]``."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


DEFAULT_PACKS = ("baseline", "gdpr", "ai-act")
"""The packs ``check`` runs when none are named (and the bundle's check report)."""


def load_rules(spec: Sequence[str]) -> list[Rule]:
    """The rules of every pack named, in order; two rules with one id are an error."""
    origin: dict[str, str] = {}
    rules: list[Rule] = []
    for item in spec:
        for rule in _pack(item):
            if rule.id in origin:
                raise PackError(
                    f"rule {rule.id} is defined twice: in {origin[rule.id]} and in {item}"
                )
            origin[rule.id] = item
            rules.append(rule)
    return rules


def _pack(item: str) -> list[Rule]:
    if item in BUILTIN_PACKS:
        return BUILTIN_PACKS[item]
    if item.lower().endswith(".toml"):
        return load_rule_file(Path(item))
    installed = installed_packs()
    if item in installed:
        return _installed_rules(installed[item])
    allowed = ", ".join([*BUILTIN_PACKS, *installed])
    raise UnknownPack(
        f"unknown rule pack {item!r}; allowed: {allowed}, or the path of a .toml rule file"
    )


def _installed_rules(ep: EntryPoint) -> list[Rule]:
    """An entry point's value is a list of rules, or a callable that returns one."""
    try:
        loaded = ep.load()
        rules = loaded() if callable(loaded) else loaded
    except Exception as e:
        raise PackError(f"rule pack {ep.name} ({ep.value}) cannot be loaded: {e}") from e
    if not isinstance(rules, list | tuple) or not all(isinstance(r, Rule) for r in rules):
        raise PackError(
            f"rule pack {ep.name} ({ep.value}) gives {type(rules).__name__}, not a list of Rule"
        )
    return list(rules)


def evaluate(rules: Sequence[Rule], targets: Iterable[Target]) -> list[Finding]:
    """Each rule on each target of a kind it applies to: target order, then rule order."""
    by_kind: dict[Kind, list[Rule]] = {}
    findings = []
    for target in targets:
        applicable = by_kind.get(target.kind)
        if applicable is None:
            applicable = by_kind[target.kind] = [r for r in rules if target.kind in r.applies_to]
        findings += [_finding(rule, target) for rule in applicable]
    return findings


def _finding(rule: Rule, target: Target) -> Finding:
    try:
        outcome = rule.check(target)
    except Exception as e:
        raise RuleFailed(rule.id, target, f"{type(e).__name__}: {e}") from e
    if not isinstance(outcome, Outcome):
        raise RuleFailed(rule.id, target, f"returned {type(outcome).__name__}, not an Outcome")
    return Finding(
        rule_id=rule.id,
        article=rule.article,
        severity=rule.severity,
        target_kind=target.kind,
        target_id=target.id,
        target_name=target.name,
        status=outcome.status,
        message=outcome.message,
        remediation=rule.remediation,
    )
