"""The compliance record: schema, tag codec and the errors a user sees."""

from __future__ import annotations

from datetime import date

import pytest

from mlflow_compliance.record import (
    DATASET_FIELDS,
    DEFAULT_REQUIRED,
    FIELDS,
    ComplianceRecord,
    DatasetRecord,
    InvalidComplianceRecord,
    RecordKind,
    check_tag,
    check_tags,
    dataset_record_from_tags,
    fields_for,
    missing_fields,
    parse_dataset_record,
    parse_record,
    record_from_tags,
    record_problems_after,
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
        "dpia_reference": "artifact:compliance/dpia-2026-014.pdf",
        "dpia_status": "completed",
        "dpia_completed_on": "2026-01-15",
        "controller_contact": "ACME GmbH, privacy@acme.example",
        "dpo_contact": "dpo@acme.example",
        "recipients": ["payment processor", "credit bureau"],
        "automated_decisions": "No decision is made without a person: scores only rank "
                               "the cases a claims handler reviews",
        "transfers_outside_eu": True,
        "transfer_safeguard": "standard_contractual_clauses",
    },
    "ai_act": {
        "risk_class": "high",
        "annex_iii_area": "essential_services",
        "intended_purpose": "Rank retention offers for existing customers",
        "human_overseer": "Jane Doe",
        "transparency_obligations": False,
        "oversight_measures": "A retention manager reviews every offer before it is sent",
        "risk_management_reference": "https://wiki.acme.example/ai/churn/risk-management",
        "instructions_for_use": "artifact:docs/instructions-for-use.md",
        "metric_thresholds": ["test_accuracy>=0.9", "test_false_positive_rate<0.05"],
        "evaluation_groups": ["age under 30", "age 30 and over"],
        "event_log_retention": "P1Y",
    },
}


def test_every_field_is_one_tag_that_names_its_article() -> None:
    assert len(FIELDS) == 31
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
    assert len(tags) == 31
    assert tags["compliance"] == "GDPR,AI Act"
    assert tags["compliance.gdpr.recipients"] == "payment processor,credit bureau"
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
    assert tags["compliance.ai_act.metric_thresholds"] == (
        "test_accuracy>=0.9,test_false_positive_rate<0.05"
    )
    assert back.gdpr.dpia_completed_on == date(2026, 1, 15)


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
    assert "prohibited, high, minimal" in problems["compliance.ai_act.risk_class"]
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
        ({"data_privacy": "disabled", "gdpr": {"personal_data": True}}, "data_privacy"),
        ({"gdpr": {"personal_data": False, "data_categories": ["contact details"]}},
         "compliance.gdpr.data_categories"),
        ({"gdpr": {"personal_data": False, "data_subject_categories": ["customers"]}},
         "compliance.gdpr.data_subject_categories"),
        ({"gdpr": {"personal_data": False, "lawful_basis": "consent"}},
         "compliance.gdpr.lawful_basis"),
        ({"gdpr": {"dpia_status": "planned", "dpia_completed_on": "2026-01-15"}},
         "compliance.gdpr.dpia_completed_on"),
        ({"ai_act": {"evaluation_groups": ["women", "men"]}},
         "compliance.ai_act.evaluation_groups"),
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
        ("compliance.gdpr.purpose", "Demonstration", False),
        ("compliance.gdpr.purpose", "TBD", False),
        ("compliance.gdpr.purpose", "Predict churn of our own customers", True),
        ("compliance.gdpr.dpia_reference", "DPIA-42", False),
        ("compliance.gdpr.dpia_reference", "artifact:dpia.pdf", True),
        ("compliance.gdpr.dpia_completed_on", "2026-01-15", True),
        ("compliance.gdpr.dpia_completed_on", "1700000000", False),
        ("compliance.gdpr.dpia_completed_on", "2026-01-15T00:00:00", False),
        ("compliance.gdpr.retention_period", "P0D", False),
        ("compliance.gdpr.retention_period", "P999Y", True),
        ("compliance.ai_act.human_overseer", "x", False),
        ("compliance.ai_act.human_overseer", "Jane Doe", True),
        ("compliance.ai_act.metric_thresholds", "test_accuracy>=0.9", True),
        ("compliance.ai_act.metric_thresholds", "test_accuracy>=NaN", False),
        ("compliance.ai_act.event_log_retention", "P6M", True),
        ("compliance.ai_act.evaluation_groups", "women,men", True),
        ("compliance.ai_act.evaluation_groups", "women,?", False),
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


def test_contradictions_name_what_is_allowed_on_one_line() -> None:
    with pytest.raises(InvalidComplianceRecord) as caught:
        parse_record({"data_privacy": "disabled", "gdpr": {"personal_data": True}})
    (problem,) = caught.value.problems
    assert "compliance.gdpr.personal_data is true" in problem.reason
    assert "allowed: enabled" in problem.reason
    assert "\n" not in str(caught.value)


