"""Pack ``gdpr``: what the GDPR asks of processing that involves personal data.

Every rule here needs the record to say whether personal data is processed
(`compliance.gdpr.personal_data`): undeclared, a rule says so and fails; declared
false, the rules do not apply, unless a dataset the run uses declares personal data,
which the record cannot talk away. A run whose tags do not form a valid record fails
here too ("no valid record"); BASE-COMPLIANCE-TAGS names what is wrong.
"""

from __future__ import annotations

from datetime import date

from mlflow_compliance.checks.model import Kind, Outcome, Severity, Target
from mlflow_compliance.checks.references import problem as reference_problem
from mlflow_compliance.checks.rules import (
    allowed,
    failed,
    field_value,
    not_applicable,
    passed,
    rule,
    set_tag,
    shown,
    started_on,
    undeclared,
)
from mlflow_compliance.checks.rules.data import (
    dataset_value,
    invalid_datasets,
    personal_datasets,
    special_categories,
)
from mlflow_compliance.record import period_days
from mlflow_compliance.record.schema import DpiaStatus, GdprRecord, RiskClass

RUNS_AND_VERSIONS = (Kind.RUN, Kind.MODEL_VERSION)
NO_VALID_RECORD = "no valid record (see BASE-COMPLIANCE-TAGS)"
NO_PERSONAL_DATA = "the record declares no personal data"
DPIA_COMPLETED_ON = "compliance.gdpr.dpia_completed_on"


def _personal_data(target: Target) -> GdprRecord | Outcome:
    """The GDPR part of the record when personal data is processed, else the outcome."""
    if target.record is None:
        return failed(NO_VALID_RECORD)
    gdpr = target.record.gdpr
    if gdpr.personal_data is None:
        return undeclared("compliance.gdpr.personal_data not declared")
    if not gdpr.personal_data and not personal_datasets(target):
        return not_applicable(NO_PERSONAL_DATA)
    return gdpr


@rule(
    id="GDPR-4-PERSONAL-DATA-CONSISTENT",
    article="GDPR Art. 4(1), 5(2)",
    severity=Severity.HIGH,
    applies_to=RUNS_AND_VERSIONS,
    title="Personal data declared as the datasets declare it",
    remediation=(
        "Set tag compliance.gdpr.personal_data to true on the run when any dataset it uses "
        "declares personal data, or correct the dataset's record."
    ),
)
def personal_data_consistent(target: Target) -> Outcome:
    """Whether data is personal data (Art. 4(1)) is a fact about the data, and the
    controller must be able to show it (Art. 5(2)); every other GDPR duty hangs on it.
    This rule requires the record to declare whether personal data is processed, and
    fails a run or model version that declares none while a dataset it was trained on
    declares personal data."""
    if target.record is None:
        return failed(NO_VALID_RECORD)
    declared = target.record.gdpr.personal_data
    if declared is None:
        return undeclared("compliance.gdpr.personal_data not declared")
    if declared:
        return passed("the record declares personal data")
    found = personal_datasets(target)
    if found:
        return failed(f"compliance.gdpr.personal_data is false, but dataset {', '.join(found)} "
                      "declares personal data")
    return passed(f"no personal data, none declared by its {len(target.datasets)} dataset(s)")


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
        return undeclared("personal data without a lawful basis (compliance.gdpr.lawful_basis)")
    return passed(f"lawful basis: {shown(gdpr.lawful_basis)}")


@rule(
    id="GDPR-9-SPECIAL-CATEGORIES",
    article="GDPR Art. 9(1), 9(2)",
    severity=Severity.CRITICAL,
    applies_to=RUNS_AND_VERSIONS,
    title="Special categories covered by an Art. 9(2) ground",
    remediation=set_tag("compliance.gdpr.special_category_ground"),
)
def special_category_ground(target: Target) -> Outcome:
    """Processing special categories of personal data (health, biometrics, ethnic origin,
    beliefs and the like) is forbidden by Art. 9(1) unless one of the exceptions of
    Art. 9(2) applies, such as explicit consent. This rule collects the special
    categories the record and the records of its datasets list, and requires the record
    to name the Art. 9(2) ground relied on."""
    gdpr = _personal_data(target)
    if isinstance(gdpr, Outcome):
        return gdpr
    unreadable = invalid_datasets(target)
    if unreadable:
        return failed(f"dataset {', '.join(unreadable)}: no valid dataset record, its special "
                      "categories unknown (see BASE-DATASET-RECORD)")
    listed = special_categories(target)
    if not listed:
        return not_applicable("the record and its datasets list no special categories")
    if gdpr.special_category_ground is None:
        return undeclared(f"special categories ({', '.join(listed)}) without an Art. 9(2) "
                          "ground (compliance.gdpr.special_category_ground)")
    return passed(f"{', '.join(listed)} under {shown(gdpr.special_category_ground)}")


