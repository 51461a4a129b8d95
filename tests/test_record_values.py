"""The value types of the record: placeholders, statements, contacts, references,
periods and thresholds, each refused with what is allowed."""

from __future__ import annotations

import math

import pytest

from mlflow_compliance.record import (
    FIELDS,
    Threshold,
    check_tag,
    is_placeholder,
    parse_threshold,
    period_days,
)

PLACEHOLDERS = ["x", "X", "xxx", "TBD", "tba", "TODO", "FIXME", "n/a", "N/A", "na", "None",
                "null", "unknown", "?", "???", "-", "--", "...", "placeholder", "test",
                "dummy", "Lorem ipsum", "later", "pending", "same", "asdf", "foo", "bar",
                "changeme", "see above", "etc.", "(TBD)", " tbd. ", "12345", "2026-01-01"]

TEXT_FIELDS = {
    "compliance.gdpr.purpose": "Statement",
    "compliance.ai_act.intended_purpose": "Statement",
    "compliance.ai_act.oversight_measures": "Statement",
    "compliance.gdpr.controller_contact": "Contact",
    "compliance.gdpr.dpo_contact": "Contact",
    "compliance.ai_act.human_overseer": "PersonName",
    "compliance.gdpr.dpia_reference": "Reference",
    "compliance.ai_act.risk_management_reference": "Reference",
    "compliance.ai_act.instructions_for_use": "Reference",
    "compliance.gdpr.data_categories": "Label",
    "compliance.gdpr.data_subject_categories": "Label",
    "compliance.ai_act.evaluation_groups": "Label",
}


@pytest.mark.parametrize("value", PLACEHOLDERS)
def test_placeholders_are_recognised(value: str) -> None:
    assert is_placeholder(value)


# A longer text that only puts the value off is a placeholder too (the class, not the list).
DEFERRALS = ["TBD - will add the purpose later", "todo: write the purpose here",
             "WIP purpose statement for the model", "Purpose is to be determined by legal",
             "The oversight measures will be added later", "Coming soon, ask the data team",
             "Lorem ipsum dolor sit amet consectetur"]


@pytest.mark.parametrize("value", DEFERRALS)
def test_text_that_puts_the_value_off_is_a_placeholder(value: str) -> None:
    assert is_placeholder(value)
    assert check_tag("compliance.gdpr.purpose", value) is not None


@pytest.mark.parametrize("value", ["Jane Doe", "na\u00efve Bayes baseline", "test_accuracy",
                                   "customers", "Barcelona office", "unknown sender filter",
                                   "None of the applicants are minors",
                                   "Test data of our own customers, pseudonymised"])
def test_real_values_are_not_placeholders(value: str) -> None:
    assert not is_placeholder(value)


@pytest.mark.parametrize("tag", sorted(TEXT_FIELDS))
@pytest.mark.parametrize("value", ["x", "TBD", "n/a", "???"])
def test_every_text_field_refuses_each_placeholder(tag: str, value: str) -> None:
    problem = check_tag(tag, value)
    assert problem is not None, (tag, value)
    assert problem.field == tag
    assert f"{value!r} is not allowed; allowed: " in problem.reason
    assert "\n" not in problem.reason


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("Predict churn of our own customers", True),
        ("Demonstration", False),  # one word
        ("Churn model training", True),  # 3 words, 21 characters
        ("Churn prediction!!!!!!", False),  # two words
        ("a b c", False),  # under 20 characters
        ("word " * 120, False),  # over 500 characters
        ("   Predict churn of our own customers   ", True),
    ],
)
def test_statement_needs_twenty_characters_and_three_words(value: str, ok: bool) -> None:
    assert (check_tag("compliance.gdpr.purpose", value) is None) == ok


def test_statement_says_what_is_allowed() -> None:
    assert FIELDS["compliance.gdpr.purpose"].allowed == (
        "text of 20 to 500 characters, at least 3 words, not a placeholder"
    )


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("ACME GmbH, privacy@acme.example", True),
        ("dpo@acme.example", True),
        ("https://acme.example/privacy", True),
        ("ACME GmbH, +49 30 1234567", True),
        ("ACME GmbH, +49-30-123-4567", True),
        ("ACME GmbH", False),
        ("ACME GmbH, Berlin", False),
        ("call 1234567", False),  # no +
        ("+49 123", False),  # too few digits
        ("http://acme.example/privacy", False),  # not https
        ("dpo@acme", False),
        ("x@y", False),
    ],
)
def test_contact_needs_an_email_an_https_url_or_a_phone_number(value: str, ok: bool) -> None:
    problem = check_tag("compliance.gdpr.dpo_contact", value)
    assert (problem is None) == ok, problem
    if problem is not None:
        assert "e-mail address, an https:// URL or a phone number" in problem.reason


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("Jane Doe", True),
        ("Jane Doe, head of recruiting", True),
        ("Li", False),  # under 3 characters
        ("123", False),
        ("n/a", False),
        ("J" * 201, False),
    ],
)
def test_person_name(value: str, ok: bool) -> None:
    assert (check_tag("compliance.ai_act.human_overseer", value) is None) == ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("artifact:dpia.pdf", True),
        ("artifact:compliance/dpia/2026-014.pdf", True),
        ("https://wiki.acme.example/dpia/2026-014", True),
        ("https://dms.acme.example", True),
        ("http://wiki.acme.example/dpia", False),
        ("artifact:../other-run/dpia.pdf", False),
        ("artifact:docs/../../dpia.pdf", False),
        ("artifact:/etc/passwd", False),
        ("artifact:docs\\dpia.pdf", False),
        ("artifact:", False),
        ("artifact: ", False),
        ("https://", False),
        ("https:///dpia.pdf", False),
        ("ftp://files.acme.example/dpia.pdf", False),
        ("DPIA-2026-014", False),
        ("s3://bucket/dpia.pdf", False),
        ("https://wiki.acme.example/a b", False),
        ("https://wiki.acme.example/" + "a" * 500, False),
    ],
)
def test_reference_forms(value: str, ok: bool) -> None:
    problem = check_tag("compliance.gdpr.dpia_reference", value)
    assert (problem is None) == ok, problem
    if problem is not None:
        assert problem.reason.endswith(
            "allowed: artifact:<path in the run's artifacts> or an https:// URL"
        )


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("P6M", True),
        ("P5Y", True),
        ("P2Y6M", True),
        ("P30D", True),
        ("P999Y", True),  # long, but the maximum is a check policy, not the schema
        ("P0D", False),
        ("P0Y", False),
        ("P0Y0M0D", False),
        ("P", False),
        ("5 years", False),
        ("P1.5Y", False),
        ("PT12H", False),
    ],
)
def test_period_is_iso_8601_and_not_zero(value: str, ok: bool) -> None:
    problem = check_tag("compliance.gdpr.retention_period", value)
    assert (problem is None) == ok
    if problem is not None:
        assert "ISO 8601 period" in problem.reason and "not zero" in problem.reason
    assert (check_tag("compliance.ai_act.event_log_retention", value) is None) == ok