def test_what_is_not_a_contradiction_is_accepted() -> None:
    parse_record({"data_privacy": "enabled", "gdpr": {"personal_data": True}})
    parse_record({"data_privacy": "disabled", "gdpr": {"personal_data": False}})
    parse_record({"gdpr": {"dpia_status": "completed", "dpia_completed_on": "2026-01-15",
                           "retention_until": "2025-12-31"}})  # erased before the DPIA: left
    parse_record({"ai_act": {"evaluation_groups": ["women", "men"],
                             "metric_thresholds": ["test_accuracy>=0.9"]}})
    parse_record({"gdpr": {"personal_data": False, "retention_period": "P999Y"}})


@pytest.mark.parametrize("value", ["limited", "Limited", " limited "])
def test_limited_is_refused_with_the_article_50_hint(value: str) -> None:
    problem = check_tag("compliance.ai_act.risk_class", value)
    assert problem is not None and problem.field == "compliance.ai_act.risk_class"
    assert "'limited' is not a risk class of the AI Act (Art. 50 adds transparency duties" in (
        problem.reason
    )
    assert "set compliance.ai_act.transparency_obligations = true" in problem.reason
    assert problem.reason.endswith("allowed: one of prohibited, high, minimal")
    with pytest.raises(InvalidComplianceRecord) as caught:
        parse_record({"ai_act": {"risk_class": value}})
    assert "Art. 50 adds transparency duties" in str(caught.value)


def test_minimal_with_transparency_duties_is_how_art_50_is_recorded() -> None:
    tags = record_to_tags(parse_record(
        {"ai_act": {"risk_class": "minimal", "transparency_obligations": True}}
    ))
    assert tags == {"compliance.ai_act.risk_class": "minimal",
                    "compliance.ai_act.transparency_obligations": "true"}


@pytest.mark.parametrize(
    ("tag", "article"),
    [
        ("compliance", "GDPR Art. 2, 3; AI Act Art. 2"),
        ("data_privacy", "GDPR Art. 25(1), 32(1)"),
        ("compliance.gdpr.retention_period", "GDPR Art. 5(1)(e), 30(1)(f)"),
        ("compliance.gdpr.dpia_reference", "GDPR Art. 35(1), 35(7)"),
        ("compliance.gdpr.dpia_completed_on", "GDPR Art. 35(1)"),
        ("compliance.gdpr.dpo_contact", "GDPR Art. 30(1)(a), 37(7)"),
        ("compliance.gdpr.transfers_outside_eu", "GDPR Art. 44, 30(1)(e)"),
        ("compliance.gdpr.transfer_safeguard", "GDPR Art. 45, 46, 47, 49"),
        ("compliance.ai_act.risk_class", "AI Act Art. 5, 6"),
        ("compliance.ai_act.transparency_obligations", "AI Act Art. 50(1)-(4)"),
        ("compliance.ai_act.intended_purpose", "AI Act Art. 3(12), 13(3)(b)(i), Annex IV 1(a)"),
        ("compliance.ai_act.human_overseer", "AI Act Art. 26(2)"),
        ("compliance.ai_act.oversight_measures", "AI Act Art. 14(3), 13(3)(d)"),
        ("compliance.ai_act.risk_management_reference", "AI Act Art. 9(1), 9(2)"),
        ("compliance.ai_act.instructions_for_use", "AI Act Art. 13(1), 13(2)"),
        ("compliance.ai_act.metric_thresholds", "AI Act Art. 15(1), 15(3), 13(3)(b)(ii)"),
        ("compliance.ai_act.evaluation_groups", "AI Act Art. 13(3)(b)(v), 10(2)(f)"),
        ("compliance.ai_act.event_log_retention", "AI Act Art. 12(1), 19(1)"),
    ],
)
def test_each_field_cites_its_paragraph(tag: str, article: str) -> None:
    assert FIELDS[tag].article == article


def test_transfers_speak_of_third_countries_not_leaving_the_eu() -> None:
    description = FIELDS["compliance.gdpr.transfers_outside_eu"].description
    assert "third country (a state outside the EEA)" in description


# --- the record as a whole, after a batch of writes --------------------------------


def test_a_write_that_contradicts_the_stored_record_is_a_problem() -> None:
    stored = {"compliance.gdpr.special_categories": "health_data", "mlflow.user": "ann"}
    problems = record_problems_after(stored, [("compliance.gdpr.personal_data", "false")])
    assert [p.field for p in problems] == ["compliance.gdpr.special_categories"]