@rule(
    id="GDPR-5-PURPOSE",
    article="GDPR Art. 5(1)(b), 30(1)(b)",
    severity=Severity.HIGH,
    applies_to=RUNS_AND_VERSIONS,
    title="Purpose stated",
    remediation=(
        "Set tag compliance.gdpr.purpose to the specific, explicit purpose of the processing "
        "(at least 20 characters and three words)."
    ),
)
def purpose(target: Target) -> Outcome:
    """Purpose limitation (Art. 5(1)(b)) allows personal data to be collected only for
    specified, explicit purposes and not used in a way incompatible with them; Art.
    30(1)(b) asks for the purpose in the record of processing. This rule requires the
    record to state the purpose."""
    gdpr = _personal_data(target)
    if isinstance(gdpr, Outcome):
        return gdpr
    if gdpr.purpose is None:
        return undeclared("personal data without a stated purpose (compliance.gdpr.purpose)")
    return passed(f"purpose: {gdpr.purpose}")


@rule(
    id="GDPR-5-RETENTION",
    article="GDPR Art. 5(1)(e), 30(1)(f)",
    severity=Severity.HIGH,
    applies_to=RUNS_AND_VERSIONS,
    title="Retention limited, within the policy, and not exceeded",
    remediation=(
        "Set tag compliance.gdpr.retention_period to an ISO 8601 period such as P5Y (no longer "
        "than the server's maximum), or tag compliance.gdpr.retention_until to a date as "
        "YYYY-MM-DD, and once that date has passed erase or anonymise the data."
    ),
)
def retention(target: Target) -> Outcome:
    """Storage limitation (Art. 5(1)(e)) allows personal data to be kept in identifiable
    form no longer than its purpose needs, and the record of processing states the time
    limits for erasure (Art. 30(1)(f)). This rule requires a retention period or an end
    date no further off than the server's policy allows (by default ten years, a year
    counted as 365.25 days and a month as 30.44), and fails once the end date has passed."""
    gdpr = _personal_data(target)
    if isinstance(gdpr, Outcome):
        return gdpr
    most = target.policy.max_retention_days
    until, period = gdpr.retention_until, gdpr.retention_period
    if until is None and period is None:
        return undeclared("no retention limit (compliance.gdpr.retention_period or "
                          "compliance.gdpr.retention_until)")
    if until is not None and until < target.today:
        return failed(f"compliance.gdpr.retention_until {until.isoformat()} has passed: "
                      "erase or anonymise the data")
    if until is not None and (until - target.today).days > most:
        return failed(f"compliance.gdpr.retention_until {until.isoformat()} is more than the "
                      f"policy's maximum of {most} days away")
    if period is not None and period_days(period) > most:
        return failed(f"compliance.gdpr.retention_period {period} is {period_days(period):,.0f} "
                      f"days, longer than the policy's maximum of {most} days")
    kept = [f"for {period}"] if period else []
    kept += [f"until {until.isoformat()}"] if until else []
    return passed(f"kept {' and '.join(kept)}")


