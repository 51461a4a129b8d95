"""The technical documentation of a high-risk AI system (AI Act Art. 11(1), Annex IV) for
one model version: the nine points of Annex IV, in its numbering, filled from what MLflow
and the compliance record hold.

Every entry cites the Annex IV point and the article that asks for it. A record field
left empty is a gap naming its tag; what the record has no field for (the harmonised
standards of point 7, the EU declaration of conformity of point 8, the post-market
monitoring plan of point 9, ...) is a gap marked "to be completed by the provider",
never filled with invented text. The outline is rendered here as Markdown, by
``annex_iv_html`` as HTML and by ``annex_iv_pdf`` as PDF.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from mlflow_compliance.reports.annex_iv_facts import Lifecycle
from mlflow_compliance.reports.facts import DatasetFacts, VersionFacts
from mlflow_compliance.reports.markdown import field, shown, text, value_of, when
from mlflow_compliance.reports.model_card import NOT_LEGAL_ADVICE

TO_COMPLETE = "to be completed by the provider"
HISTORIES = "Metric histories"  # the entry the PDF draws the charts after


class State(StrEnum):
    DECLARED = "declared"  # a record field's value
    RECORDED = "recorded"  # what MLflow itself holds
    GAP = "gap"
    NOT_APPLICABLE = "not applicable"
    NOT_READABLE = "not readable"


@dataclass(frozen=True)
class Entry:
    """One item of the documentation: its value and where it came from, or its gap."""

    label: str
    cite: str  # the Annex IV point and the article, e.g. "Annex IV 1(a); AI Act Art. 3(12)"
    state: State
    value: str  # the value, or for a gap (and the like) what is missing and why
    source: str = ""  # the tag or MLflow field it came from

    @property
    def is_gap(self) -> bool:
        return self.state is State.GAP


@dataclass(frozen=True)
class Table:
    caption: str
    cite: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    empty: str  # said instead when there is no row


@dataclass(frozen=True)
class Heading:
    title: str
    level: int = 3  # 3: an Annex IV sub-point, 4: a dataset within one


Block = Entry | Table | Heading


@dataclass(frozen=True)
class Section:
    number: int
    title: str
    cite: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Outline:
    name: str
    version: str
    updated: int  # ms: the version's last update, the document's date
    sections: tuple[Section, ...]
    record_problems: tuple[str, ...]
    missing: tuple[str, ...]  # what could not be read
    charts: dict[str, tuple[tuple[int, float], ...]]  # metric -> history (Annex IV 2(g))

    @property
    def title(self) -> str:
        return f"Technical documentation (AI Act Annex IV): {self.name} version {self.version}"

    @property
    def gaps(self) -> list[Entry]:
        return [b for s in self.sections for b in s.blocks
                if isinstance(b, Entry) and b.is_gap]


def _cite(point: str, article: str) -> str:
    return article if point in article else f"{point}; {article}"


def _field(facts: VersionFacts, label: str, point: str, tag: str,
           not_applicable: str | None = None) -> Entry:
    """A field of the version's own record (see markdown.record_line)."""
    article = field(tag).article
    cite = _cite(point, article)
    value = value_of(facts.record, tag)
    if value is not None:
        return Entry(label, cite, State.DECLARED, shown(value), tag)
    if facts.unread:
        return Entry(label, cite, State.NOT_READABLE, f"may be on {facts.unread}", tag)
    if not_applicable:
        return Entry(label, cite, State.NOT_APPLICABLE, not_applicable, tag)
    return Entry(label, cite, State.GAP, "not declared", tag)


def _dataset_field(d: DatasetFacts, label: str, point: str, tag: str) -> Entry:
    cite = _cite(point, field(tag, dataset=True).article)
    value = value_of(d.record, tag, dataset=True)
    if value is not None:
        return Entry(label, cite, State.DECLARED, shown(value), tag)
    return Entry(label, cite, State.GAP, "not declared", tag)


