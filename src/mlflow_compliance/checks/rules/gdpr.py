"""Pack ``gdpr``: what the GDPR asks of processing that involves personal data.

Every rule here applies only when the compliance record says
`compliance.gdpr.personal_data = true`; otherwise it is not applicable. A run whose
tags do not form a valid record is reported once, by BASE-COMPLIANCE-TAGS, and these
rules say "no valid record" rather than guess.
"""

from __future__ import annotations

from mlflow_compliance.checks.model import Kind, Outcome, Severity, Target
from mlflow_compliance.checks.rules import (
    allowed,
    failed,
    not_applicable,
    passed,
    rule,
    set_tag,
)
from mlflow_compliance.record.schema import DpiaStatus, GdprRecord, RiskClass

RUNS_AND_VERSIONS = (Kind.RUN, Kind.MODEL_VERSION)


def _personal_data(target: Target) -> GdprRecord | Outcome:
    """The GDPR part of the record when it declares personal data, else why the rule
    does not apply."""
    if target.record is None:
        return not_applicable("no valid record")
    gdpr = target.record.gdpr
    if gdpr.personal_data is None:
        return not_applicable("personal data not declared")
    if not gdpr.personal_data:
        return not_applicable("no personal data")
    return gdpr


@rule(
    id="GDPR-6-LAWFUL-BASIS",
    article="GDPR Art. 6(1)",
    severity=Severity.HIGH,
    applies_to=RUNS_AND_VERSIONS,
    title="Lawful basis stated",
    remediation=set_tag("compliance.gdpr.lawful_basis"),
)
def lawful_basis(target: Target) -> Outcome:
    """Personal data may only be processed on one of the six lawful bases of Art. 6(1):
    consent, contract, legal obligation, vital interests, public task or legitimate
    interests. This rule requires the record of a run or model version that processes
    personal data to state which one applies."""
    gdpr = _personal_data(target)
    if isinstance(gdpr, Outcome):
        return gdpr
    if gdpr.lawful_basis is None:
        return failed("personal data without a lawful basis (compliance.gdpr.lawful_basis)")
    return passed(f"lawful basis: {gdpr.lawful_basis.value}")


@rule(
    id="GDPR-9-SPECIAL-CATEGORIES",
    article="GDPR Art. 9(1), 9(2)",
    severity=Severity.CRITICAL,
    applies_to=RUNS_AND_VERSIONS,
    title="Special categories covered by an Art. 9(2) ground",
    remediation=set_tag("compliance.gdpr.special_category_ground"),
)
def special_categories(target: Target) -> Outcome:
    """Processing special categories of personal data (health, biometrics, ethnic origin,
    beliefs and the like) is forbidden by Art. 9(1) unless one of the exceptions of
    Art. 9(2) applies, such as explicit consent. This rule requires a record that lists
    special categories to name the Art. 9(2) ground relied on."""
    gdpr = _personal_data(target)
    if isinstance(gdpr, Outcome):
        return gdpr
    if not gdpr.special_categories:
        return not_applicable("no special categories")
    listed = ", ".join(c.value for c in gdpr.special_categories)
    if gdpr.special_category_ground is None:
        return failed(
            f"special categories ({listed}) without an Art. 9(2) ground "
            "(compliance.gdpr.special_category_ground)"
        )
    return passed(f"{listed} under {gdpr.special_category_ground.value}")


@rule(
    id="GDPR-5-PURPOSE",
    article="GDPR Art. 5(1)(b), 30(1)(b)",
    severity=Severity.HIGH,
    applies_to=RUNS_AND_VERSIONS,
    title="Purpose stated",
    remediation=(
        "Set tag compliance.gdpr.purpose to the specific, explicit purpose of the processing "
        "(up to 500 characters)."
    ),
)
def purpose(target: Target) -> Outcome:
    """Purpose limitation (Art. 5(1)(b)) allows personal data to be collected only for
    specified, explicit purposes and not used in a way incompatible with them; Art. 30
    asks for the purpose in the record of processing. This rule requires the record to
    state the purpose."""
    gdpr = _personal_data(target)
    if isinstance(gdpr, Outcome):
        return gdpr
    if gdpr.purpose is None:
        return failed("personal data without a stated purpose (compliance.gdpr.purpose)")
    return passed(f"purpose: {gdpr.purpose}")


