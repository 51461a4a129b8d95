"""Pack ``ai-act``: what the EU AI Act asks of an AI system, by risk class.

Every system needs a risk class, and a prohibited one may not be used at all. Most
obligations fall on high-risk systems (Art. 6, Annex III), so the other rules here
apply only when `compliance.ai_act.risk_class = high`. A run or model version whose tags
do not form a valid record is reported by BASE-COMPLIANCE-TAGS; these rules then say
"no valid record".
"""

from __future__ import annotations

import re

from mlflow_compliance.checks.model import Kind, Outcome, Severity, Target
from mlflow_compliance.checks.rules import failed, not_applicable, passed, rule, set_tag
from mlflow_compliance.client.runs import DATA_DESCRIPTION_PARAM
from mlflow_compliance.record.schema import AiActRecord, Regulation, RiskClass
from mlflow_compliance.settings import ACCESS_LOGGING_ENV, MIN_RETENTION_DAYS, RETENTION_ENV

RUNS_AND_VERSIONS = (Kind.RUN, Kind.MODEL_VERSION)

ACCURACY_METRICS = (
    "accuracy", "f1", "precision", "recall", "auc", "roc_auc", "log_loss", "rmse", "mae",
    "mse", "r2", "mean_squared_error", "root_mean_squared_error", "mean_absolute_error",
)
"""Metric names that measure accuracy; ``_score`` may follow (as sklearn autologging and
mlflow.evaluate write them) and a prefix such as ``val_``, ``test_`` or ``eval/`` may
come before."""

_ACCURACY_KEY = re.compile(
    rf"^(?:.*[/_.\-])?(?:{'|'.join(ACCURACY_METRICS)})(?:_score)?$", re.IGNORECASE
)


def _high_risk(target: Target) -> AiActRecord | Outcome:
    """The AI Act part of the record of a high-risk system, else why the rule does not
    apply."""
    if target.record is None:
        return not_applicable("no valid record")
    ai_act = target.record.ai_act
    if ai_act.risk_class is not RiskClass.HIGH:
        shown = ai_act.risk_class.value if ai_act.risk_class else "not declared"
        return not_applicable(f"not high-risk (risk class {shown})")
    return ai_act


@rule(
    id="AIACT-6-RISK-CLASS",
    article="AI Act Art. 5, 6, 50",
    severity=Severity.HIGH,
    applies_to=RUNS_AND_VERSIONS,
    title="Risk class declared",
    remediation=set_tag("compliance.ai_act.risk_class"),
)
def risk_class(target: Target) -> Outcome:
    """The AI Act sorts AI systems into prohibited practices (Art. 5), high-risk systems
    (Art. 6 and Annex III), systems with transparency duties (Art. 50) and the rest, and
    each class carries its own obligations. This rule requires every model version, and
    every run whose `compliance` tag names the AI Act, to declare its risk class."""
    if target.record is None:
        return not_applicable("no valid record")
    declared = target.record.ai_act.risk_class
    if declared is not None:
        return passed(f"risk class {declared.value}")
    if target.kind is Kind.RUN and Regulation.AI_ACT not in (target.record.regulations or []):
        return not_applicable("the AI Act is not among the run's regulations (tag compliance)")
    return failed("risk class not declared (compliance.ai_act.risk_class)")


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
    record declares the risk class prohibited."""
    if target.record is None:
        return not_applicable("no valid record")
    if target.record.ai_act.risk_class is RiskClass.PROHIBITED:
        return failed("declared a prohibited AI practice (Art. 5)")
    return passed("not declared prohibited")


@rule(
    id="AIACT-13-INTENDED-PURPOSE",
    article="AI Act Art. 13(3)(b), Annex IV 1(a)",
    severity=Severity.HIGH,
    applies_to=RUNS_AND_VERSIONS,
    title="Intended purpose stated",
    remediation=(
        "Set tag compliance.ai_act.intended_purpose to the use the system is meant for "
        "(up to 500 characters)."
    ),
)
def intended_purpose(target: Target) -> Outcome:
    """A high-risk system must come with instructions that state its intended purpose
    (Art. 13), and the technical documentation starts with it (Annex IV); accuracy,
    oversight and misuse are all judged against it. This rule requires a high-risk
    system's record to state the intended purpose."""
    ai_act = _high_risk(target)
    if isinstance(ai_act, Outcome):
        return ai_act
    if ai_act.intended_purpose is None:
        return failed("no intended purpose (compliance.ai_act.intended_purpose)")
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
        return failed("no Annex III area (compliance.ai_act.annex_iii_area)")
    return passed(f"Annex III area: {ai_act.annex_iii_area.value}")


