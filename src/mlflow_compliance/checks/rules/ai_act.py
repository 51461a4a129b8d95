"""Pack ``ai-act``: what the EU AI Act asks of an AI system, by risk class.

Every system needs a risk class, a prohibited one may not be used at all, and every
model version says whether the transparency duties of Art. 50 apply. Most obligations
fall on high-risk systems (Art. 6, Annex III): those rules need the risk class
declared (undeclared otherwise) and do not apply when the record declares the class
minimal. Declared accuracy levels hold whatever the class. Data governance (Art. 10) is
checked paragraph by paragraph on the record of each dataset a high-risk system was
trained, validated or tested with. A run or model version whose tags do not form a valid
record fails here too ("no valid record").
"""

from __future__ import annotations

import math
import sys

from mlflow_compliance.checks.model import Kind, Outcome, Severity, Status, Target
from mlflow_compliance.checks.references import problem as reference_problem
from mlflow_compliance.checks.rules import (
    failed,
    not_applicable,
    passed,
    rule,
    set_tag,
    shown,
    undeclared,
)
from mlflow_compliance.record import parse_threshold, period_days
from mlflow_compliance.record.schema import AiActRecord, Regulation, RiskClass

RUNS_AND_VERSIONS = (Kind.RUN, Kind.MODEL_VERSION)
NO_VALID_RECORD = "no valid record (see BASE-COMPLIANCE-TAGS)"
RISK_CLASS_UNDECLARED = "compliance.ai_act.risk_class not declared"


def high_risk(record: AiActRecord | None) -> AiActRecord | Outcome:
    """The AI Act part of a high-risk system's record, else the outcome."""
    if record is None:
        return failed(NO_VALID_RECORD)
    if record.risk_class is None:
        return undeclared(RISK_CLASS_UNDECLARED)
    if record.risk_class is not RiskClass.HIGH:
        return not_applicable(f"risk class {shown(record.risk_class)}: not high-risk")
    return record


def _high_risk(target: Target) -> AiActRecord | Outcome:
    return high_risk(target.record.ai_act if target.record else None)


@rule(
    id="AIACT-6-RISK-CLASS",
    article="AI Act Art. 5, 6",
    severity=Severity.HIGH,
    applies_to=RUNS_AND_VERSIONS,
    title="Risk class declared",
    remediation=set_tag("compliance.ai_act.risk_class"),
)
def risk_class(target: Target) -> Outcome:
    """The AI Act forbids some practices outright (Art. 5) and classifies other systems
    as high-risk (Art. 6 and Annex III), with most obligations on those; transparency
    duties (Art. 50) come on top of any class. This rule requires every model version,
    and every run unless its `compliance` tag leaves the AI Act out, to declare its risk
    class."""
    if target.record is None:
        return failed(NO_VALID_RECORD)
    declared = target.record.ai_act.risk_class
    if declared is not None:
        return passed(f"risk class {shown(declared)}")
    regulations = target.record.regulations
    if target.kind is Kind.RUN and regulations and Regulation.AI_ACT not in regulations:
        return not_applicable("the record's regulations (tag compliance) leave out the AI Act")
    return undeclared(RISK_CLASS_UNDECLARED)


@rule(
    id="AIACT-5-PROHIBITED",
    article="AI Act Art. 5",
    severity=Severity.CRITICAL,
    applies_to=RUNS_AND_VERSIONS,
    title="No prohibited AI practice",
    remediation=(
        "Stop developing and using this system: an Art. 5 practice cannot be made compliant; "
        "if it was misclassified, correct tag compliance.ai_act.risk_class."
    ),
)
def prohibited(target: Target) -> Outcome:
    """Art. 5 bans some AI practices outright, among them social scoring, manipulation
    that exploits vulnerabilities, and untargeted scraping of facial images; no
    documentation makes them lawful. This rule fails every run and model version whose
    record declares the risk class prohibited, and one that declares no class."""
    if target.record is None:
        return failed(NO_VALID_RECORD)
    declared = target.record.ai_act.risk_class
    if declared is RiskClass.PROHIBITED:
        return failed("declared a prohibited AI practice (Art. 5)")
    if declared is None:
        regulations = target.record.regulations
        if target.kind is Kind.RUN and regulations and Regulation.AI_ACT not in regulations:
            return not_applicable("the record's regulations (tag compliance) leave out the "
                                  "AI Act")
        return undeclared(RISK_CLASS_UNDECLARED)
    return passed(f"risk class {shown(declared)}, not prohibited")