def _fact(label: str, cite: str, value: object, source: str, missing: str = "") -> Entry:
    if value in (None, "", (), []):
        return Entry(label, cite, State.GAP, missing or "not recorded in MLflow", source)
    return Entry(label, cite, State.RECORDED, str(value), source)


def _provider(label: str, cite: str, what: str) -> Entry:
    """What the record has no field for: a gap for the provider to fill."""
    return Entry(label, cite, State.GAP,
                 f"not recorded: the compliance record has no field for {what}; {TO_COMPLETE}")


def annex_iv(facts: VersionFacts, lifecycle: Lifecycle) -> Outline:
    """The Annex IV outline of the version, from its facts and its lifecycle."""
    sections = (_general(facts), _development(facts, lifecycle), _monitoring(facts),
                _metrics(facts), _risk(facts), _changes(facts, lifecycle),
                _standards(), _declaration(), _post_market(facts))
    missing = [str(m) for m in facts.missing]
    if lifecycle.versions is None:
        missing.append("the model's versions: not readable")
    if lifecycle.signoffs is None:
        missing.append("the version's sign-offs (model-versions/approvals): not readable")
    return Outline(facts.name, facts.version, facts.updated, sections, facts.record_problems,
                   tuple(missing), dict(lifecycle.histories))


def _general(facts: VersionFacts) -> Section:
    point = "Annex IV 1"
    return Section(1, "General description of the AI system", point, (
        _field(facts, "Intended purpose", "Annex IV 1(a)", "compliance.ai_act.intended_purpose"),
        _provider("Provider", "Annex IV 1(a); AI Act Art. 3(3), 16(b)",
                  "the provider's name and address"),
        _field(facts, "Controller (GDPR)", "Annex IV 1(a)", "compliance.gdpr.controller_contact"),
        _fact("Model and version", "Annex IV 1(a); AI Act Art. 11(1)",
              f"{facts.name} version {facts.version}", "registered model and version"),
        _fact("Relation to previous versions", "Annex IV 1(a); AI Act Art. 11(1)",
              "point 6 lists every version of the registered model", "model registry"),
        _fact("Description", "Annex IV 1(a); AI Act Art. 11(1)",
              facts.description or facts.model_description, "model version description"),
        _field(facts, "Risk class", "Annex IV 1(a)", "compliance.ai_act.risk_class"),
        _field(facts, "Annex III area", "Annex IV 1(a)", "compliance.ai_act.annex_iii_area"),
        _provider("Interaction with other hardware, software or AI systems",
                  "Annex IV 1(b); AI Act Art. 11(1)", "the systems it interacts with"),
        _fact("Python", "Annex IV 1(c); AI Act Art. 11(1)", facts.python_version,
              "MLmodel / python_env.yaml", "not readable"),
        _fact("Model flavors", "Annex IV 1(c); AI Act Art. 11(1)", ", ".join(facts.flavors),
              "MLmodel", "not readable"),
        Table("Software and versions", "Annex IV 1(c); AI Act Art. 11(1)",
              ("library", "version", "from"),
              tuple((p.name, p.version or "not pinned", p.source) for p in facts.environment),
              "libraries not readable (requirements.txt, conda.yaml of the model)"),
        _provider("Requirements related to version updates", "Annex IV 1(c); AI Act Art. 11(1)",
                  "update requirements"),
        _provider("Forms in which it is placed on the market or put into service",
                  "Annex IV 1(d); AI Act Art. 11(1)",
                  "the forms of distribution (package, download, API)"),
        _provider("Hardware it is intended to run on", "Annex IV 1(e); AI Act Art. 11(1)",
                  "the target hardware"),
        _provider("Product photographs, marking and layout (where a component of products)",
                  "Annex IV 1(f); AI Act Art. 11(1)", "products the system is part of"),
        _provider("User interface provided to the deployer", "Annex IV 1(g); AI Act Art. 11(1)",
                  "the user interface"),
        _field(facts, "Instructions for use", "Annex IV 1(h)",
               "compliance.ai_act.instructions_for_use"),
    ))


