"""The compliance record: what GDPR and the EU AI Act ask a team to keep about a run,
a dataset or a model version.

Every field names the article it serves (``article``) and the MLflow tag it is stored
under (``tag``); ``docs/record.md`` is generated from these declarations. The record
checks that it is *consistent* (no contradictions); whether it is *complete* enough for
a given use is the job of the compliance checks, because evidence is often filled in
over the life of a project.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
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
    """EU AI Act Art. 5 (prohibited), Art. 6 and Annex III (high), Art. 50 (limited)."""

    PROHIBITED = "prohibited"
    HIGH = "high"
    LIMITED = "limited"
    MINIMAL = "minimal"


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


_ISO_PERIOD = re.compile(r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?$")


def _check_period(value: str) -> str:
    if not _ISO_PERIOD.match(value):
        raise ValueError("not an ISO 8601 period")
    return value


Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
"""Free text that fits in an MLflow tag."""

Label = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=r"^[^,]+$")
]
"""One item of a comma-separated list."""

Period = Annotated[str, AfterValidator(_check_period)]
"""An ISO 8601 period such as P6M, P5Y or P30D."""


def _field(tag: str, article: str, description: str) -> Any:
    return Field(
        default=None,
        description=description,
        json_schema_extra={"tag": tag, "article": article},
    )


class GdprRecord(BaseModel):
    """What GDPR asks a controller to document about processing (Art. 30 record)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)

    personal_data: bool | None = _field(
        "compliance.gdpr.personal_data",
        "GDPR Art. 4(1)",
        "Whether the data processed includes personal data.",
    )
    data_categories: list[Label] | None = _field(
        "compliance.gdpr.data_categories",
        "GDPR Art. 30(1)(c)",
        "Categories of personal data processed, e.g. contact, financial, location.",
    )
    data_subject_categories: list[Label] | None = _field(
        "compliance.gdpr.data_subject_categories",
        "GDPR Art. 30(1)(c)",
        "Categories of data subjects, e.g. customers, employees, patients.",
    )
    special_categories: list[SpecialCategory] | None = _field(
        "compliance.gdpr.special_categories",
        "GDPR Art. 9(1)",
        "Special categories of personal data processed, if any.",
    )
    special_category_ground: SpecialCategoryGround | None = _field(
        "compliance.gdpr.special_category_ground",
        "GDPR Art. 9(2)",
        "The Art. 9(2) ground that lifts the ban on processing special categories.",
    )
    lawful_basis: LawfulBasis | None = _field(
        "compliance.gdpr.lawful_basis",
        "GDPR Art. 6(1)",
        "The lawful basis of the processing.",
    )
    purpose: Text | None = _field(
        "compliance.gdpr.purpose",
        "GDPR Art. 5(1)(b), 30(1)(b)",
        "The specified, explicit purpose of the processing.",
    )
    retention_period: Period | None = _field(
        "compliance.gdpr.retention_period",
        "GDPR Art. 5(1)(e)",
        "How long the data is kept, as an ISO 8601 period (P6M, P5Y).",
    )
    retention_until: date | None = _field(
        "compliance.gdpr.retention_until",
        "GDPR Art. 5(1)(e)",
        "The date after which the data must be erased or anonymised.",
    )
    dpia_reference: Text | None = _field(
        "compliance.gdpr.dpia_reference",
        "GDPR Art. 35",
        "Where the data protection impact assessment is kept (document id or URL).",
    )
    dpia_status: DpiaStatus | None = _field(
        "compliance.gdpr.dpia_status",
        "GDPR Art. 35",
        "State of the data protection impact assessment.",
    )
    controller_contact: Text | None = _field(
        "compliance.gdpr.controller_contact",
        "GDPR Art. 30(1)(a)",
        "Name and contact details of the controller.",
    )
    dpo_contact: Text | None = _field(
        "compliance.gdpr.dpo_contact",
        "GDPR Art. 37, 30(1)(a)",
        "Contact details of the data protection officer.",
    )
    transfers_outside_eu: bool | None = _field(
        "compliance.gdpr.transfers_outside_eu",
        "GDPR Art. 44",
        "Whether personal data is transferred to a third country or international organisation.",
    )
    transfer_safeguard: TransferSafeguard | None = _field(
        "compliance.gdpr.transfer_safeguard",
        "GDPR Art. 45-49",
        "The safeguard that makes a transfer outside the EU lawful.",
    )


class AiActRecord(BaseModel):
    """What the EU AI Act asks a provider to document about an AI system."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    risk_class: RiskClass | None = _field(
        "compliance.ai_act.risk_class",
        "AI Act Art. 5, 6, 50",
        "Risk class of the AI system.",
    )
    annex_iii_area: AnnexIIIArea | None = _field(
        "compliance.ai_act.annex_iii_area",
        "AI Act Art. 6(2), Annex III",
        "The Annex III area that makes the system high-risk.",
    )
    intended_purpose: Text | None = _field(
        "compliance.ai_act.intended_purpose",
        "AI Act Art. 3(12), Annex IV 1(a)",
        "The use for which the provider intends the AI system.",
    )
    human_overseer: Text | None = _field(
        "compliance.ai_act.human_overseer",
        "AI Act Art. 14",
        "The named natural person who oversees the system in use.",
    )


class ComplianceRecord(BaseModel):
    """The compliance record of one run, dataset or model version."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    regulations: list[Regulation] | None = _field(
        "compliance",
        "GDPR Art. 5(2); AI Act Art. 11",
        "The regulations that apply (the seed's `compliance` tag, e.g. GDPR).",
    )
    data_privacy: DataPrivacy | None = _field(
        "data_privacy",
        "GDPR Art. 25, 32",
        "Whether privacy safeguards apply to this run's data (the seed's `data_privacy` tag).",
    )
    gdpr: GdprRecord = Field(default_factory=GdprRecord)
    ai_act: AiActRecord = Field(default_factory=AiActRecord)

    @model_validator(mode="after")
    def _consistent(self) -> ComplianceRecord:
        # Contradictions only; missing evidence is a finding of `check`, not an error.
        g, a = self.gdpr, self.ai_act
        problems: list[str] = []
        if g.special_category_ground and not g.special_categories:
            problems.append(
                "compliance.gdpr.special_category_ground: set without "
                "compliance.gdpr.special_categories; name the special categories it covers"
            )
        if g.special_categories and g.personal_data is False:
            problems.append(
                "compliance.gdpr.special_categories: set while compliance.gdpr.personal_data "
                "is false; special categories are personal data"
            )
        if g.transfer_safeguard and g.transfers_outside_eu is False:
            problems.append(
                "compliance.gdpr.transfer_safeguard: set while "
                "compliance.gdpr.transfers_outside_eu is false"
            )
        if a.annex_iii_area and a.risk_class not in (None, RiskClass.HIGH):
            problems.append(
                "compliance.ai_act.annex_iii_area: set while compliance.ai_act.risk_class is "
                f"{a.risk_class.value if a.risk_class else None}; Annex III areas are high-risk"
            )
        if problems:
            raise ValueError("\n".join(problems))
        return self