@rule(
    id="AIACT-50-TRANSPARENCY",
    article="AI Act Art. 50(1)-(4)",
    severity=Severity.MEDIUM,
    applies_to=(Kind.MODEL_VERSION,),
    title="Transparency duties declared",
    remediation=set_tag("compliance.ai_act.transparency_obligations"),
)
def transparency(target: Target) -> Outcome:
    """Whatever its risk class, a system that interacts with people, generates synthetic
    content, recognises emotions, categorises biometrically or makes deep fakes carries
    the transparency duties of Art. 50(1) to (4). This rule requires every model version's
    record to say whether those duties apply."""
    if target.record is None:
        return failed(NO_VALID_RECORD)
    declared = target.record.ai_act.transparency_obligations
    if declared is None:
        return undeclared("compliance.ai_act.transparency_obligations not declared")
    if declared:
        return passed("declares the Art. 50 transparency duties apply")
    return passed("declares no Art. 50 transparency duty applies")


@rule(
    id="AIACT-13-INTENDED-PURPOSE",
    article="AI Act Art. 13(3)(b)(i), Annex IV 1(a)",
    severity=Severity.HIGH,
    applies_to=RUNS_AND_VERSIONS,
    title="Intended purpose stated",
    remediation=(
        "Set tag compliance.ai_act.intended_purpose to the use the system is meant for "
        "(at least 20 characters and three words)."
    ),
)
def intended_purpose(target: Target) -> Outcome:
    """A high-risk system's instructions for use state its intended purpose (Art.
    13(3)(b)(i)), and its technical documentation starts with it (Annex IV 1(a));
    accuracy, oversight and misuse are all judged against it. This rule requires a
    high-risk system's record to state the intended purpose."""
    ai_act = _high_risk(target)
    if isinstance(ai_act, Outcome):
        return ai_act
    if ai_act.intended_purpose is None:
        return undeclared("no intended purpose (compliance.ai_act.intended_purpose)")
    return passed(f"intended purpose: {ai_act.intended_purpose}")


@rule(
    id="AIACT-6-ANNEX-III-AREA",
    article="AI Act Art. 6(2), Annex III",
    severity=Severity.MEDIUM,
    applies_to=RUNS_AND_VERSIONS,
    title="Annex III area named",
    remediation=set_tag("compliance.ai_act.annex_iii_area"),
)
def annex_iii_area(target: Target) -> Outcome:
    """Under Art. 6(2) a system is high-risk because of its use in one of the areas of
    Annex III, such as employment, education or access to essential services; the area
    decides which further duties and exemptions apply. This rule requires a high-risk
    system's record to name the area."""
    ai_act = _high_risk(target)
    if isinstance(ai_act, Outcome):
        return ai_act
    if ai_act.annex_iii_area is None:
        return undeclared("no Annex III area (compliance.ai_act.annex_iii_area)")
    return passed(f"Annex III area: {shown(ai_act.annex_iii_area)}")


def _reference(target: Target, tag: str, value: str | None, what: str) -> Outcome:
    if value is None:
        return undeclared(f"no {what} ({tag})")
    unresolved = reference_problem(target, tag, value)
    return failed(unresolved) if unresolved else passed(f"{what}: {value}")


@rule(
    id="AIACT-9-RISK-MANAGEMENT",
    article="AI Act Art. 9(1), 9(2)",
    severity=Severity.HIGH,
    applies_to=RUNS_AND_VERSIONS,
    title="Risk management documented",
    remediation=(
        "Set tag compliance.ai_act.risk_management_reference to artifact:<path> of a file "
        "logged on the run, or an https URL, where the risk management documentation is."
    ),
)
def risk_management(target: Target) -> Outcome:
    """A high-risk system needs a documented risk management system (Art. 9(1)), a
    continuous process that identifies, estimates and treats the risks to health, safety
    and fundamental rights (Art. 9(2)). This rule requires a high-risk system's record to
    reference that documentation, as an artifact the run has or an https URL."""
    ai_act = _high_risk(target)
    if isinstance(ai_act, Outcome):
        return ai_act
    return _reference(target, "compliance.ai_act.risk_management_reference",
                      ai_act.risk_management_reference, "risk management documentation")