def _development(facts: VersionFacts, lifecycle: Lifecycle) -> Section:
    params = facts.params
    blocks: list[Block] = [
        Heading("2(a) Methods and steps of development"),
        _fact("Training run", "Annex IV 2(a); AI Act Art. 11(1)",
              f"{facts.run_name} ({facts.run_id})" if facts.run_name else facts.run_id,
              "model version run_id", "none"),
        _fact("Approach", "Annex IV 2(a); AI Act Art. 11(1)",
              params.get("approach") or params.get("learning_type"), "run param approach"),
        _fact("Data description", "Annex IV 2(a), 2(d); AI Act Art. 10(2)",
              facts.data_description, "run param data_description"),
        Table("Hyperparameters", "Annex IV 2(a), 2(b); AI Act Art. 11(1)", ("param", "value"),
              tuple(facts.hyperparameters.items()), "no params logged on the run"),
        _provider("Pre-trained systems or third-party tools used",
                  "Annex IV 2(a); AI Act Art. 11(1)", "pre-trained systems"),
        Heading("2(b) Design specifications"),
        _fact("Task", "Annex IV 2(b); AI Act Art. 11(1)", params.get("task"), "run param task"),
        _provider("General logic, key design choices, optimisation goal and trade-offs",
                  "Annex IV 2(b); AI Act Art. 11(1)", "the model's design choices"),
        Heading("2(c) System architecture and computational resources"),
        _fact("Architecture", "Annex IV 2(c); AI Act Art. 11(1)",
              params.get("model_architecture") or params.get("architecture"),
              "run param model_architecture"),
        _fact("Model flavors", "Annex IV 2(c); AI Act Art. 11(1)", ", ".join(facts.flavors),
              "MLmodel", "not readable"),
        _provider("Computational resources used to develop, train, test and validate",
                  "Annex IV 2(c); AI Act Art. 11(1)", "computational resources"),
        Heading("2(d) Data requirements and datasheets"),
    ]
    for d in facts.datasets:
        blocks += _datasheet(d)
    if not facts.datasets:
        blocks.append(Entry("Datasets", "Annex IV 2(d); AI Act Art. 10(2)", State.GAP,
                            "none logged on the run (mlflow.log_input)"))
    blocks += [
        Heading("2(e) Human oversight measures"),
        _field(facts, "Human oversight measures", "Annex IV 2(e)",
               "compliance.ai_act.oversight_measures"),
        _field(facts, "Human overseer (deployer)", "Annex IV 2(e)",
               "compliance.ai_act.human_overseer"),
        _field(facts, "Automated decisions", "Annex IV 2(e)",
               "compliance.gdpr.automated_decisions"),
        Heading("2(f) Pre-determined changes"),
        _provider("Pre-determined changes to the system and its performance",
                  "Annex IV 2(f); AI Act Art. 43(4)", "pre-determined changes"),
        Heading("2(g) Validation and testing"),
        *_validation(facts, lifecycle),
        Heading("2(h) Cybersecurity"),
        _provider("Cybersecurity measures", "Annex IV 2(h); AI Act Art. 15(5)",
                  "the system's cybersecurity measures"),
    ]
    return Section(2, "Elements of the AI system and its development", "Annex IV 2",
                   tuple(blocks))


DATASHEET = (  # (label, tag), AI Act Art. 10(2)-(5) and the GDPR
    ("Design choices", "compliance.dataset.design_choices"),
    ("Provenance", "compliance.dataset.origin"),
    ("Preparation", "compliance.dataset.preparation"),
    ("Assumptions", "compliance.dataset.assumptions"),
    ("Availability, quantity and suitability", "compliance.dataset.suitability"),
    ("Bias examination", "compliance.dataset.bias_examination"),
    ("Bias measures", "compliance.dataset.bias_measures"),
    ("Data gaps", "compliance.dataset.gaps"),
    ("Representativeness", "compliance.dataset.representativeness"),
    ("Personal data", "compliance.gdpr.personal_data"),
    ("Categories of personal data", "compliance.gdpr.data_categories"),
    ("Special categories", "compliance.gdpr.special_categories"),
    ("Minimisation", "compliance.dataset.minimisation"),
)


