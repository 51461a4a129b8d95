"""The compliance record: what GDPR and the EU AI Act ask a team to keep about a run,
a dataset or a model version.

Every field names the article it serves (``article``) and the MLflow tag it is stored
under (``tag``); ``docs/record.md`` is generated from these declarations. The record
checks that it is *consistent* (no contradictions); whether it is *complete* enough for
a given use is the job of the compliance checks, because evidence is often filled in
over the life of a project.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from mlflow_compliance.record.values import (
    Contact,
    Day,
    Label,
    Period,
    PersonName,
    Reference,
    Statement,
    ThresholdItem,
)


class Regulation(StrEnum):
    GDPR = "GDPR"
    AI_ACT = "AI Act"


class DataPrivacy(StrEnum):
    ENABLED = "enabled"
    DISABLED = "disabled"


class LawfulBasis(StrEnum):
    """GDPR Art. 6(1) (a) to (f)."""

    CONSENT = "consent"
    CONTRACT = "contract"
    LEGAL_OBLIGATION = "legal_obligation"
    VITAL_INTERESTS = "vital_interests"
    PUBLIC_TASK = "public_task"
    LEGITIMATE_INTERESTS = "legitimate_interests"


class SpecialCategory(StrEnum):
    """GDPR Art. 9(1)."""

    RACIAL_OR_ETHNIC_ORIGIN = "racial_or_ethnic_origin"
    POLITICAL_OPINIONS = "political_opinions"
    RELIGIOUS_OR_PHILOSOPHICAL_BELIEFS = "religious_or_philosophical_beliefs"
    TRADE_UNION_MEMBERSHIP = "trade_union_membership"
    GENETIC_DATA = "genetic_data"
    BIOMETRIC_DATA = "biometric_data"
    HEALTH_DATA = "health_data"
    SEX_LIFE_OR_SEXUAL_ORIENTATION = "sex_life_or_sexual_orientation"


class SpecialCategoryGround(StrEnum):
    """GDPR Art. 9(2) (a) to (j)."""

    EXPLICIT_CONSENT = "explicit_consent"
    EMPLOYMENT_AND_SOCIAL_SECURITY = "employment_and_social_security"
    VITAL_INTERESTS = "vital_interests"
    NOT_FOR_PROFIT_BODY = "not_for_profit_body"
    MADE_PUBLIC_BY_DATA_SUBJECT = "made_public_by_data_subject"
    LEGAL_CLAIMS = "legal_claims"
    SUBSTANTIAL_PUBLIC_INTEREST = "substantial_public_interest"
    HEALTH_OR_SOCIAL_CARE = "health_or_social_care"
    PUBLIC_HEALTH = "public_health"
    ARCHIVING_RESEARCH_OR_STATISTICS = "archiving_research_or_statistics"


class DpiaStatus(StrEnum):
    """GDPR Art. 35."""

    NOT_REQUIRED = "not_required"
    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


class TransferSafeguard(StrEnum):
    """GDPR Chapter V, Art. 45 to 49."""

    ADEQUACY_DECISION = "adequacy_decision"
    STANDARD_CONTRACTUAL_CLAUSES = "standard_contractual_clauses"
    BINDING_CORPORATE_RULES = "binding_corporate_rules"
    CODE_OF_CONDUCT = "code_of_conduct"
    CERTIFICATION = "certification"
    DEROGATION = "derogation"


class RiskClass(StrEnum):
    """EU AI Act Art. 5 (prohibited), Art. 6 and Annex III (high), everything else minimal.

    There is no "limited" class: Art. 50 adds transparency duties to a system of any
    class; the record says so with ``compliance.ai_act.transparency_obligations``.
    """

    PROHIBITED = "prohibited"
    HIGH = "high"
    MINIMAL = "minimal"


LIMITED_HINT = (
    "'limited' is not a risk class of the AI Act (Art. 50 adds transparency duties to any "
    "class); use minimal and set compliance.ai_act.transparency_obligations = true"
)
HINT_ERROR = "compliance_hint"
"""The pydantic error type whose message is the whole reason a value is refused."""


def _refuse_limited(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lower() == "limited":
        raise PydanticCustomError(HINT_ERROR, LIMITED_HINT)
    return value


RiskClassValue = Annotated[RiskClass, BeforeValidator(_refuse_limited)]


class AnnexIIIArea(StrEnum):
    """EU AI Act Annex III, points 1 to 8."""

    BIOMETRICS = "biometrics"
    CRITICAL_INFRASTRUCTURE = "critical_infrastructure"
    EDUCATION = "education"
    EMPLOYMENT = "employment"
    ESSENTIAL_SERVICES = "essential_services"
    LAW_ENFORCEMENT = "law_enforcement"
    MIGRATION_AND_BORDER_CONTROL = "migration_and_border_control"
    JUSTICE_AND_DEMOCRACY = "justice_and_democracy"


def record_field(tag: str, article: str, description: str) -> Any:
    """A field of a record: stored under ``tag``, serving ``article``."""
    return Field(
        default=None,
        description=description,
        json_schema_extra={"tag": tag, "article": article},
    )


def contradiction(tag: str, reason: str) -> str:
    """One contradiction, as the model validator reports it: ``tag: reason``, one line."""
    return f"{tag}: {reason}"


class GdprRecord(BaseModel):
    """What GDPR asks a controller to document about processing (Art. 30 record)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)

    personal_data: bool | None = record_field(
        "compliance.gdpr.personal_data",
        "GDPR Art. 4(1)",
        "Whether the data processed includes personal data.",
    )
    data_categories: list[Label] | None = record_field(
        "compliance.gdpr.data_categories",
        "GDPR Art. 30(1)(c)",
        "Categories of personal data processed, e.g. contact details, financial, location.",
    )
    data_subject_categories: list[Label] | None = record_field(
        "compliance.gdpr.data_subject_categories",
        "GDPR Art. 30(1)(c)",
        "Categories of data subjects, e.g. customers, employees, patients.",
    )
    special_categories: list[SpecialCategory] | None = record_field(
        "compliance.gdpr.special_categories",
        "GDPR Art. 9(1)",
        "Special categories of personal data processed, if any.",
    )
    special_category_ground: SpecialCategoryGround | None = record_field(
        "compliance.gdpr.special_category_ground",
        "GDPR Art. 9(2)",
        "The Art. 9(2) ground that lifts the ban on processing special categories.",
    )
    lawful_basis: LawfulBasis | None = record_field(
        "compliance.gdpr.lawful_basis",
        "GDPR Art. 6(1)",
        "The lawful basis of the processing.",
    )
    purpose: Statement | None = record_field(
        "compliance.gdpr.purpose",
        "GDPR Art. 5(1)(b), 30(1)(b)",
        "The specified, explicit purpose of the processing.",
    )
    retention_period: Period | None = record_field(
        "compliance.gdpr.retention_period",
        "GDPR Art. 5(1)(e), 30(1)(f)",
        "How long the data is kept, as an ISO 8601 period (P6M, P5Y).",
    )
    retention_until: Day | None = record_field(
        "compliance.gdpr.retention_until",
        "GDPR Art. 5(1)(e), 30(1)(f)",
        "The date after which the data must be erased or anonymised.",
    )
    dpia_reference: Reference | None = record_field(
        "compliance.gdpr.dpia_reference",
        "GDPR Art. 35(1), 35(7)",
        "Where the data protection impact assessment is: an artifact of the run or model, "
        "or an https URL.",
    )
    dpia_status: DpiaStatus | None = record_field(
        "compliance.gdpr.dpia_status",
        "GDPR Art. 35(1)",
        "State of the data protection impact assessment.",
    )
    dpia_completed_on: Day | None = record_field(
        "compliance.gdpr.dpia_completed_on",
        "GDPR Art. 35(1)",
        "The date the DPIA was completed; Art. 35(1) asks for it before the processing.",
    )
    controller_contact: Contact | None = record_field(
        "compliance.gdpr.controller_contact",
        "GDPR Art. 30(1)(a)",
        "Name and contact details of the controller.",
    )
    dpo_contact: Contact | None = record_field(
        "compliance.gdpr.dpo_contact",
        "GDPR Art. 30(1)(a), 37(7)",
        "Contact details of the data protection officer.",
    )
    recipients: list[Label] | None = record_field(
        "compliance.gdpr.recipients",
        "GDPR Art. 13(1)(e), 15(1)(c), 30(1)(d)",
        "The recipients or categories of recipients to whom the personal data is "
        "disclosed, e.g. payment processor, credit bureau.",
    )
    automated_decisions: Statement | None = record_field(
        "compliance.gdpr.automated_decisions",
        "GDPR Art. 13(2)(f), 15(1)(h), 22",
        "Whether decisions based solely on automated processing, including profiling, are "
        "made with the data; if so, the logic involved, their significance and the "
        "envisaged consequences for the person.",
    )
    transfers_outside_eu: bool | None = record_field(
        "compliance.gdpr.transfers_outside_eu",
        "GDPR Art. 44, 30(1)(e)",
        "Whether personal data is transferred to a third country (a state outside the EEA) "
        "or an international organisation.",
    )
    transfer_safeguard: TransferSafeguard | None = record_field(
        "compliance.gdpr.transfer_safeguard",
        "GDPR Art. 45, 46, 47, 49",
        "The safeguard that makes a transfer to a third country lawful.",
    )

    def contradictions(self, data_privacy: DataPrivacy | None) -> list[str]:
        """Where this part of the record says two things that cannot both be true."""
        found: list[str] = []
        if self.special_category_ground and not self.special_categories:
            found.append(contradiction(
                "compliance.gdpr.special_category_ground",
                "set without compliance.gdpr.special_categories; name the special "
                "categories it covers",
            ))
        if self.personal_data is False:
            for tag, value in (
                ("compliance.gdpr.data_categories", self.data_categories),
                ("compliance.gdpr.data_subject_categories", self.data_subject_categories),
                ("compliance.gdpr.special_categories", self.special_categories),
                ("compliance.gdpr.lawful_basis", self.lawful_basis),
            ):
                if value:
                    found.append(contradiction(
                        tag, "set while compliance.gdpr.personal_data is false; it describes "
                        "personal data: set personal_data = true or remove it",
                    ))
        if data_privacy is DataPrivacy.DISABLED and self.personal_data:
            found.append(contradiction(
                "data_privacy",
                "disabled while compliance.gdpr.personal_data is true; personal data needs "
                "its safeguards (GDPR Art. 25(1), 32(1)); allowed: enabled",
            ))
        if self.dpia_completed_on and self.dpia_status not in (None, DpiaStatus.COMPLETED):
            found.append(contradiction(
                "compliance.gdpr.dpia_completed_on",
                f"set while compliance.gdpr.dpia_status is {self.dpia_status}; allowed only "
                "with dpia_status = completed",
            ))
        if self.transfer_safeguard and self.transfers_outside_eu is False:
            found.append(contradiction(
                "compliance.gdpr.transfer_safeguard",
                "set while compliance.gdpr.transfers_outside_eu is false",
            ))
        return found


