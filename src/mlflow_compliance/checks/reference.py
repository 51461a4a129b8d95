"""The rules reference page (``docs/rules.md``), generated from the built-in packs, so
what a data-protection officer reads is what the checks do."""

from __future__ import annotations

import inspect

from mlflow_compliance.checks.model import Kind, Rule
from mlflow_compliance.checks.packs import BUILTIN_PACKS, ENTRY_POINT_GROUP

REGENERATE = (
    "python -c 'from mlflow_compliance.checks.reference import rules_reference; "
    "print(rules_reference(), end=\"\")' > docs/rules.md"
)

HEADER = f"""\
# Compliance rules reference

<!-- Generated from the built-in rule packs; do not edit by hand. Regenerate with:
{REGENERATE} -->

A rule checks one kind of target: a run, an experiment, a dataset (an input of a run)
or a model version, which is checked together with its source run, that run's
parameters, metrics and datasets. Each rule names the article it serves and gives one
outcome per target: `pass`; `fail` (what is wrong, and a remediation); `undeclared` when
a declaration the rule needs is missing (it fails like `fail`: `check` exits 1 and the
promotion gate refuses); or `not_applicable` only when the record says why, for example
GDPR rules on a run whose record declares no personal data. Rules fail closed: silence
is never a pass. References to evidence (`artifact:<path>` or an `https://` URL) must
resolve: an artifact path must exist among the run's artifacts. The tags the rules read
are listed in [record.md](record.md).

The server's policy sets the minimum record every run and model version must declare
(`MLFLOW_COMPLIANCE_REQUIRED_RECORD`, default `compliance.gdpr.personal_data` and
`compliance.ai_act.risk_class`), the longest retention period allowed
(`MLFLOW_COMPLIANCE_MAX_RETENTION`, default `P10Y`; a year counts 365.25 days, a month
30.44) and the shortest event-log retention of a high-risk system (183 days, AI Act Art.
19(1)); `check` uses the policy the server reports.

Rules are grouped in packs. The promotion gate runs the packs named in
`MLFLOW_COMPLIANCE_GATE_RULES` (default `baseline,gdpr,ai-act`); a team adds its own
with a rule file or an installed package (see the end of this page). This tool records
and checks evidence; it is not legal advice.
"""

CUSTOM_RULES = f"""\
## Your own rules

A pack is named by a built-in pack name, the name of an installed pack, or the path of
a `.toml` rule file, for example
`MLFLOW_COMPLIANCE_GATE_RULES=baseline,gdpr,ai-act,team-rules.toml`. Two rules with the
same id are an error.

### A declarative rule file

Each `[[rule]]` table declares one rule that requires tags (`[rule.require]`) and
params (`[rule.require_params]`): a key maps to `"*"` (any non-empty value) or to a list
of allowed values. The rule fails listing every missing or wrong tag and param.

```toml
[[rule]]
id = "TEAM-OWNER"                       # letters, digits, '.', '_' and '-'
article = "GDPR Art. 5(2)"
severity = "medium"                     # low, medium, high or critical
applies_to = ["run", "model_version"]   # run, experiment, dataset, model_version
title = "Owner and risk class set"
doc = "Accountability needs a person to ask. This rule looks for the team.owner tag."
remediation = "Set tag team.owner to the e-mail address of the run's owner."

[rule.require]
"team.owner" = "*"
"compliance.ai_act.risk_class" = ["minimal", "high"]

[rule.require_params]
data_description = "*"
```

The file is checked in full before any rule runs. A problem is reported on one line that
names the file and the field, counting `[[rule]]` tables from 1, for example
`team-rules.toml: rule[2].severity: 'urgent' is not allowed; allowed: low, medium, high,
critical`. A required `compliance.*` tag must be a field of the record, and the values
listed for it must be values the record allows.

### A rule pack in a Python package

An installed package registers a pack in the entry point group `{ENTRY_POINT_GROUP}`: the
entry point's name is the pack's name, its value a list of rules or a function that
returns one. A check is a pure function of the target that returns an `Outcome`.

```toml
# pyproject.toml of the package
[project.entry-points."{ENTRY_POINT_GROUP}"]
acme = "acme_rules:rules"
```

```python
# acme_rules.py
from mlflow_compliance.checks.model import Kind, Outcome, Rule, Severity, Status, Target


def _model_card(target: Target) -> Outcome:
    if target.tags.get("acme.model_card"):
        return Outcome(Status.PASS, "model card linked")
    return Outcome(Status.FAIL, "no tag acme.model_card")


def rules() -> list[Rule]:
    return [
        Rule(
            id="ACME-MODEL-CARD",
            article="AI Act Art. 11, Annex IV",
            severity=Severity.MEDIUM,
            applies_to=frozenset({{Kind.MODEL_VERSION}}),
            title="Model card linked",
            doc="The technical documentation describes the model. "
            "This rule looks for the acme.model_card tag.",
            remediation="Set tag acme.model_card to the URL of the model card.",
            check=_model_card,
        )
    ]
```

With the package installed, `acme` is a pack like the built-in ones. A rule that raises
stops the check with an error naming the rule and the target.
"""

def _applies_to(rule: Rule) -> str:
    return ", ".join(kind.value for kind in Kind if kind in rule.applies_to)


def _rule_section(rule: Rule) -> str:
    return (
        f"### {rule.id}\n\n"
        "| title | article | severity | applies to |\n|---|---|---|---|\n"
        f"| {rule.title} | {rule.article} | {rule.severity.value} | {_applies_to(rule)} |\n\n"
        f"{rule.doc}\n\n"
        f"**Remediation:** {rule.remediation}\n"
    )


def _pack_section(name: str, rules: list[Rule]) -> str:
    """The pack's module docstring introduces it: what the pack is for, then why."""
    module = inspect.getmodule(rules[0].check)
    about = inspect.cleandoc(module.__doc__ if module and module.__doc__ else "")
    about = about.removeprefix(f"Pack ``{name}``: ").replace("``", "`")
    lines = [f"## Pack `{name}`", "", about[:1].upper() + about[1:], ""]
    lines += [f"- [{rule.id}](#{rule.id.lower()}): {rule.title}" for rule in rules]
    return "\n".join(lines) + "\n\n" + "\n".join(_rule_section(rule) for rule in rules)


def rules_reference() -> str:
    """Markdown for docs/rules.md."""
    packs = "\n".join(_pack_section(name, rules) for name, rules in BUILTIN_PACKS.items())
    return HEADER + "\n" + packs + "\n" + CUSTOM_RULES