def _datasheet(d: DatasetFacts) -> list[Block]:
    cite = "Annex IV 2(d); AI Act Art. 10(2)"
    rows = f", {d.rows} rows" if d.rows is not None else ""
    blocks: list[Block] = [
        Heading(f"Dataset {d.ref}", 4),
        _fact("Source", cite, f"{d.source_type or 'source type not recorded'}"
              f"{', ' + d.uri if d.uri else ''}{rows}", "dataset input"),
        _fact("Context", cite, d.context, "dataset input tag mlflow.data.context"),
        _fact("Columns", cite, ", ".join(f"{n} ({t})" for n, t in d.columns),
              "dataset schema", "no schema logged"),
    ]
    blocks += [_dataset_field(d, label, "Annex IV 2(d)", tag) for label, tag in DATASHEET]
    blocks += [Entry("Record problem", cite, State.GAP, p) for p in d.record_problems]
    return blocks


def _validation(facts: VersionFacts, lifecycle: Lifecycle) -> list[Block]:
    cite = "Annex IV 2(g); AI Act Art. 15(3)"
    tested = [d for d in facts.datasets if d.tested_on]
    thresholds = {t.metric: t for t in facts.thresholds}
    metrics = tuple(
        (key, f"{value:g}", str(thresholds[key]) if key in thresholds else "",
         ("yes" if thresholds[key].met(value) else "no") if key in thresholds else "")
        for key, value in facts.overall_metrics.items())
    blocks: list[Block] = [
        _fact("Testing data", "Annex IV 2(g); AI Act Art. 10(1)",
              ", ".join(d.ref for d in tested), "dataset inputs with a test context",
              "no dataset logged with context eval, evaluation, test, testing or validation"),
        _field(facts, "Declared accuracy levels", "Annex IV 2(g)",
               "compliance.ai_act.metric_thresholds"),
        _field(facts, "Evaluation groups", "Annex IV 2(g)",
               "compliance.ai_act.evaluation_groups"),
        Table("Metrics (latest value)", cite, ("metric", "value", "declared level", "met"),
              metrics, "no metrics logged on the run"),
    ]
    blocks += [Entry(f"Declared level {t}", cite, State.GAP,
                     f"declared, but {t.metric} is not logged")
               for t in facts.thresholds if t.metric not in facts.metrics]
    if facts.group_metrics or value_of(facts.record, "compliance.ai_act.evaluation_groups"):
        blocks.append(Table(
            "Per-group results", "Annex IV 2(g), 3; AI Act Art. 13(3)(b)(v)",
            ("metric", "group", "value"),
            tuple((g.metric, g.group, f"{g.value:g}") for g in facts.group_metrics),
            "no per-group metric logged as <metric>/<group>"))
    blocks.append(_fact(HISTORIES, "Annex IV 2(g); AI Act Art. 11(1)",
                        ", ".join(sorted(lifecycle.histories)),
                        "run metric history, plotted in the PDF",
                        "no metric logged at more than one step"))
    blocks.append(Entry("Test reports dated and signed", "Annex IV 2(g); AI Act Art. 17(1)(d)",
                        State.RECORDED if lifecycle.signoffs else State.GAP,
                        f"{len(lifecycle.signoffs)} sign-off(s), listed in point 6"
                        if lifecycle.signoffs else "no sign-off of this version (point 6)",
                        "model-versions/approvals"))
    return blocks