class AiActRecord(BaseModel):
    """What the EU AI Act asks a provider (and deployer) to document about an AI system."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    risk_class: RiskClassValue | None = record_field(
        "compliance.ai_act.risk_class",
        "AI Act Art. 5, 6",
        "Risk class of the AI system.",
    )
    transparency_obligations: bool | None = record_field(
        "compliance.ai_act.transparency_obligations",
        "AI Act Art. 50(1)-(4)",
        "Whether the system interacts with people, generates synthetic content, recognises "
        "emotions or categorises biometrically, or makes deep fakes: Art. 50 transparency "
        "duties, whatever the risk class.",
    )
    annex_iii_area: AnnexIIIArea | None = record_field(
        "compliance.ai_act.annex_iii_area",
        "AI Act Art. 6(2), Annex III",
        "The Annex III area that makes the system high-risk.",
    )
    intended_purpose: Statement | None = record_field(
        "compliance.ai_act.intended_purpose",
        "AI Act Art. 3(12), 13(3)(b)(i), Annex IV 1(a)",
        "The use for which the provider intends the AI system.",
    )
    human_overseer: PersonName | None = record_field(
        "compliance.ai_act.human_overseer",
        "AI Act Art. 26(2)",
        "The natural person the deployer assigns to oversee the system in use.",
    )
    oversight_measures: Statement | None = record_field(
        "compliance.ai_act.oversight_measures",
        "AI Act Art. 14(3), 13(3)(d)",
        "The human oversight measures the provider built in or identified for the deployer.",
    )
    risk_management_reference: Reference | None = record_field(
        "compliance.ai_act.risk_management_reference",
        "AI Act Art. 9(1), 9(2)",
        "Where the risk management documentation is: an artifact of the run or model, or an "
        "https URL.",
    )
    instructions_for_use: Reference | None = record_field(
        "compliance.ai_act.instructions_for_use",
        "AI Act Art. 13(1), 13(2)",
        "Where the instructions for use for deployers are: an artifact of the run or model, "
        "or an https URL.",
    )
    metric_thresholds: list[ThresholdItem] | None = record_field(
        "compliance.ai_act.metric_thresholds",
        "AI Act Art. 15(1), 15(3), 13(3)(b)(ii)",
        "Declared accuracy levels as metric>=value, e.g. test_accuracy>=0.9.",
    )
    evaluation_groups: list[Label] | None = record_field(
        "compliance.ai_act.evaluation_groups",
        "AI Act Art. 13(3)(b)(v), 10(2)(f)",
        "Groups of persons the system is evaluated on; per-group metrics are logged as "
        "<metric>/<group>.",
    )
    event_log_retention: Period | None = record_field(
        "compliance.ai_act.event_log_retention",
        "AI Act Art. 12(1), 19(1)",
        "How long the system's own automatically generated logs are kept when in use; "
        "Art. 19(1): at least six months.",
    )

    def contradictions(self) -> list[str]:
        """Where this part of the record says two things that cannot both be true."""
        found: list[str] = []
        if self.annex_iii_area and self.risk_class not in (None, RiskClass.HIGH):
            found.append(contradiction(
                "compliance.ai_act.annex_iii_area",
                f"set while compliance.ai_act.risk_class is {self.risk_class}; Annex III "
                "areas are high-risk",
            ))
        if self.evaluation_groups and not self.metric_thresholds:
            found.append(contradiction(
                "compliance.ai_act.evaluation_groups",
                "set without compliance.ai_act.metric_thresholds; declare the levels each "
                "group is evaluated against",
            ))
        return found


class ComplianceRecord(BaseModel):
    """The compliance record of one run, model version, logged model or experiment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    regulations: list[Regulation] | None = record_field(
        "compliance",
        "GDPR Art. 2, 3; AI Act Art. 2",
        "The regulations that apply (the seed's `compliance` tag, e.g. GDPR).",
    )
    data_privacy: DataPrivacy | None = record_field(
        "data_privacy",
        "GDPR Art. 25(1), 32(1)",
        "Whether privacy safeguards apply to this run's data (the seed's `data_privacy` tag).",
    )
    gdpr: GdprRecord = Field(default_factory=GdprRecord)
    ai_act: AiActRecord = Field(default_factory=AiActRecord)

    @model_validator(mode="after")
    def _consistent(self) -> ComplianceRecord:
        # Contradictions only; missing evidence is a finding of `check`, not an error.
        problems = self.gdpr.contradictions(self.data_privacy) + self.ai_act.contradictions()
        if problems:
            raise ValueError("\n".join(problems))
        return self