@rule(
    id="GDPR-5-MINIMISATION",
    article="GDPR Art. 5(1)(c)",
    severity=Severity.MEDIUM,
    applies_to=(Kind.DATASET,),
    title="Personal data in a dataset minimised",
    remediation=(
        "Set tag compliance.dataset.minimisation on the dataset input to why each personal "
        "field is needed for the purpose and what was left out."
    ),
)
def minimisation(target: Target) -> Outcome:
    """Data minimisation (Art. 5(1)(c)) allows only the personal data that is adequate,
    relevant and limited to what the purpose needs. This rule requires the record of every
    dataset that holds personal data to say how it was minimised; a dataset that says
    nothing about personal data is covered only by a run that declares none."""
    if not target.datasets:
        return not_applicable("no dataset")
    (dataset,) = target.datasets
    if dataset.record is None:
        return failed(f"dataset {dataset.name}: no valid dataset record (see BASE-DATASET-RECORD)")
    personal = dataset_value(dataset, "compliance.gdpr.personal_data")
    if personal is None:
        run = target.run.record if target.run else None
        if run is not None and run.gdpr.personal_data is False:
            return not_applicable("the run's record declares no personal data")
        return undeclared(f"dataset {dataset.name}: compliance.gdpr.personal_data not declared "
                          "on the dataset input")
    if not personal:
        return not_applicable("the dataset record declares no personal data")
    if dataset_value(dataset, "compliance.dataset.minimisation") is None:
        return undeclared(f"dataset {dataset.name}: personal data without "
                          "compliance.dataset.minimisation")
    return passed(f"dataset {dataset.name}: minimisation stated")


def _dpia_reasons(target: Target, gdpr: GdprRecord) -> list[str]:
    """Why a DPIA is called for: likely high risk, or the team already started one."""
    reasons = []
    if special_categories(target):
        reasons.append("special categories")
    if target.record and target.record.ai_act.risk_class is RiskClass.HIGH:
        reasons.append("high-risk AI system")
    if gdpr.dpia_status not in (None, DpiaStatus.NOT_REQUIRED):
        reasons.append(f"DPIA {shown(gdpr.dpia_status)}")
    return reasons


def _dpia_problem(target: Target, gdpr: GdprRecord) -> tuple[bool, str] | None:
    """What is wrong with the DPIA (True: a declaration is missing), or None."""
    status = gdpr.dpia_status
    if gdpr.dpia_reference is None:
        return True, "no compliance.gdpr.dpia_reference"
    unresolved = reference_problem(target, "compliance.gdpr.dpia_reference", gdpr.dpia_reference)
    if unresolved:
        return False, unresolved
    if status is None:
        return True, "no compliance.gdpr.dpia_status"
    if status is not DpiaStatus.COMPLETED:
        return False, (f"compliance.gdpr.dpia_status is {shown(status)}, but the model is "
                       "already trained; Art. 35(1) asks for the DPIA before the processing")
    completed: date | None = field_value(target.record, DPIA_COMPLETED_ON)
    if completed is None:
        return True, f"no {DPIA_COMPLETED_ON}"
    start = started_on(target)
    if start is None:
        return False, "the training run's start is unknown: the DPIA cannot be shown to precede it"
    if completed > start:
        return False, (f"{DPIA_COMPLETED_ON} {completed.isoformat()} is after the training run "
                       f"started on {start.isoformat()}")
    return None


@rule(
    id="GDPR-35-DPIA",
    article="GDPR Art. 35(1), 35(7)",
    severity=Severity.HIGH,
    applies_to=RUNS_AND_VERSIONS,
    title="Impact assessment completed before training, where high risk is likely",
    remediation=(
        "Set tag compliance.gdpr.dpia_reference to artifact:<path> or an https URL of the "
        "DPIA, tag compliance.gdpr.dpia_status to completed and tag "
        "compliance.gdpr.dpia_completed_on to its date, no later than the training run's start."
    ),
)
def dpia(target: Target) -> Outcome:
    """Art. 35(1) requires a data protection impact assessment, containing at least what
    Art. 35(7) lists, before processing that is likely to be high risk, such as processing
    special categories or a high-risk AI system. This rule calls for one when the record
    or a dataset lists special categories, the record declares a high-risk system, or says
    a DPIA was started; it then requires a reference that resolves to an artifact of the
    run or an https URL, and a DPIA completed on or before the day the training run (for a
    model version, its source run) started."""
    gdpr = _personal_data(target)
    if isinstance(gdpr, Outcome):
        return gdpr
    reasons = _dpia_reasons(target, gdpr)
    if not reasons:
        if target.record is not None and target.record.ai_act.risk_class is None:
            return undeclared("compliance.ai_act.risk_class not declared: cannot tell whether "
                              "a DPIA is called for")
        return not_applicable("no DPIA called for: the record lists no special categories "
                              "and declares no high-risk system")
    found = _dpia_problem(target, gdpr)
    if found is not None:
        missing, what = found
        message = f"DPIA called for ({', '.join(reasons)}): {what}"
        return undeclared(message) if missing else failed(message)
    completed = field_value(target.record, DPIA_COMPLETED_ON)
    return passed(f"DPIA {gdpr.dpia_reference} completed on {completed.isoformat()}, "
                  "before training")