def test_writes_merge_over_the_stored_record_and_the_last_write_wins() -> None:
    stored = {"compliance.gdpr.personal_data": "false"}
    assert record_problems_after(
        stored, [("compliance.gdpr.lawful_basis", "consent"),
                 ("compliance.gdpr.personal_data", "true")]
    ) == []
    assert record_problems_after(
        stored, [("compliance.gdpr.personal_data", "true"),
                 ("compliance.gdpr.personal_data", "false"),
                 ("compliance.gdpr.lawful_basis", "consent")]
    ) != []


def test_a_delete_that_leaves_a_contradiction_is_a_problem() -> None:
    stored = {"compliance.gdpr.special_categories": "health_data",
              "compliance.gdpr.special_category_ground": "explicit_consent"}
    problems = record_problems_after(stored, [], ["compliance.gdpr.special_categories"])
    assert [p.field for p in problems] == ["compliance.gdpr.special_category_ground"]
    both = ["compliance.gdpr.special_categories", "compliance.gdpr.special_category_ground"]
    assert record_problems_after(stored, [], both) == []


def test_a_bad_written_value_is_reported_with_what_is_allowed() -> None:
    problems = record_problems_after({}, [("compliance.gdpr.purpose", "TBD"),
                                         ("mlflow.note.content", "x")])
    assert [p.field for p in problems] == ["compliance.gdpr.purpose"]
    assert "allowed: text of 20 to 500 characters" in problems[0].reason


def test_unrelated_writes_are_never_blocked_by_an_old_bad_record() -> None:
    stored = {"compliance.gdpr.purpose": "x", "compliance.gdpr.personal_data": "false",
              "compliance.gdpr.special_categories": "health_data"}
    assert record_problems_after(stored, [("mlflow.runName", "again"), ("team", "a")]) == []
    assert record_problems_after(stored, [], ["team"]) == []
    # but a compliance write is judged with the whole record it leaves
    fields = {p.field for p in record_problems_after(
        stored, [("compliance.ai_act.risk_class", "minimal")]
    )}
    assert fields == {"compliance.gdpr.purpose"}


def test_record_problems_after_on_a_dataset_uses_the_dataset_record() -> None:
    stored = {"mlflow.data.context": "training", "compliance.gdpr.personal_data": "false"}
    problems = record_problems_after(
        stored, [("compliance.dataset.subject_id_columns", "customer_id")],
        kind=RecordKind.DATASET,
    )
    assert [p.field for p in problems] == ["compliance.dataset.subject_id_columns"]
    assert record_problems_after(
        stored, [("compliance.dataset.origin", "Exported from the CRM in January 2026")],
        kind="dataset",
    ) == []


# --- kinds of record ---------------------------------------------------------------


def test_each_kind_has_its_fields() -> None:
    assert fields_for(RecordKind.DATASET) is DATASET_FIELDS
    for kind in RecordKind:
        if kind is not RecordKind.DATASET:
            assert fields_for(kind) is FIELDS
    assert fields_for() is FIELDS
    assert {k.value for k in RecordKind} == {
        "run", "model_version", "experiment", "dataset", "registered_model", "logged_model"
    }


def test_a_dataset_field_on_a_run_says_where_it_belongs() -> None:
    problem = check_tag("compliance.dataset.origin", "Exported from the CRM in 2026")
    assert problem is not None
    assert problem.reason.startswith("a dataset field: set it on the dataset input's tags")
    problem = check_tag("compliance.dataset.origin", "Exported from the CRM in 2026",
                        RecordKind.MODEL_VERSION)
    assert problem is not None and "not on a model version" in problem.reason


def test_a_run_field_on_a_dataset_lists_what_a_dataset_has() -> None:
    problem = check_tag("compliance.ai_act.risk_class", "high", RecordKind.DATASET)
    assert problem is not None
    assert "not of a dataset; a dataset has: compliance.gdpr.personal_data" in problem.reason
    assert "compliance.dataset.subject_id_columns" in problem.reason
    assert check_tag("compliance.gdpr.personal_data", "true", RecordKind.DATASET) is None
    assert check_tag("mlflow.data.context", "training", RecordKind.DATASET) is None


def test_check_tags_takes_pairs_or_a_mapping_and_a_kind() -> None:
    pairs = [("compliance.gdpr.personal_data", "maybe"), ("other", "x"),
             ("compliance.dataset.gaps", "x")]
    assert [p.field for p in check_tags(pairs)] == [
        "compliance.gdpr.personal_data", "compliance.dataset.gaps"]
    assert [p.field for p in check_tags(dict(pairs), kind=RecordKind.DATASET)] == [
        "compliance.gdpr.personal_data", "compliance.dataset.gaps"]
    assert check_tags({"compliance.ai_act.risk_class": "high"}, "logged_model") == []