@rule(
    id="AIACT-13-INSTRUCTIONS",
    article="AI Act Art. 13(1), 13(2)",
    severity=Severity.HIGH,
    applies_to=(Kind.MODEL_VERSION,),
    title="Instructions for use provided",
    remediation=(
        "Set tag compliance.ai_act.instructions_for_use to artifact:<path> of a file logged "
        "on the source run, or an https URL, where the instructions for deployers are."
    ),
)
def instructions(target: Target) -> Outcome:
    """A high-risk system must be transparent enough for deployers to use it
    appropriately (Art. 13(1)) and come with instructions for use (Art. 13(2)). This rule
    requires a high-risk model version's record to reference them, as an artifact of its
    source run or an https URL."""
    ai_act = _high_risk(target)
    if isinstance(ai_act, Outcome):
        return ai_act
    return _reference(target, "compliance.ai_act.instructions_for_use",
                      ai_act.instructions_for_use, "instructions for use")


@rule(
    id="AIACT-14-OVERSIGHT",
    article="AI Act Art. 14(1), 14(3)",
    severity=Severity.HIGH,
    applies_to=RUNS_AND_VERSIONS,
    title="Human oversight measures stated",
    remediation=(
        "Set tag compliance.ai_act.oversight_measures to the oversight measures built into "
        "the system or identified for the deployer (at least 20 characters and three words)."
    ),
)
def oversight(target: Target) -> Outcome:
    """A high-risk system must be designed so that natural persons can oversee it
    effectively (Art. 14(1)), through measures the provider builds in or identifies for
    the deployer to implement (Art. 14(3)), such as the ability to interpret, override or
    stop it. This rule requires a high-risk system's record to state those measures."""
    ai_act = _high_risk(target)
    if isinstance(ai_act, Outcome):
        return ai_act
    if ai_act.oversight_measures is None:
        return undeclared("no human oversight measures (compliance.ai_act.oversight_measures)")
    return passed(f"oversight measures: {ai_act.oversight_measures}")


@rule(
    id="AIACT-26-OVERSEER",
    article="AI Act Art. 26(2)",
    severity=Severity.LOW,
    applies_to=(Kind.MODEL_VERSION,),
    title="Human overseer assigned by the deployer",
    remediation=(
        "Set tag compliance.ai_act.human_overseer on the model version to the natural person "
        "who oversees the system in use."
    ),
)
def overseer(target: Target) -> Outcome:
    """A deployer of a high-risk system assigns its human oversight to natural persons
    with the competence, training, authority and support it needs (Art. 26(2)): a duty
    of whoever puts the system to use, not of the training run. This rule requires a
    high-risk model version's record to name that person."""
    ai_act = _high_risk(target)
    if isinstance(ai_act, Outcome):
        return ai_act
    if ai_act.human_overseer is None:
        return undeclared("no human overseer (compliance.ai_act.human_overseer)")
    return passed(f"overseen by {ai_act.human_overseer}")


def finite(value: float) -> bool:
    """MLflow stores an infinite metric as the largest float: that is not finite either."""
    return math.isfinite(value) and abs(value) < sys.float_info.max


def _threshold_problems(target: Target, declared: list[str]) -> list[str]:
    problems = []
    for text in declared:
        threshold = parse_threshold(text)
        value = target.metrics.get(threshold.metric)
        if value is None:
            problems.append(f"{threshold.metric} not logged (declared {text})")
        elif not finite(value):
            problems.append(f"{threshold.metric} is {value} (not finite)")
        elif not threshold.met(value):
            problems.append(f"{threshold.metric} = {value:g} misses {text}")
    return problems