@rule(
    id="GDPR-5-RETENTION",
    article="GDPR Art. 5(1)(e)",
    severity=Severity.HIGH,
    applies_to=RUNS_AND_VERSIONS,
    title="Retention limited, and not exceeded",
    remediation=(
        "Set tag compliance.gdpr.retention_period to an ISO 8601 period such as P5Y, or tag "
        "compliance.gdpr.retention_until to a date as YYYY-MM-DD, and once that date has "
        "passed erase or anonymise the data."
    ),
)
def retention(target: Target) -> Outcome:
    """Storage limitation (Art. 5(1)(e)) allows personal data to be kept in identifiable
    form no longer than its purpose needs. This rule requires the record to state a
    retention period or an end date, and fails once the end date has passed."""
    gdpr = _personal_data(target)
    if isinstance(gdpr, Outcome):
        return gdpr
    until = gdpr.retention_until
    if until is not None and until < target.today:
        return failed(f"retention ended on {until.isoformat()}: erase or anonymise the data")
    if until is not None:
        return passed(f"kept until {until.isoformat()}")
    if gdpr.retention_period is not None:
        return passed(f"kept for {gdpr.retention_period}")
    return failed(
        "no retention limit (compliance.gdpr.retention_period or "
        "compliance.gdpr.retention_until)"
    )


def _dpia_reasons(target: Target, gdpr: GdprRecord) -> list[str]:
    """Why a DPIA is called for: likely high risk, or the team already started one."""
    reasons = []
    if gdpr.special_categories:
        reasons.append("special categories")
    if target.record and target.record.ai_act.risk_class is RiskClass.HIGH:
        reasons.append("high-risk AI system")
    if gdpr.dpia_status not in (None, DpiaStatus.NOT_REQUIRED):
        reasons.append(f"DPIA {gdpr.dpia_status.value}")
    return reasons


@rule(
    id="GDPR-35-DPIA",
    article="GDPR Art. 35",
    severity=Severity.HIGH,
    applies_to=RUNS_AND_VERSIONS,
    title="Impact assessment where high risk is likely",
    remediation=(
        "Set tag compliance.gdpr.dpia_reference to where the DPIA is kept and tag "
        "compliance.gdpr.dpia_status to completed (planned or in_progress suffice for a "
        "run, not for a model version)."
    ),
)
def dpia(target: Target) -> Outcome:
    """Art. 35 requires a data protection impact assessment before processing that is
    likely to be high risk, such as large-scale processing of special categories or
    automated decisions with significant effects. This rule calls for one when the record
    lists special categories, declares a high-risk AI system, or says a DPIA was started;
    it then requires a reference to it, and a completed DPIA for a model version."""
    gdpr = _personal_data(target)
    if isinstance(gdpr, Outcome):
        return gdpr
    reasons = _dpia_reasons(target, gdpr)
    if not reasons:
        return not_applicable("no DPIA called for: no special categories, not high-risk")
    status = gdpr.dpia_status
    problems = []
    if gdpr.dpia_reference is None:
        problems.append("no compliance.gdpr.dpia_reference")
    if target.kind is Kind.MODEL_VERSION and status is not DpiaStatus.COMPLETED:
        shown = status.value if status else "not set"
        problems.append(f"compliance.gdpr.dpia_status is {shown}, a model version needs completed")
    elif status is DpiaStatus.NOT_REQUIRED:
        problems.append("compliance.gdpr.dpia_status is not_required")
    if problems:
        return failed(f"DPIA called for ({', '.join(reasons)}): {'; '.join(problems)}")
    return passed(f"DPIA {gdpr.dpia_reference} ({status.value if status else 'status not set'})")