@rule(
    id="AIACT-10-DATA-GOVERNANCE",
    article="AI Act Art. 10(2)",
    severity=Severity.HIGH,
    applies_to=RUNS_AND_VERSIONS,
    title="Training data governed",
    remediation=(
        "Log every training dataset with its source (mlflow.log_input), log param "
        f"{DATA_DESCRIPTION_PARAM}, and set tag compliance.gdpr.personal_data to true or false."
    ),
)
def data_governance(target: Target) -> Outcome:
    """Art. 10 requires the training, validation and test data of a high-risk system to
    be governed: its origin, collection and preparation documented, and any personal
    data in it identified. This rule requires the run (for a model version, its source
    run) to log its datasets each with a source, a `data_description` param, and the
    record to say whether personal data is involved."""
    ai_act = _high_risk(target)
    if isinstance(ai_act, Outcome):
        return ai_act
    problems = []
    if not target.datasets:
        problems.append("no dataset logged")
    problems += [f"dataset {d.name} has no source" for d in target.datasets if not d.source]
    if not target.params.get(DATA_DESCRIPTION_PARAM, "").strip():
        problems.append(f"no param {DATA_DESCRIPTION_PARAM}")
    if target.record is not None and target.record.gdpr.personal_data is None:
        problems.append("compliance.gdpr.personal_data not declared")
    if problems:
        return failed("; ".join(problems))
    return passed(f"{len(target.datasets)} dataset(s) with sources, data described")


@rule(
    id="AIACT-14-OVERSIGHT",
    article="AI Act Art. 14",
    severity=Severity.HIGH,
    applies_to=RUNS_AND_VERSIONS,
    title="Human overseer named",
    remediation=(
        "Set tag compliance.ai_act.human_overseer to the natural person who oversees the "
        "system in use."
    ),
)
def oversight(target: Target) -> Outcome:
    """Art. 14 requires a high-risk system to be overseen by natural persons who
    understand it, can interpret its output and can override or stop it. This rule
    requires a high-risk system's record to name that person."""
    ai_act = _high_risk(target)
    if isinstance(ai_act, Outcome):
        return ai_act
    if ai_act.human_overseer is None:
        return failed("no human overseer (compliance.ai_act.human_overseer)")
    return passed(f"overseen by {ai_act.human_overseer}")


@rule(
    id="AIACT-15-ACCURACY",
    article="AI Act Art. 15(1), 15(3)",
    severity=Severity.MEDIUM,
    applies_to=RUNS_AND_VERSIONS,
    title="Accuracy measured",
    remediation=(
        "Log an accuracy metric on the run, e.g. mlflow.log_metric('val_accuracy', value) "
        "(also f1, precision, recall, auc, rmse, mae, r2 or log_loss)."
    ),
)
def accuracy(target: Target) -> Outcome:
    """Art. 15 requires a high-risk system to reach an appropriate level of accuracy, and
    the levels and metrics to be declared in its instructions for use. This rule requires
    the run (for a model version, its source run) to log at least one accuracy metric,
    such as accuracy, f1, precision, recall, auc, rmse, mae, mse, r2 or log_loss."""
    ai_act = _high_risk(target)
    if isinstance(ai_act, Outcome):
        return ai_act
    found = sorted(key for key in target.metrics if _ACCURACY_KEY.match(key))
    if not found:
        return failed("no accuracy metric logged")
    return passed(f"accuracy measured: {', '.join(found)}")


@rule(
    id="AIACT-19-LOG-RETENTION",
    article="AI Act Art. 12, 19(1)",
    severity=Severity.MEDIUM,
    applies_to=RUNS_AND_VERSIONS,
    title="Logs kept at least six months",
    remediation=(
        f"Run the tracking server as mlflow-compliance server with {ACCESS_LOGGING_ENV}=true "
        f"and {RETENTION_ENV} of at least {MIN_RETENTION_DAYS}."
    ),
)
def log_retention(target: Target) -> Outcome:
    """A high-risk system must log events automatically (Art. 12), and its provider must
    keep those logs for at least six months (Art. 19). This rule asks the tracking server
    whether it logs access and for how many days it keeps the log, and requires at least
    183."""
    ai_act = _high_risk(target)
    if isinstance(ai_act, Outcome):
        return ai_act
    server = target.server
    if server.access_logging is None:
        return failed("the server does not report access logging")
    if not server.access_logging:
        return failed("access logging is off")
    days = server.audit_retention_days
    if days is None:
        return failed("the server does not report how long it keeps the audit log")
    if days < MIN_RETENTION_DAYS:
        return failed(f"audit log kept {days} days, fewer than {MIN_RETENTION_DAYS}")
    return passed(f"audit log kept {days} days")


RULES = [
    risk_class,
    prohibited,
    intended_purpose,
    annex_iii_area,
    data_governance,
    oversight,
    accuracy,
    log_retention,
]