def _group_problems(target: Target, ai_act: AiActRecord, declared: list[str]) -> list[str]:
    groups = ai_act.evaluation_groups
    if not groups:
        return ["no compliance.ai_act.evaluation_groups"]
    problems = []
    for text in declared:
        metric = parse_threshold(text).metric
        for group in groups:
            key = f"{metric}/{group}"
            value = target.metrics.get(key)
            if value is None:
                problems.append(f"{key} not logged")
            elif not finite(value):
                problems.append(f"{key} is {value} (not finite)")
    return problems


@rule(
    id="AIACT-15-ACCURACY",
    article="AI Act Art. 15(1), 15(3), 13(3)(b)(ii)",
    severity=Severity.HIGH,
    applies_to=RUNS_AND_VERSIONS,
    title="Declared accuracy levels met",
    remediation=(
        "Set tag compliance.ai_act.metric_thresholds (e.g. test_accuracy>=0.9) and log each "
        "metric on the run; for a high-risk model version also set tag "
        "compliance.ai_act.evaluation_groups and log <metric>/<group> for each group."
    ),
)
def accuracy(target: Target) -> Outcome:
    """A high-risk system must reach an appropriate level of accuracy (Art. 15(1)), with
    the levels and metrics declared (Art. 15(3)) in its instructions for use (Art.
    13(3)(b)(ii)), and its performance on the groups of persons it is used on stated (Art.
    13(3)(b)(v)). This rule requires a high-risk system to declare metric thresholds, holds
    every run and model version that declares them to the metrics logged on the run (a
    missing, NaN or infinite metric fails), and requires a high-risk model version to log
    each threshold metric for each declared evaluation group as `<metric>/<group>`."""
    if target.record is None:
        return failed(NO_VALID_RECORD)
    ai_act = target.record.ai_act
    declared = list(ai_act.metric_thresholds or ())
    if not declared:
        gate = high_risk(ai_act)
        if isinstance(gate, Outcome):
            if gate.status is Status.NOT_APPLICABLE:
                return not_applicable(f"{gate.message}, and declares no metric thresholds")
            return gate
        return undeclared("high-risk system without compliance.ai_act.metric_thresholds")
    problems = _threshold_problems(target, declared)
    if target.kind is Kind.MODEL_VERSION and ai_act.risk_class is RiskClass.HIGH:
        problems += _group_problems(target, ai_act, declared)
    if problems:
        if problems == ["no compliance.ai_act.evaluation_groups"]:
            return undeclared("high-risk model version without "
                              "compliance.ai_act.evaluation_groups")
        return failed("; ".join(problems))
    met = ", ".join(f"{t} ({target.metrics[parse_threshold(t).metric]:g})" for t in declared)
    return passed(f"met: {met}")


@rule(
    id="AIACT-12-EVENT-LOGS",
    article="AI Act Art. 12(1), 19(1)",
    severity=Severity.MEDIUM,
    applies_to=(Kind.MODEL_VERSION,),
    title="The system's event logs kept at least six months",
    remediation=(
        "Set tag compliance.ai_act.event_log_retention to how long the system keeps its own "
        "logs in use, an ISO 8601 period of at least six months such as P6M or P1Y."
    ),
)
def event_logs(target: Target) -> Outcome:
    """A high-risk system must automatically record events over its lifetime (Art.
    12(1)), and its provider must keep those logs for at least six months (Art. 19(1));
    these are the logs the system writes when it runs, not the tracking server's. This
    rule requires a high-risk model version's record to state how long they are kept, no
    shorter than the server's policy (by default 183 days)."""
    ai_act = _high_risk(target)
    if isinstance(ai_act, Outcome):
        return ai_act
    period = ai_act.event_log_retention
    if period is None:
        return undeclared("no event log retention (compliance.ai_act.event_log_retention)")
    days, least = period_days(period), target.policy.min_event_log_days
    if days < least:
        return failed(f"compliance.ai_act.event_log_retention {period} is {days:.0f} days, "
                      f"fewer than {least}")
    return passed(f"event logs kept {period}")


RULES = [
    risk_class,
    prohibited,
    transparency,
    intended_purpose,
    annex_iii_area,
    risk_management,
    instructions,
    oversight,
    overseer,
    accuracy,
    event_logs,
]