def _monitoring(facts: VersionFacts) -> Section:
    trained = [d for d in facts.datasets if not d.tested_on]
    inputs = sorted({n for d in trained for n, _ in d.columns})
    limitations = "; ".join(f"{d.ref}: {shown(value_of(d.record, 'compliance.dataset.gaps', True))}"
                            for d in facts.datasets
                            if value_of(d.record, "compliance.dataset.gaps", True))
    return Section(3, "Monitoring, functioning and control", "Annex IV 3", (
        _field(facts, "Expected accuracy (declared levels)", "Annex IV 3",
               "compliance.ai_act.metric_thresholds"),
        _field(facts, "Groups of persons accuracy is given for", "Annex IV 3",
               "compliance.ai_act.evaluation_groups"),
        _fact("Per-group accuracy", "Annex IV 3; AI Act Art. 13(3)(b)(v)",
              "; ".join(f"{g.metric}/{g.group} = {g.value:g}" for g in facts.group_metrics),
              "run metrics <metric>/<group>", "no per-group metric logged"),
        _fact("Limitations (data gaps)", "Annex IV 3; AI Act Art. 10(2)(h), 13(3)(b)(iii)",
              limitations, "the datasets' compliance.dataset.gaps", "none declared"),
        _provider("Foreseeable unintended outcomes and sources of risk",
                  "Annex IV 3; AI Act Art. 9(2)(a)-(b), 13(3)(b)(iii)",
                  "unintended outcomes (the risk management documentation of point 5 may)"),
        _field(facts, "Human oversight measures", "Annex IV 3",
               "compliance.ai_act.oversight_measures"),
        _fact("Input data (training columns)", "Annex IV 3; AI Act Art. 13(3)(b)(vi)",
              ", ".join(inputs), "training datasets' schemas", "no training dataset schema"),
        _field(facts, "Event logs kept", "Annex IV 3", "compliance.ai_act.event_log_retention"),
    ))


def _metrics(facts: VersionFacts) -> Section:
    return Section(4, "Appropriateness of the performance metrics", "Annex IV 4", (
        _field(facts, "Metrics and declared levels", "Annex IV 4",
               "compliance.ai_act.metric_thresholds"),
        _provider("Why these metrics are appropriate for the system",
                  "Annex IV 4; AI Act Art. 15(1), 15(3)", "the rationale of the metrics"),
    ))


def _risk(facts: VersionFacts) -> Section:
    return Section(5, "Risk management system", "Annex IV 5; AI Act Art. 9", (
        _field(facts, "Risk management documentation", "Annex IV 5",
               "compliance.ai_act.risk_management_reference"),
        _field(facts, "Risk class", "Annex IV 5", "compliance.ai_act.risk_class"),
        _field(facts, "Data protection impact assessment", "Annex IV 5",
               "compliance.gdpr.dpia_reference"),
        _field(facts, "DPIA status", "Annex IV 5", "compliance.gdpr.dpia_status"),
    ))


def _changes(facts: VersionFacts, lifecycle: Lifecycle) -> Section:
    cite = "Annex IV 6; AI Act Art. 11(1)"
    blocks: list[Block] = []
    if lifecycle.versions is None:
        blocks.append(Entry("Versions", cite, State.NOT_READABLE,
                            "the registered model's versions could not be read"))
    else:
        blocks.append(Table("Versions of the model", cite,
                            ("version", "registered", "last updated", "status", "aliases",
                             "run", "description"),
                            tuple((c.version + (" (this one)" if c.version == facts.version
                                                else ""),
                                   when(c.created), when(c.updated), c.status,
                                   ", ".join(c.aliases), c.run_id, c.description)
                                  for c in lifecycle.versions), "no version"))
    sign = "Annex IV 2(g), 6; AI Act Art. 17(1)(b)-(d)"
    if lifecycle.signoffs is None:
        blocks.append(Entry("Sign-offs", sign, State.NOT_READABLE,
                            "model-versions/approvals could not be read"))
    else:
        blocks.append(Table("Sign-offs of this version", sign,
                            ("approver", "signed at", "evidence digest (SHA-256)",
                             "signature", "note"),
                            tuple((s.approver, s.approved_at, s.record_digest,
                                   "valid" if s.signature_valid else "INVALID", s.note)
                                  for s in lifecycle.signoffs),
                            "no sign-off of this version (mlflow-compliance signoffs add)"))
    blocks.append(_provider("Description of the changes between versions", cite,
                            "what changed between versions"))
    return Section(6, "Changes through the lifecycle", "Annex IV 6", tuple(blocks))