def test_period_days() -> None:
    assert period_days("P30D") == 30
    assert period_days("P1W") == 7
    assert round(period_days("P6M")) == 183
    assert round(period_days("P10Y")) == 3652


@pytest.mark.parametrize(
    ("text", "metric", "op", "value"),
    [
        ("test_accuracy>=0.9", "test_accuracy", ">=", 0.9),
        ("test_accuracy >= 0.9", "test_accuracy", ">=", 0.9),
        ("eval/f1 > 0.75", "eval/f1", ">", 0.75),
        ("test_false_positive_rate<0.05", "test_false_positive_rate", "<", 0.05),
        ("val:loss<=-1e-3", "val:loss", "<=", -0.001),
        ("test-auc.macro>=1", "test-auc.macro", ">=", 1.0),
    ],
)
def test_thresholds_parse(text: str, metric: str, op: str, value: float) -> None:
    assert parse_threshold(text) == Threshold(metric, op, value)


@pytest.mark.parametrize(
    "text", ["test_accuracy>=NaN", "test_accuracy>=nan", "test_accuracy>=inf",
             "test_accuracy>=-Infinity", "test_accuracy=0.9", "test_accuracy>=",
             ">=0.9", "test accuracy>=0.9", "test_accuracy>=high", "test_accuracy=>0.9",
             "test_accuracy>>0.9"],
)
def test_bad_thresholds_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_threshold(text)
    problem = check_tag("compliance.ai_act.metric_thresholds", text)
    assert problem is not None
    assert "metric>=value items such as test_accuracy>=0.9" in problem.reason


def test_threshold_met_never_by_nan_or_infinity() -> None:
    at_least = parse_threshold("test_accuracy>=0.9")
    assert at_least.met(0.9) and at_least.met(0.95) and not at_least.met(0.89)
    assert not at_least.met(math.nan)
    assert not at_least.met(math.inf)
    below = parse_threshold("test_error<0.1")
    assert below.met(0.05) and not below.met(0.1)
    assert not below.met(-math.inf) and not below.met(math.nan)
    assert parse_threshold("a>1").met(1.5) and not parse_threshold("a>1").met(1)
    assert parse_threshold("a<=1").met(1)


def test_thresholds_are_stored_without_spaces() -> None:
    field = FIELDS["compliance.ai_act.metric_thresholds"]
    assert field.decode("test_accuracy >= 0.90, test_error < 0.1") == [
        "test_accuracy>=0.90", "test_error<0.1"
    ]


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("contact details,purchase history", True),
        ("EU", True),
        ("e", False),  # under 2 characters
        ("contact details,none", False),
        ("contact details,", False),
        ("a" * 101, False),
    ],
)
def test_label_items(value: str, ok: bool) -> None:
    assert (check_tag("compliance.gdpr.data_categories", value) is None) == ok


def test_each_type_says_what_is_allowed_in_one_phrase() -> None:
    allowed = {tag: f.allowed for tag, f in FIELDS.items()}
    assert allowed["compliance.gdpr.dpia_reference"] == (
        "artifact:<path in the run's artifacts> or an https:// URL")
    assert allowed["compliance.ai_act.metric_thresholds"].startswith(
        "a comma-separated list of metric>=value items such as test_accuracy>=0.9")
    assert "e-mail address" in allowed["compliance.gdpr.controller_contact"]
    assert allowed["compliance.ai_act.human_overseer"] == (
        "a person's name of 3 to 200 characters, not a placeholder")
    assert allowed["compliance.gdpr.data_categories"] == (
        "a comma-separated list, each item text of 2 to 100 characters without commas, "
        "not a placeholder")
    assert allowed["compliance.gdpr.retention_until"] == "a date as YYYY-MM-DD"