@rule(
    id="GDPR-30-CONTACTS",
    article="GDPR Art. 30(1)(a), 37(7)",
    severity=Severity.MEDIUM,
    applies_to=RUNS_AND_VERSIONS,
    title="Controller and DPO named",
    remediation=(
        "Set tag compliance.gdpr.controller_contact to the controller's name and contact "
        "details and tag compliance.gdpr.dpo_contact to the data protection officer's."
    ),
)
def contacts(target: Target) -> Outcome:
    """The record of processing (Art. 30(1)(a)) starts with the name and contact details
    of the controller and of the data protection officer, so data subjects and the
    supervisory authority know whom to address. This rule requires both contacts in the
    record."""
    gdpr = _personal_data(target)
    if isinstance(gdpr, Outcome):
        return gdpr
    missing = [
        tag
        for tag, value in (
            ("compliance.gdpr.controller_contact", gdpr.controller_contact),
            ("compliance.gdpr.dpo_contact", gdpr.dpo_contact),
        )
        if value is None
    ]
    if missing:
        return failed(f"missing {', '.join(missing)}")
    return passed(f"controller {gdpr.controller_contact}; DPO {gdpr.dpo_contact}")


@rule(
    id="GDPR-44-TRANSFERS",
    article="GDPR Art. 44-49",
    severity=Severity.HIGH,
    applies_to=RUNS_AND_VERSIONS,
    title="Transfers outside the EU stated and safeguarded",
    remediation=(
        "Set tag compliance.gdpr.transfers_outside_eu to true or false, and if true, tag "
        f"compliance.gdpr.transfer_safeguard to {allowed('compliance.gdpr.transfer_safeguard')}."
    ),
)
def transfers(target: Target) -> Outcome:
    """Chapter V allows personal data to leave the EU only under a safeguard: an
    adequacy decision, standard contractual clauses, binding corporate rules or one of
    the other grounds of Art. 45 to 49. This rule requires the record to say whether data
    is transferred outside the EU, and if so, under which safeguard."""
    gdpr = _personal_data(target)
    if isinstance(gdpr, Outcome):
        return gdpr
    if gdpr.transfers_outside_eu is None:
        return failed("transfers outside the EU not stated (compliance.gdpr.transfers_outside_eu)")
    if not gdpr.transfers_outside_eu:
        return passed("no transfers outside the EU")
    if gdpr.transfer_safeguard is None:
        return failed(
            "transfers outside the EU without a safeguard (compliance.gdpr.transfer_safeguard)"
        )
    return passed(f"transfers outside the EU under {gdpr.transfer_safeguard.value}")


@rule(
    id="GDPR-32-NEED-TO-KNOW",
    article="GDPR Art. 32(1)(b), 25(2)",
    severity=Severity.HIGH,
    applies_to=RUNS_AND_VERSIONS,
    title="Personal data readable on a need-to-know basis",
    remediation=(
        "Run the tracking server as mlflow-compliance server, which shows runs with personal "
        "data only to principals with the personal-data clearance."
    ),
)
def need_to_know(target: Target) -> Outcome:
    """Art. 25(2) requires that personal data is by default not made accessible to an
    indefinite number of people, and Art. 32 asks for confidentiality of processing. This
    rule asks the tracking server whether runs and models with personal data are readable
    only by principals cleared for it; a server that does not say (plain MLflow) fails."""
    gdpr = _personal_data(target)
    if isinstance(gdpr, Outcome):
        return gdpr
    on = target.server.need_to_know
    if on is None:
        return failed("the server does not report need-to-know access to personal data")
    if not on:
        return failed("every reader of the server can read this personal data")
    return passed("only principals cleared for personal data can read it")


RULES = [
    lawful_basis,
    special_categories,
    purpose,
    retention,
    dpia,
    contacts,
    transfers,
    need_to_know,
]