def test_missing_fields_are_the_required_keys_absent_or_blank() -> None:
    assert DEFAULT_REQUIRED == ("compliance.gdpr.personal_data", "compliance.ai_act.risk_class")
    assert missing_fields({}, DEFAULT_REQUIRED) == list(DEFAULT_REQUIRED)
    assert missing_fields({"compliance.gdpr.personal_data": "false",
                           "compliance.ai_act.risk_class": "  "}, DEFAULT_REQUIRED) == [
        "compliance.ai_act.risk_class"]
    assert missing_fields({"compliance.gdpr.personal_data": "true",
                           "compliance.ai_act.risk_class": "high"}, DEFAULT_REQUIRED) == []
    assert missing_fields({}, []) == []


# --- the dataset record --------------------------------------------------------------

DATASET = {
    "personal_data": True,
    "data_categories": ["contact details", "income"],
    "special_categories": ["health_data"],
    "design_choices": "One row per applicant, the latest application only",
    "origin": "Applications submitted through our careers site since 2023, "
              "collected to run the recruiting process",
    "preparation": "Duplicates removed, free text dropped, income bucketed",
    "assumptions": "Income measures ability to repay, not creditworthiness",
    "suitability": "Forty thousand rows, enough for the eight features used",
    "bias_examination": "artifact:bias/applicants-2026.html",
    "bias_measures": "Reweighting by age group before training the model",
    "gaps": "Few applicants over sixty; flagged for manual review",
    "representativeness": "Matches the applicant population of 2025 by age and region",
    "special_category_justification": "Health data is used only to detect disability bias "
                                      "and is deleted after the examination",
    "minimisation": "Only the eight features the model uses are kept",
    "subject_id_columns": ["applicant_id"],
}


def test_dataset_record_round_trips_through_tags() -> None:
    record = parse_dataset_record(DATASET)
    tags = record_to_tags(record)
    assert len(tags) == len(DATASET_FIELDS) == 15
    assert tags["compliance.dataset.bias_examination"] == "artifact:bias/applicants-2026.html"
    assert tags["compliance.dataset.subject_id_columns"] == "applicant_id"
    back = dataset_record_from_tags({**tags, "mlflow.data.context": "training"})
    assert back == record and isinstance(back, DatasetRecord)
    assert parse_dataset_record(tags) == record  # the tag keys work as well


def test_every_dataset_field_names_its_article() -> None:
    articles = {tag: f.article for tag, f in DATASET_FIELDS.items()}
    assert articles["compliance.dataset.origin"] == "AI Act Art. 10(2)(b); GDPR Art. 14(2)(f)"
    assert articles["compliance.dataset.bias_examination"] == "AI Act Art. 10(2)(f)"
    assert articles["compliance.dataset.representativeness"] == "AI Act Art. 10(3)"
    assert articles["compliance.dataset.special_category_justification"] == (
        "AI Act Art. 10(5); GDPR Art. 9(2)")
    assert articles["compliance.dataset.minimisation"] == "GDPR Art. 5(1)(c)"
    assert articles["compliance.dataset.subject_id_columns"] == "GDPR Art. 4(1), 4(5)"
    for field in DATASET_FIELDS.values():
        assert "Art." in field.article and field.description and field.allowed


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"personal_data": False, "special_categories": ["health_data"]},
         "compliance.gdpr.special_categories"),
        ({"special_category_justification": "Needed to detect disability bias in scoring"},
         "compliance.dataset.special_category_justification"),
        ({"personal_data": False, "subject_id_columns": ["customer_id"]},
         "compliance.dataset.subject_id_columns"),
        ({"personal_data": False, "data_categories": ["contact details"]},
         "compliance.gdpr.data_categories"),
    ],
)
def test_dataset_contradictions_are_refused(data: dict, field: str) -> None:
    with pytest.raises(InvalidComplianceRecord) as caught:
        parse_dataset_record(data)
    assert [p.field for p in caught.value.problems] == [field]


@pytest.mark.parametrize(
    ("tag", "value"),
    [
        ("compliance.dataset.origin", "TBD"),
        ("compliance.dataset.origin", "From the CRM"),  # too short to say anything
        ("compliance.dataset.bias_examination", "done"),
        ("compliance.dataset.bias_examination", "http://bias.example/report"),
        ("compliance.dataset.subject_id_columns", "n/a"),
    ],
)
def test_dataset_placeholders_are_refused(tag: str, value: str) -> None:
    problem = check_tag(tag, value, RecordKind.DATASET)
    assert problem is not None and problem.field == tag
    assert "allowed:" in problem.reason
    with pytest.raises(InvalidComplianceRecord):
        dataset_record_from_tags({tag: value})


def test_a_run_field_in_a_dataset_record_is_refused() -> None:
    with pytest.raises(InvalidComplianceRecord) as caught:
        dataset_record_from_tags({"compliance.gdpr.lawful_basis": "consent"})
    assert caught.value.problems[0].field == "compliance.gdpr.lawful_basis"
    with pytest.raises(InvalidComplianceRecord):
        parse_dataset_record({"lawful_basis": "consent"})
