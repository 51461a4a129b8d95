"""The report formats of ``check``, validated against real schemas (tests/schemas/README.md
says where the vendored ones come from): JSON against the package's own schema, JUnit XML
against the Jenkins junit-10.xsd, SARIF against the OASIS SARIF 2.1.0 schema."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import xmlschema
from rich.console import Console

from mlflow_compliance.checks.model import (
    Finding,
    Kind,
    Outcome,
    Rule,
    Severity,
    Status,
    Target,
)
from mlflow_compliance.checks.report import (
    NOT_APPLICABLE_SHOWN,
    SARIF_FINGERPRINT,
    json_schema,
    summary,
    table,
    to_json,
    to_junit,
    to_sarif,
    tool_version,
)

SCHEMAS = Path(__file__).parent / "schemas"
# XML and JSON specials, non-ASCII (J\u00f6rg's "Datensatz" - two CJK characters - a check
# mark) and rich markup that must print as it is
SPECIAL = "<&>\"' J\u00f6rg\u2019s \u201cDatensatz\u201d \u2014 \u6570\u636e \u2713 [/red] [bold]x"


def _check(target: Target) -> Outcome:
    return Outcome(Status.PASS, "ok")


def make_rule(rule_id: str, severity: Severity, article: str = "GDPR Art. 6(1)") -> Rule:
    return Rule(
        id=rule_id,
        article=article,
        severity=severity,
        applies_to=frozenset({Kind.RUN, Kind.MODEL_VERSION}),
        title=f"Title of {rule_id} <&>",
        doc=f"What the law asks for {rule_id}: \"quoted\" & <tagged>.",
        remediation=f"Set compliance.{rule_id.lower()} \u2014 \u201cfix\u201d it.",
        check=_check,
    )


RULES = [
    make_rule("GDPR-6-LAWFUL-BASIS", Severity.HIGH),
    make_rule("GDPR-9-SPECIAL-CATEGORIES", Severity.CRITICAL, "GDPR Art. 9"),
    make_rule("AIACT-13-INTENDED-PURPOSE", Severity.MEDIUM, "AI Act Art. 13"),
    make_rule("BASE-DATA-DESCRIPTION", Severity.LOW, "GDPR Art. 30"),
]
SEVERITY = {r.id: r.severity for r in RULES}
ARTICLE = {r.id: r.article for r in RULES}


def finding(
    rule_id: str, status: Status, kind: Kind = Kind.RUN, target_id: str = "a1b2c3",
    name: str = "train-7", message: str = "found it",
) -> Finding:
    return Finding(
        rule_id=rule_id,
        article=ARTICLE[rule_id],
        severity=SEVERITY[rule_id],
        target_kind=kind,
        target_id=target_id,
        target_name=name,
        status=status,
        message=message,
        remediation=f"remediate {rule_id}",
    )


FINDINGS = [
    finding("GDPR-6-LAWFUL-BASIS", Status.PASS, message="lawful basis: consent"),
    finding("GDPR-6-LAWFUL-BASIS", Status.FAIL, Kind.MODEL_VERSION, "credit/3", "credit v3",
            "personal data without a lawful basis"),
    finding("GDPR-9-SPECIAL-CATEGORIES", Status.FAIL, Kind.RUN, "d4e5f6", SPECIAL, SPECIAL),
    finding("AIACT-13-INTENDED-PURPOSE", Status.FAIL, Kind.EXPERIMENT, "12", "churn",
            "no intended purpose\non two lines"),
    finding("BASE-DATA-DESCRIPTION", Status.FAIL, Kind.DATASET, "a1b2c3/9f8e", "customers",
            "no data description"),
    finding("BASE-DATA-DESCRIPTION", Status.NOT_APPLICABLE, Kind.RUN, message="no datasets"),
    finding("AIACT-13-INTENDED-PURPOSE", Status.PASS, Kind.MODEL_VERSION, "credit/3",
            "credit v3", "intended purpose: scoring"),
]
FAILURES = [f for f in FINDINGS if f.status is Status.FAIL]
# a low-severity rule whose declaration is missing: failing all the same
UNDECLARED = finding("BASE-DATA-DESCRIPTION", Status.UNDECLARED, Kind.MODEL_VERSION, "credit/3",
                     "credit v3", "param data_description missing or empty")
META = {"server": "http://127.0.0.1:5000", "packs": ["gdpr", "ai-act", "rules/extra.toml"]}


@pytest.fixture(scope="module")
def sarif_validator() -> Any:
    schema = json.loads((SCHEMAS / "sarif-schema-2.1.0.json").read_text("utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


@pytest.fixture(scope="module")
def junit_schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(SCHEMAS / "junit-10.xsd"))


@pytest.fixture(scope="module")
def report_validator() -> jsonschema.Draft202012Validator:
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


# --- summary ---------------------------------------------------------------------------


def test_summary_counts_every_status() -> None:
    assert summary(FINDINGS) == {
        "total": 7, "pass": 2, "fail": 4, "undeclared": 0, "not_applicable": 1,
        "passed": False,
    }
    passing = [f for f in FINDINGS if f.status is not Status.FAIL]
    assert summary(passing)["passed"] is True
    assert summary([]) == {"total": 0, "pass": 0, "fail": 0, "undeclared": 0,
                           "not_applicable": 0, "passed": True}
    assert summary([*passing, UNDECLARED])["passed"] is False


# --- JSON ------------------------------------------------------------------------------


def test_json_schema_is_package_data_and_matches_the_source() -> None:
    source = Path(__file__).parent.parent / "src/mlflow_compliance/checks/schemas"
    assert json_schema() == json.loads((source / "check-report.schema.json").read_text())
    assert json_schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_json_validates_and_round_trips(
    report_validator: jsonschema.Draft202012Validator,
) -> None:
    text = to_json(FINDINGS, RULES, META)
    assert text.isascii()
    report = json.loads(text)
    report_validator.validate(report)
    assert report["tool"] == {"name": "mlflow-compliance", "version": tool_version()}
    assert report["server"] == META["server"]
    assert report["packs"] == META["packs"]
    assert report["summary"] == summary(FINDINGS)
    assert [r["id"] for r in report["rules"]] == [r.id for r in RULES]
    assert report["rules"][0]["applies_to"] == ["model_version", "run"]
    back = [
        Finding(**{
            **d,
            "severity": Severity(d["severity"]),
            "target_kind": Kind(d["target_kind"]),
            "status": Status(d["status"]),
        })
        for d in report["findings"]
    ]
    assert back == FINDINGS
    special = report["findings"][2]
    assert special["message"] == SPECIAL and special["target_name"] == SPECIAL
    assert {"rule_id", "target_id", "status", "message", "article"} <= set(special)


def test_json_schema_rejects_what_it_should(
    report_validator: jsonschema.Draft202012Validator,
) -> None:
    report = json.loads(to_json(FINDINGS, RULES, META))
    report["findings"][0]["status"] = "passed"
    report["findings"][1].pop("article")
    report["summary"]["fail"] = -1
    errors = {tuple(e.absolute_path) for e in report_validator.iter_errors(report)}
    assert errors == {("findings", 0, "status"), ("findings", 1), ("summary", "fail")}


def test_json_of_no_findings_validates(
    report_validator: jsonschema.Draft202012Validator,
) -> None:
    report = json.loads(to_json([], [], {"server": "http://x", "packs": []}))
    report_validator.validate(report)
    assert report["findings"] == [] and report["summary"]["passed"] is True


# --- JUnit XML -------------------------------------------------------------------------


def test_junit_validates_against_the_xsd(junit_schema: xmlschema.XMLSchema) -> None:
    text = to_junit(FINDINGS)
    assert text.isascii()
    assert text.startswith("<?xml version='1.0' encoding='us-ascii'?>")
    junit_schema.validate(text)


def test_junit_suites_per_target_kind_with_counts() -> None:
    root = ET.fromstring(to_junit(FINDINGS))
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("7", "4", "0")
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert list(suites) == [
        "mlflow-compliance: runs",
        "mlflow-compliance: experiments",
        "mlflow-compliance: datasets",
        "mlflow-compliance: model versions",
    ]
    for suite in suites.values():
        cases = suite.findall("testcase")
        assert suite.get("tests") == str(len(cases))
        assert suite.get("failures") == str(sum(c.find("failure") is not None for c in cases))
        assert suite.get("skipped") == str(sum(c.find("skipped") is not None for c in cases))
        assert suite.get("errors") == "0"
    runs = suites["mlflow-compliance: runs"]
    assert (runs.get("tests"), runs.get("failures"), runs.get("skipped")) == ("3", "1", "1")
    assert len(root.findall(".//failure")) == len(FAILURES)
    assert len(root.findall(".//skipped")) == 1


def test_junit_cases_name_rule_and_target_and_escape_everything() -> None:
    root = ET.fromstring(to_junit(FINDINGS))
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert len(cases) == len(FINDINGS)  # every case has its own name
    passed = cases["GDPR-6-LAWFUL-BASIS train-7 (a1b2c3)"]
    assert passed.get("classname") == "run.GDPR-6-LAWFUL-BASIS"
    assert passed.findtext("system-out") == "lawful basis: consent"
    assert passed.find("failure") is None and passed.find("skipped") is None

    special = cases[f"GDPR-9-SPECIAL-CATEGORIES {SPECIAL} (d4e5f6)"]
    failure = special.find("failure")
    assert failure is not None
    assert failure.get("message") == SPECIAL
    assert failure.get("type") == "critical"
    assert failure.text is not None
    assert failure.text.startswith(SPECIAL)
    assert "GDPR Art. 9" in failure.text and "remediate GDPR-9-SPECIAL-CATEGORIES" in failure.text

    two_lines = cases["AIACT-13-INTENDED-PURPOSE churn (12)"].find("failure")
    assert two_lines is not None
    assert two_lines.get("message") == "no intended purpose\non two lines"
    assert two_lines.get("type") == "medium"

    skipped = cases["BASE-DATA-DESCRIPTION train-7 (a1b2c3)"].find("skipped")
    assert skipped is not None and skipped.get("message") == "no datasets"
    assert cases["BASE-DATA-DESCRIPTION customers (a1b2c3/9f8e)"].get("classname") == (
        "dataset.BASE-DATA-DESCRIPTION"
    )


def test_junit_survives_characters_xml_cannot_carry(junit_schema: xmlschema.XMLSchema) -> None:
    odd = finding("GDPR-6-LAWFUL-BASIS", Status.FAIL, name="bell\x07", message="nul\x00 esc\x1b")
    text = to_junit([odd])
    junit_schema.validate(text)
    failure = ET.fromstring(text).find(".//failure")
    assert failure is not None and failure.get("message") == "nul\\x00 esc\\x1b"


def test_junit_of_no_findings_validates(junit_schema: xmlschema.XMLSchema) -> None:
    text = to_junit([])
    junit_schema.validate(text)
    assert ET.fromstring(text).get("tests") == "0"


# --- SARIF -----------------------------------------------------------------------------


def test_sarif_validates_against_the_official_schema(sarif_validator: Any) -> None:
    text = to_sarif(FINDINGS, RULES)
    assert text.isascii()
    log = json.loads(text)
    sarif_validator.validate(log)
    assert log["version"] == "2.1.0"
    assert log["$schema"].endswith("sarif-schema-2.1.0.json")
    assert len(log["runs"]) == 1


def test_sarif_rules_describe_every_rule() -> None:
    driver = json.loads(to_sarif(FINDINGS, RULES))["runs"][0]["tool"]["driver"]
    assert driver["name"] == "mlflow-compliance" and driver["version"] == tool_version()
    assert "informationUri" not in driver
    assert [r["id"] for r in driver["rules"]] == [r.id for r in RULES]
    first = driver["rules"][0]
    assert first == {
        "id": "GDPR-6-LAWFUL-BASIS",
        "name": "Gdpr6LawfulBasis",
        "shortDescription": {"text": RULES[0].title},
        "fullDescription": {"text": RULES[0].doc},
        "help": {"text": RULES[0].remediation},
        "defaultConfiguration": {"level": "error"},
        "properties": {"article": "GDPR Art. 6(1)", "severity": "high"},
    }


def test_sarif_results_are_exactly_the_failures() -> None:
    run = json.loads(to_sarif(FINDINGS, RULES))["runs"][0]
    rules, results = run["tool"]["driver"]["rules"], run["results"]
    assert len(results) == len(FAILURES)
    expected_level = {"critical": "error", "high": "error", "medium": "warning", "low": "note"}
    for result, failed in zip(results, FAILURES, strict=True):
        assert result["ruleId"] == failed.rule_id
        assert rules[result["ruleIndex"]]["id"] == failed.rule_id
        assert result["level"] == expected_level[failed.severity.value]
        assert result["message"]["text"].endswith(failed.message)
        (location,) = result["locations"]
        assert "physicalLocation" not in location
        assert location["logicalLocations"] == [{
            "name": failed.target_name,
            "fullyQualifiedName": f"{failed.target_kind.value}/{failed.target_id}",
            "kind": failed.target_kind.value,
        }]
        assert result["properties"] == {"article": failed.article,
                                         "severity": failed.severity.value, "status": "fail"}
    assert [r["level"] for r in results] == ["error", "error", "warning", "note"]
    assert results[1]["message"]["text"] == f"run {SPECIAL}: {SPECIAL}"


def test_sarif_fingerprints_are_stable_and_distinct() -> None:
    def prints(findings: list[Finding]) -> list[str]:
        run = json.loads(to_sarif(findings, RULES))["runs"][0]
        return [r["partialFingerprints"][SARIF_FINGERPRINT] for r in run["results"]]

    first = prints(FAILURES)
    assert first == prints(FAILURES)  # the same on every check
    assert len(set(first)) == len(first)
    reworded = [finding("GDPR-6-LAWFUL-BASIS", Status.FAIL, Kind.MODEL_VERSION, "credit/3",
                        "renamed", "another message")]
    assert prints(reworded) == first[:1]  # name and message are not part of it


def test_sarif_describes_a_rule_it_was_not_given(sarif_validator: Any) -> None:
    log = json.loads(to_sarif(FAILURES, RULES[:1]))
    sarif_validator.validate(log)
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [f.rule_id for f in FAILURES]
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]


def test_sarif_of_no_failures_validates(sarif_validator: Any) -> None:
    log = json.loads(to_sarif([f for f in FINDINGS if f.status is not Status.FAIL], RULES))
    sarif_validator.validate(log)
    assert log["runs"][0]["results"] == []


# --- terminal table --------------------------------------------------------------------


def render(findings: list[Finding]) -> str:
    console = Console(record=True, width=240, file=io.StringIO(), color_system=None)
    console.print(table(findings))
    return console.export_text()


def test_table_lists_failures_first_most_severe_first_then_pass_counts() -> None:
    text = render(FINDINGS)
    rows = [" ".join(line.replace("│", " ").split()[:2]) for line in text.splitlines()]
    statuses = [row for row in rows if row.split(" ")[0] in ("FAIL", "pass", "n/a")]
    assert statuses == [
        "FAIL critical", "FAIL high", "FAIL medium", "FAIL low", "pass high", "pass medium",
        "n/a low",
    ]
    assert "personal data without a lawful basis" in text
    assert "credit/3" in text
    assert "passed on 1" in text and "1 model version" in text
    assert SPECIAL in text  # markup-like text printed as it is
    assert "7 findings: 4 failed, 0 undeclared, 2 passed, 1 not applicable" in text
    assert "1 critical, 1 high, 1 medium, 1 low" in text
    assert "no datasets" in text  # few not_applicable: listed


def test_table_counts_passes_per_rule() -> None:
    passes = [finding("GDPR-6-LAWFUL-BASIS", Status.PASS, target_id=f"r{i}", name=f"run {i}")
              for i in range(40)]
    passes.append(finding("GDPR-6-LAWFUL-BASIS", Status.PASS, Kind.MODEL_VERSION, "m/1", "m v1"))
    text = render(passes)
    assert "passed on 41" in text and "40 runs, 1 model version" in text
    assert "run 7" not in text


def test_table_hides_many_not_applicable() -> None:
    many = [finding("BASE-DATA-DESCRIPTION", Status.NOT_APPLICABLE, target_id=f"r{i}",
                    message=f"no datasets {i}") for i in range(NOT_APPLICABLE_SHOWN + 1)]
    text = render([*many, FAILURES[0]])
    assert "no datasets" not in text
    assert f"{NOT_APPLICABLE_SHOWN + 1} not applicable (not listed)" in text
    assert "personal data without a lawful basis" in text


def test_table_of_no_findings() -> None:
    text = " ".join(render([]).split())  # the caption wraps at the empty table's width
    assert "0 findings: 0 failed, 0 undeclared, 0 passed, 0 not applicable" in text


# --- undeclared: a missing declaration fails in every format ---------------------------


def test_undeclared_is_counted_and_validates_in_json(
    report_validator: jsonschema.Draft202012Validator,
) -> None:
    report = json.loads(to_json([*FINDINGS, UNDECLARED], RULES, META))
    report_validator.validate(report)
    assert report["summary"]["undeclared"] == 1 and report["summary"]["passed"] is False
    assert report["findings"][-1]["status"] == "undeclared"


def test_undeclared_is_a_junit_failure(junit_schema: xmlschema.XMLSchema) -> None:
    text = to_junit([*FINDINGS, UNDECLARED])
    junit_schema.validate(text)
    root = ET.fromstring(text)
    assert (root.get("tests"), root.get("failures")) == ("8", "5")
    versions = {s.get("name"): s for s in root.iter("testsuite")}[
        "mlflow-compliance: model versions"]
    assert versions.get("failures") == "2"
    case = {c.get("name"): c for c in versions.iter("testcase")}[
        "BASE-DATA-DESCRIPTION credit v3 (credit/3)"]
    failure = case.find("failure")
    assert failure is not None and failure.get("type") == "low"
    assert failure.get("message") == "undeclared: param data_description missing or empty"


def test_undeclared_is_a_sarif_error_whatever_the_severity(sarif_validator: Any) -> None:
    log = json.loads(to_sarif([UNDECLARED], RULES))
    sarif_validator.validate(log)
    (result,) = log["runs"][0]["results"]
    assert result["level"] == "error" and result["properties"]["status"] == "undeclared"
    assert result["message"]["text"] == (
        "model_version credit v3: undeclared: param data_description missing or empty")


def test_undeclared_is_listed_with_the_failures_in_the_table() -> None:
    text = " ".join(render([FINDINGS[0], UNDECLARED]).split())
    assert "UNDECLARED" in text and "param data_description missing or empty" in text
    assert "2 findings: 0 failed, 1 undeclared, 1 passed, 0 not applicable" in text
