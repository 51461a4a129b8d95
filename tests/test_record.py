"""The compliance record: schema, tag codec and the errors a user sees."""

from __future__ import annotations

from datetime import date

import pytest

from mlflow_compliance.record import (
    FIELDS,
    ComplianceRecord,
    InvalidComplianceRecord,
    check_tag,
    parse_record,
    record_from_tags,
    record_to_tags,
)
from mlflow_compliance.record.schema import (
    AnnexIIIArea,
    LawfulBasis,
    Regulation,
    RiskClass,
    SpecialCategory,
    SpecialCategoryGround,
)

FULL = {
    "regulations": ["GDPR", "AI Act"],
    "data_privacy": "enabled",
    "gdpr": {
        "personal_data": True,
        "data_categories": ["contact details", "purchase history"],
        "data_subject_categories": ["customers"],
        "special_categories": ["health_data"],
        "special_category_ground": "explicit_consent",
        "lawful_basis": "consent",
        "purpose": "Churn prediction for retention offers",
        "retention_period": "P2Y6M",
        "retention_until": "2030-06-30",
        "dpia_reference": "DPIA-2026-014",
        "dpia_status": "completed",
        "controller_contact": "ACME GmbH, privacy@acme.example",
        "dpo_contact": "dpo@acme.example",
        "transfers_outside_eu": True,
        "transfer_safeguard": "standard_contractual_clauses",
    },
    "ai_act": {
        "risk_class": "high",
        "annex_iii_area": "essential_services",
        "intended_purpose": "Rank retention offers for existing customers",
        "human_overseer": "Jane Doe",
    },
}


def test_every_field_is_one_tag_that_names_its_article() -> None:
    assert len(FIELDS) == 21
    for tag, field in FIELDS.items():
        assert tag == "compliance" or tag == "data_privacy" or tag.startswith("compliance.")
        assert ("Art." in field.article) or ("Annex" in field.article), tag
        assert field.description and field.allowed


def test_seed_tags_keep_the_seed_names_and_values() -> None:
    record = parse_record({"regulations": ["GDPR"], "data_privacy": "enabled"})
    assert record_to_tags(record) == {"compliance": "GDPR", "data_privacy": "enabled"}


def test_full_record_round_trips_through_tags() -> None:
    record = parse_record(FULL)
    tags = record_to_tags(record)
    assert len(tags) == 21
    assert tags["compliance"] == "GDPR,AI Act"
    assert tags["compliance.gdpr.lawful_basis"] == "consent"
    assert tags["compliance.gdpr.personal_data"] == "true"
    assert tags["compliance.gdpr.data_categories"] == "contact details,purchase history"
    assert tags["compliance.gdpr.retention_until"] == "2030-06-30"
    assert tags["compliance.ai_act.risk_class"] == "high"
    back = record_from_tags({**tags, "mlflow.user": "someone", "other": "x"})
    assert back == record
    assert back.gdpr.lawful_basis is LawfulBasis.CONSENT
    assert back.gdpr.special_categories == [SpecialCategory.HEALTH_DATA]
    assert back.gdpr.special_category_ground is SpecialCategoryGround.EXPLICIT_CONSENT
    assert back.gdpr.retention_until == date(2030, 6, 30)
    assert back.ai_act.annex_iii_area is AnnexIIIArea.ESSENTIAL_SERVICES
    assert back.regulations == [Regulation.GDPR, Regulation.AI_ACT]


def test_unset_fields_write_no_tags() -> None:
    assert record_to_tags(ComplianceRecord()) == {}
    tags = record_to_tags(parse_record({"ai_act": {"risk_class": "minimal"}}))
    assert tags == {"compliance.ai_act.risk_class": "minimal"}
    assert record_from_tags(tags).ai_act.risk_class is RiskClass.MINIMAL


def test_every_bad_field_is_reported_at_once_with_what_is_allowed() -> None:
    with pytest.raises(InvalidComplianceRecord) as caught:
        parse_record(
            {
                "regulations": ["HIPAA"],
                "gdpr": {"lawful_basis": "consnt", "retention_period": "5 years"},
                "ai_act": {"risk_class": "extreme"},
            }
        )
    problems = {p.field: p.reason for p in caught.value.problems}
    assert set(problems) == {
        "compliance",
        "compliance.gdpr.lawful_basis",
        "compliance.gdpr.retention_period",
        "compliance.ai_act.risk_class",
    }
    assert "'consnt' is not allowed" in problems["compliance.gdpr.lawful_basis"]
    assert "legitimate_interests" in problems["compliance.gdpr.lawful_basis"]
    assert "ISO 8601 period" in problems["compliance.gdpr.retention_period"]
    assert "prohibited, high, limited, minimal" in problems["compliance.ai_act.risk_class"]
    assert "\n" not in str(caught.value)


def test_unknown_field_is_refused_with_a_suggestion() -> None:
    with pytest.raises(InvalidComplianceRecord) as caught:
        parse_record({"gdpr": {"lawfull_basis": "consent"}})
    (problem,) = caught.value.problems
    assert problem.field == "compliance.gdpr.lawfull_basis"
    assert "did you mean compliance.gdpr.lawful_basis?" in problem.reason


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"gdpr": {"special_category_ground": "explicit_consent"}},
         "compliance.gdpr.special_category_ground"),
        ({"gdpr": {"personal_data": False, "special_categories": ["health_data"]}},
         "compliance.gdpr.special_categories"),
        ({"gdpr": {"transfers_outside_eu": False, "transfer_safeguard": "derogation"}},
         "compliance.gdpr.transfer_safeguard"),
        ({"ai_act": {"risk_class": "minimal", "annex_iii_area": "employment"}},
         "compliance.ai_act.annex_iii_area"),
    ],
)
def test_contradictions_are_refused_naming_the_field(data: dict, field: str) -> None:
    with pytest.raises(InvalidComplianceRecord) as caught:
        parse_record(data)
    assert [p.field for p in caught.value.problems] == [field]


def test_two_contradictions_are_two_problems() -> None:
    with pytest.raises(InvalidComplianceRecord) as caught:
        parse_record(
            {"gdpr": {"special_category_ground": "legal_claims",
                      "transfers_outside_eu": False, "transfer_safeguard": "derogation"}}
        )
    assert [p.field for p in caught.value.problems] == [
        "compliance.gdpr.special_category_ground",
        "compliance.gdpr.transfer_safeguard",
    ]


@pytest.mark.parametrize(
    ("key", "value", "ok"),
    [
        ("compliance.gdpr.personal_data", "true", True),
        ("compliance.gdpr.personal_data", "FALSE", True),
        ("compliance.gdpr.personal_data", "yes", False),
        ("compliance.gdpr.retention_period", "P6M", True),
        ("compliance.gdpr.retention_period", "P", False),
        ("compliance.gdpr.retention_until", "2031-02-30", False),
        ("compliance.gdpr.special_categories", "health_data,genetic_data", True),
        ("compliance.gdpr.special_categories", "health_data,,genetic_data", False),
        ("compliance.gdpr.data_categories", "", False),
        ("compliance.gdpr.purpose", "x" * 501, False),
        ("compliance", "GDPR,AI Act", True),
        ("compliance", "GDPR,SOX", False),
        ("data_privacy", "enabled", True),
        ("data_privacy", "on", False),
        ("compliance.gdpr.nonsense", "1", False),
        ("mlflow.user", "anything", True),
        ("compliance_team", "anything", True),
    ],
)
def test_single_tag_check(key: str, value: str, ok: bool) -> None:
    problem = check_tag(key, value)
    assert (problem is None) == ok
    if problem is not None:
        assert problem.field == key
