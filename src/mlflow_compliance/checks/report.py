"""What ``mlflow-compliance check`` prints: a terminal table, JSON, JUnit XML and SARIF.

Every format is built from the same list of findings (one per rule and target the rule
applies to). ``undeclared`` (a declaration the rule needs is missing) fails like ``fail``
in every format: a JUnit failure, a SARIF error, an UNDECLARED row among the table's
failures. The machine formats are returned as pure-ASCII text (non-ASCII as JSON ``\\u``
escapes or XML character references), so they read the same whatever encoding the file
they are written to uses.

- JSON follows ``schemas/check-report.schema.json`` (shipped with the package, see
  :func:`json_schema`).
- JUnit XML has one ``<testsuite>`` per target kind (runs, experiments, datasets, model
  versions): a finding knows its target's kind but not the pack its rule came from, and
  rule packs from ``.toml`` files or other packages follow no id convention that would
  give the pack back. Within a suite, ``classname`` is ``<kind>.<rule id>`` so Jenkins
  shows a package per kind and a class per rule, with one test case per target.
- SARIF 2.1.0 has one run, every rule given in ``tool.driver.rules`` and one result per
  failure, located by a logical location (``<kind>/<id>``) since findings have no file.
"""

from __future__ import annotations

import hashlib
import json
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from importlib.resources import files
from typing import Any

from rich.table import Table
from rich.text import Text

from mlflow_compliance.checks.model import FAILING, Finding, Kind, Rule, Severity, Status

TOOL_NAME = "mlflow-compliance"
JSON_SCHEMA_RESOURCE = "schemas/check-report.schema.json"
SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
SARIF_FINGERPRINT = "mlflowCompliance/v1"  # partialFingerprints key; bump if the hash changes
# not_applicable findings are listed in the table only when there are at most this many
NOT_APPLICABLE_SHOWN = 10

_SEVERITY_RANK = {Severity.CRITICAL: 0, Severity.HIGH: 1, Severity.MEDIUM: 2, Severity.LOW: 3}
_SARIF_LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
}
_KIND_LABEL = {
    Kind.RUN: "runs",
    Kind.EXPERIMENT: "experiments",
    Kind.DATASET: "datasets",
    Kind.MODEL_VERSION: "model versions",
}
# Characters XML 1.0 cannot carry at all, not even as character references.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def tool_version() -> str:
    try:
        return version(TOOL_NAME)
    except PackageNotFoundError:  # run from a source tree that is not installed
        return "0+unknown"


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) that :func:`to_json`'s output follows."""
    text = files("mlflow_compliance.checks").joinpath(JSON_SCHEMA_RESOURCE).read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def summary(findings: Sequence[Finding]) -> dict[str, Any]:
    """Counts per status (every status present, zeros included), the total, and
    ``passed``: no finding failed or is undeclared."""
    counts = Counter(f.status for f in findings)
    result: dict[str, Any] = {"total": len(findings)}
    result.update({status.value: counts.get(status, 0) for status in Status})
    result["passed"] = not any(counts.get(status, 0) for status in FAILING)
    return result


def failing(findings: Sequence[Finding]) -> int:
    """How many findings fail: ``fail`` and ``undeclared``."""
    return sum(f.status.failing for f in findings)


# --- JSON ------------------------------------------------------------------------------


def to_json(findings: Sequence[Finding], rules: Sequence[Rule], meta: Mapping[str, Any]) -> str:
    """The report as JSON: the tool, the server and packs checked (``meta["server"]``,
    ``meta["packs"]``), the summary, the rules that ran and every finding.

    Indented, with one finding per line: a whole server gives hundreds of thousands of
    findings, which the json module's indenting (pure Python) writes twice as slowly as
    its C encoder writes them line by line."""
    report = {
        "tool": {"name": TOOL_NAME, "version": tool_version()},
        "server": str(meta["server"]),
        "packs": [str(p) for p in meta["packs"]],
        "summary": summary(findings),
        "rules": [
            {
                "id": r.id,
                "title": r.title,
                "article": r.article,
                "severity": r.severity.value,
                "applies_to": sorted(k.value for k in r.applies_to),
            }
            for r in rules
        ],
    }
    if not findings:
        return json.dumps({**report, "findings": []}, indent=2)
    encode = json.JSONEncoder().encode
    lines = ",\n    ".join(encode(f.as_dict()) for f in findings)
    return json.dumps(report, indent=2)[:-2] + f',\n  "findings": [\n    {lines}\n  ]\n}}'


# --- JUnit XML -------------------------------------------------------------------------