def _standards() -> Section:
    return Section(7, "Harmonised standards applied", "Annex IV 7", (
        _provider("Harmonised standards applied", "Annex IV 7; AI Act Art. 40(1)",
                  "the harmonised standards applied"),
        _provider("Other solutions, standards and specifications (where none applied)",
                  "Annex IV 7; AI Act Art. 40(1), 41(1)", "other standards applied"),
    ))


def _declaration() -> Section:
    return Section(8, "EU declaration of conformity", "Annex IV 8; AI Act Art. 47", (
        _provider("EU declaration of conformity", "Annex IV 8; AI Act Art. 47(1)",
                  "the EU declaration of conformity"),
    ))


def _post_market(facts: VersionFacts) -> Section:
    return Section(9, "Post-market monitoring", "Annex IV 9; AI Act Art. 72", (
        _provider("Post-market monitoring plan", "Annex IV 9; AI Act Art. 72(1)-(3)",
                  "the post-market monitoring plan"),
        _field(facts, "Event logs kept", "Annex IV 9",
               "compliance.ai_act.event_log_retention"),
    ))


# --- Markdown ---------------------------------------------------------------------------

HOW_TO_EXTEND = (f"Entries marked \"{TO_COMPLETE}\" are what the compliance record has no "
                 "field for: the provider completes them in its copy of this outline.")


def annex_iv_markdown(outline: Outline) -> str:
    """The outline as Markdown."""
    lines = [f"# {text(outline.title)}", "", f"*{NOT_LEGAL_ADVICE}*", "",
             f"Date: {when(outline.updated)} (the version's last update). {HOW_TO_EXTEND} "
             f"Gaps: {len(outline.gaps)}."]
    if outline.record_problems:
        lines += ["", "**The compliance record is not valid**, so no field below is read "
                  "from it:", *(f"- {text(p)}" for p in outline.record_problems)]
    for section in outline.sections:
        lines += ["", f"## {section.number}. {text(section.title)} ({section.cite})", ""]
        for block in section.blocks:
            lines += _markdown(block)
    if outline.missing:
        lines += ["", "## Not readable", "", *(f"- {text(m)}" for m in outline.missing)]
    return "\n".join(lines).replace("\n\n\n", "\n\n") + "\n"


def entry_text(entry: Entry) -> str:
    """An entry's value as a reader reads it, with its source or what it misses."""
    if entry.state in (State.DECLARED, State.RECORDED):
        return f"{entry.value} ({entry.source})" if entry.source else entry.value
    if entry.state is State.GAP and entry.value == "not declared":
        return f"not declared: {entry.source}"
    if entry.state is State.NOT_READABLE and entry.source:
        return f"not readable: {entry.source} {entry.value}"
    if entry.state is State.NOT_APPLICABLE:
        return f"not applicable: {entry.value}"
    return entry.value + (f" ({entry.source})" if entry.source else "")


def _markdown(block: Block) -> list[str]:
    if isinstance(block, Heading):
        return ["", f"{'#' * block.level} {text(block.title)}", ""]
    if isinstance(block, Entry):
        return [f"- **{text(block.label)}** ({text(block.cite)}): {_entry_markdown(block)}"]
    lines = ["", f"**{text(block.caption)}** ({text(block.cite)})", ""]
    if not block.rows:
        return [*lines, f"- {text(block.empty)}", ""]
    lines += ["| " + " | ".join(text(h) for h in block.header) + " |",
              "|" + "---|" * len(block.header)]
    lines += ["| " + " | ".join(text(c) for c in row) + " |" for row in block.rows]
    return [*lines, ""]


def _entry_markdown(entry: Entry) -> str:
    tag = f"`{text(entry.source)}`"
    if entry.state is State.DECLARED:
        return f"{text(entry.value)} ({tag})"
    if entry.state is State.GAP and entry.value == "not declared":
        return f"not declared: {tag}"
    if entry.state is State.NOT_READABLE and entry.source:
        return f"not readable: {tag} {text(entry.value)}"
    return text(entry_text(entry))