@rule(
    id="GDPR-30-CONTACTS",
    article="GDPR Art. 30(1)(a), 37(7)",
    severity=Severity.MEDIUM,
    applies_to=RUNS_AND_VERSIONS,
    title="Controller and DPO named",
    remediation=(
        "Set tag compliance.gdpr.controller_contact to the controller's name and e-mail "
        "address, https URL or phone number, and tag compliance.gdpr.dpo_contact to the data "
        "protection officer's."
    ),
)
def contacts(target: Target) -> Outcome:
    """The record of processing (Art. 30(1)(a)) starts with the name and contact details
    of the controller and of the data protection officer, whose details the controller
    also publishes (Art. 37(7)), so data subjects and the supervisory authority know whom
    to address. This rule requires both contacts in the record."""
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
        return undeclared(f"missing {', '.join(missing)}")
    return passed(f"controller {gdpr.controller_contact}; DPO {gdpr.dpo_contact}")


@rule(
    id="GDPR-44-TRANSFERS",
    article="GDPR Art. 44, 45, 46, 47, 49",
    severity=Severity.HIGH,
    applies_to=RUNS_AND_VERSIONS,
    title="Transfers to third countries stated and safeguarded",
    remediation=(
        "Set tag compliance.gdpr.transfers_outside_eu to true or false, and if true, tag "
        f"compliance.gdpr.transfer_safeguard to {allowed('compliance.gdpr.transfer_safeguard')}."
    ),
)
def transfers(target: Target) -> Outcome:
    """Chapter V allows personal data to be transferred to a third country (a state
    outside the EEA) or an international organisation only under the conditions of Art. 44
    and a safeguard: an adequacy decision (Art. 45), appropriate safeguards such as
    standard contractual clauses (Art. 46), binding corporate rules (Art. 47) or a
    derogation (Art. 49). This rule requires the record to say whether data is
    transferred to a third country, and if so, under which safeguard."""
    gdpr = _personal_data(target)
    if isinstance(gdpr, Outcome):
        return gdpr
    if gdpr.transfers_outside_eu is None:
        return undeclared("transfers to a third country not stated "
                          "(compliance.gdpr.transfers_outside_eu)")
    if not gdpr.transfers_outside_eu:
        return passed("no transfers to a third country")
    if gdpr.transfer_safeguard is None:
        return undeclared("transfers to a third country without a safeguard "
                          "(compliance.gdpr.transfer_safeguard)")
    return passed(f"transfers to a third country under {shown(gdpr.transfer_safeguard)}")


@rule(
    id="GDPR-32-NEED-TO-KNOW",
    article="GDPR Art. 32(1)(b), 25(2)",
    severity=Severity.HIGH,
    applies_to=RUNS_AND_VERSIONS,
    title="Personal data readable on a need-to-know basis",
    remediation=(
        "Run the tracking server as mlflow-compliance server, which shows runs with personal "
        "data only to principals with the personal-data clearance, and set tag "
        "compliance.gdpr.personal_data to true where any dataset holds personal data."
    ),
)
def need_to_know(target: Target) -> Outcome:
    """Art. 25(2) requires that personal data is by default not made accessible to an
    indefinite number of people, and Art. 32(1)(b) asks for confidentiality of
    processing. This rule asks the tracking server whether runs and models with personal
    data are readable only by principals cleared for it, and checks that the server's
    rule can recognise this personal data: the record must declare it, not only a
    dataset; a server that does not say (plain MLflow) fails."""
    gdpr = _personal_data(target)
    if isinstance(gdpr, Outcome):
        return gdpr
    on = target.server.need_to_know
    if on is None:
        return failed("the server does not report need-to-know access to personal data")
    if not on:
        return failed("every reader of the server can read this personal data")
    if not gdpr.personal_data:
        return failed(f"dataset {', '.join(personal_datasets(target))} declares personal data "
                      "but compliance.gdpr.personal_data is false, so need-to-know does not "
                      "protect it")
    return passed("only principals cleared for personal data can read it")


RULES = [
    personal_data_consistent,
    lawful_basis,
    special_category_ground,
    purpose,
    retention,
    minimisation,
    dpia,
    contacts,
    transfers,
    need_to_know,
]