def _xml(text: str) -> str:
    """Text XML can carry: characters it forbids (control characters, lone surrogates)
    become a visible ``\\xNN``/``\\uNNNN`` escape instead of breaking the document."""
    return _NOT_XML.sub(lambda m: ascii(m.group())[1:-1], text)


def _case_name(f: Finding) -> str:
    if f.target_name and f.target_name != f.target_id:
        return f"{f.rule_id} {f.target_name} ({f.target_id})"
    return f"{f.rule_id} {f.target_id}"


def _shown_message(f: Finding) -> str:
    """A failing finding's message, with ``undeclared:`` before a missing declaration."""
    return f"undeclared: {f.message}" if f.status is Status.UNDECLARED else f.message


def _failure_text(f: Finding) -> str:
    return (
        f"{_shown_message(f)}\n\n"
        f"rule: {f.rule_id} ({f.article}, severity {f.severity.value})\n"
        f"target: {f.target_kind.value} {f.target_name} ({f.target_id})\n"
        f"remediation: {f.remediation}"
    )


def to_junit(findings: Sequence[Finding]) -> str:
    """JUnit XML (the Ant/Jenkins shape Jenkins, GitLab and GitHub reporters read): one
    test suite per target kind, one test case per finding; a failure is ``<failure>``
    (type = severity; an undeclared one's message starts ``undeclared:``),
    not_applicable is ``<skipped>``, a pass carries its message in
    ``<system-out>``. ``errors`` is always 0: a rule that breaks stops the check."""
    root = ET.Element("testsuites", name=TOOL_NAME)
    for kind in Kind:
        group = [f for f in findings if f.target_kind is kind]
        if not group:
            continue
        counts = Counter(f.status for f in group)
        suite = ET.SubElement(
            root,
            "testsuite",
            name=f"{TOOL_NAME}: {_KIND_LABEL[kind]}",
            tests=str(len(group)),
            failures=str(sum(counts.get(s, 0) for s in FAILING)),
            errors="0",
            skipped=str(counts.get(Status.NOT_APPLICABLE, 0)),
            time="0",
        )
        for f in group:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=_xml(f"{kind.value}.{f.rule_id}"),
                name=_xml(_case_name(f)),
                time="0",
            )
            if f.status.failing:
                failure = ET.SubElement(
                    case, "failure", message=_xml(_shown_message(f)), type=f.severity.value
                )
                failure.text = _xml(_failure_text(f))
            elif f.status is Status.NOT_APPLICABLE:
                ET.SubElement(case, "skipped", message=_xml(f.message))
            else:
                ET.SubElement(case, "system-out").text = _xml(f.message)
    counts = Counter(f.status for f in findings)
    root.set("tests", str(len(findings)))
    root.set("failures", str(sum(counts.get(s, 0) for s in FAILING)))
    root.set("errors", "0")
    root.set("time", "0")
    ET.indent(root)
    return ET.tostring(root, encoding="us-ascii", xml_declaration=True).decode("ascii")


# --- SARIF -----------------------------------------------------------------------------


def _pascal(rule_id: str) -> str:
    """A rule id as SARIF's end-user rule name: GDPR-6-LAWFUL-BASIS -> Gdpr6LawfulBasis."""
    return "".join(p.capitalize() for p in re.split(r"[^0-9A-Za-z]+", rule_id) if p)


def _descriptor(
    rule_id: str, article: str, severity: Severity, title: str = "", doc: str = "",
    remediation: str = "",
) -> dict[str, Any]:
    descriptor: dict[str, Any] = {"id": rule_id}
    if name := _pascal(rule_id):
        descriptor["name"] = name
    if title:
        descriptor["shortDescription"] = {"text": title}
    if doc:
        descriptor["fullDescription"] = {"text": doc}
    if remediation:
        descriptor["help"] = {"text": remediation}
    descriptor["defaultConfiguration"] = {"level": _SARIF_LEVEL[severity]}
    descriptor["properties"] = {"article": article, "severity": severity.value}
    return descriptor


def fingerprint(f: Finding) -> str:
    """Stable across checks: the same rule failing on the same target hashes the same."""
    key = "\x00".join((f.rule_id, f.target_kind.value, f.target_id))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def to_sarif(findings: Sequence[Finding], rules: Sequence[Rule]) -> str:
    """SARIF 2.1.0: every rule in ``tool.driver.rules``, a result per failing finding
    (a failure: level error for high and critical, warning for medium, note for low; an
    undeclared finding: always error), its status in ``properties``."""
    descriptors = [
        _descriptor(r.id, r.article, r.severity, r.title, r.doc, r.remediation) for r in rules
    ]
    index = {r.id: i for i, r in enumerate(rules)}
    results = []
    for f in findings:
        if not f.status.failing:
            continue
        if f.rule_id not in index:  # a finding of a rule not passed in: describe it anyway
            index[f.rule_id] = len(descriptors)
            descriptors.append(_descriptor(f.rule_id, f.article, f.severity))
        results.append({
            "ruleId": f.rule_id,
            "ruleIndex": index[f.rule_id],
            "level": "error" if f.status is Status.UNDECLARED else _SARIF_LEVEL[f.severity],
            "message": {"text": f"{f.target_kind.value} {f.target_name}: {_shown_message(f)}"},
            "locations": [{
                "logicalLocations": [{
                    "name": f.target_name or f.target_id,
                    "fullyQualifiedName": f"{f.target_kind.value}/{f.target_id}",
                    "kind": f.target_kind.value,
                }],
            }],
            "partialFingerprints": {SARIF_FINGERPRINT: fingerprint(f)},
            "properties": {"article": f.article, "severity": f.severity.value,
                           "status": f.status.value},
        })
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {"name": TOOL_NAME, "version": tool_version(), "rules": descriptors},
            },
            "results": results,
        }],
    }
    return json.dumps(log, indent=2)


# --- terminal table --------------------------------------------------------------------

_STATUS_STYLE = {Status.FAIL: "bold red", Status.UNDECLARED: "bold red", Status.PASS: "green",
                 Status.NOT_APPLICABLE: "dim"}
_STATUS_LABEL = {Status.FAIL: "FAIL", Status.UNDECLARED: "UNDECLARED", Status.PASS: "pass",
                 Status.NOT_APPLICABLE: "n/a"}


def _target_cell(f: Finding) -> Text:
    text = Text(f"{f.target_kind.value} ", style="dim")
    text.append(f.target_name or f.target_id)
    if f.target_name and f.target_name != f.target_id:
        text.append(f"\n{f.target_id}", style="dim")
    return text


def _status_cell(status: Status) -> Text:
    return Text(_STATUS_LABEL[status], style=_STATUS_STYLE[status])


def table(findings: Sequence[Finding]) -> Table:
    """Failures first (most severe first; undeclared ones fail too), then per rule how
    many targets passed; the
    not_applicable findings are listed only when there are few of them. Every text from
    a finding goes in as plain text, never as rich markup."""
    counts = summary(findings)
    out = Table(title="Compliance check", title_justify="left", caption_justify="left")
    for column in ("status", "severity", "rule", "article", "target", "message"):
        out.add_column(column, overflow="fold")
    failures = sorted(
        (f for f in findings if f.status.failing),
        key=lambda f: (_SEVERITY_RANK[f.severity], f.rule_id, f.target_kind.value,
                       f.target_name, f.target_id),
    )
    for f in failures:
        out.add_row(
            _status_cell(f.status), Text(f.severity.value), Text(f.rule_id), Text(f.article),
            _target_cell(f), Text(f.message),
        )
    passes: dict[str, list[Finding]] = {}
    for f in findings:
        if f.status is Status.PASS:
            passes.setdefault(f.rule_id, []).append(f)
    if failures and passes:
        out.add_section()
    for rule_id, group in passes.items():
        kinds = Counter(f.target_kind for f in group)
        targets = ", ".join(
            f"{n} {k.value.replace('_', ' ')}{'s' if n != 1 else ''}" for k, n in kinds.items()
        )
        out.add_row(
            _status_cell(Status.PASS), Text(group[0].severity.value), Text(rule_id),
            Text(group[0].article), Text(targets), Text(f"passed on {len(group)}", style="dim"),
        )
    not_applicable = [f for f in findings if f.status is Status.NOT_APPLICABLE]
    if 0 < len(not_applicable) <= NOT_APPLICABLE_SHOWN:
        out.add_section()
        for f in not_applicable:
            out.add_row(
                _status_cell(f.status), Text(f.severity.value), Text(f.rule_id),
                Text(f.article), _target_cell(f), Text(f.message),
            )
    caption = (f"{counts['total']} findings: {counts[Status.FAIL.value]} failed, "
               f"{counts[Status.UNDECLARED.value]} undeclared, "
               f"{counts[Status.PASS.value]} passed, "
               f"{counts[Status.NOT_APPLICABLE.value]} not applicable")
    if len(not_applicable) > NOT_APPLICABLE_SHOWN:
        caption += " (not listed)"
    if failures:
        by_severity = Counter(f.severity for f in failures)
        worst_first = sorted(by_severity, key=lambda s: _SEVERITY_RANK[s])
        caption += " - failures by severity: " + ", ".join(
            f"{by_severity[s]} {s.value}" for s in worst_first
        )
    out.caption = caption
    return out
