"""The model card of a model version, in the sections of the Hugging Face model card.

Each line is filled from the version's facts with the tag or MLflow field it came
from; a field the record does not declare is written as a gap naming the article that
asks for it (AI Act Art. 11(1), 13(3), Annex IV; GDPR Art. 5(2), 30(1)). Nothing is
invented: a section MLflow and the record hold nothing for says so.
"""

from __future__ import annotations

from mlflow_compliance.record.schema import DpiaStatus, RiskClass
from mlflow_compliance.reports.facts import DatasetFacts, VersionFacts
from mlflow_compliance.reports.markdown import fact, line, record_line, text, value_of, when

NOT_LEGAL_ADVICE = ("Written by mlflow-compliance from what MLflow and the compliance "
                    "record hold; it records evidence and is not legal advice.")


def model_card(facts: VersionFacts) -> str:
    """The Markdown model card of the version."""
    sections = [
        _title(facts), _details(facts), _uses(facts), _risks(facts), _training(facts),
        _evaluation(facts), _environmental(), _technical(facts), _data_protection(facts),
        _contact(facts), _missing(facts),
    ]
    return "\n\n".join(s.rstrip() for s in sections if s) + "\n"


def _title(facts: VersionFacts) -> str:
    lines = [f"# Model card: {text(facts.name)} version {text(facts.version)}", "",
             f"*{NOT_LEGAL_ADVICE}*"]
    if facts.record_problems:
        lines += ["", "**The compliance record is not valid**, so no field below is read "
                  "from it:", *(f"- {text(p)}" for p in facts.record_problems)]
    return "\n".join(lines)


def _details(facts: VersionFacts) -> str:
    record = facts.record
    risk = value_of(record, "compliance.ai_act.risk_class")
    return "\n".join([
        "## Model Details", "", "### Model Description", "",
        fact("Model", facts.name, "registered model"),
        fact("Version", facts.version, "model version"),
        fact("Description", facts.model_description, "registered model description"),
        fact("Version description", facts.description, "model version description"),
        record_line(facts, "Provider / controller", "compliance.gdpr.controller_contact"),
        fact("Model type", ", ".join(facts.flavors), "MLmodel flavors",
             "not readable"),
        record_line(facts, "Regulations", "compliance"),
        record_line(facts, "AI Act risk class", "compliance.ai_act.risk_class"),
        record_line(facts, "Annex III area", "compliance.ai_act.annex_iii_area",
                    not_applicable=None if risk in (None, RiskClass.HIGH)
                    else f"risk class {risk.value}, not high-risk"),
        record_line(facts, "Art. 50 transparency obligations",
             "compliance.ai_act.transparency_obligations"),
        "", "### Model Sources", "",
        fact("Source", facts.source, "model version source"),
        fact("Logged model", facts.model_id, "model version source"),
        fact("Training run", f"{facts.run_name} ({facts.run_id})" if facts.run_name
             else facts.run_id, "model version run_id", "none"),
        fact("Status", facts.status, "model version status"),
        fact("Registered", when(facts.created), "model version creation_timestamp"),
        fact("Last updated", when(facts.updated), "model version last_updated_timestamp"),
        fact("Aliases", ", ".join(facts.aliases), "registered model aliases", "none"),
    ])


def _uses(facts: VersionFacts) -> str:
    return "\n".join([
        "## Uses", "", "### Direct Use", "",
        record_line(facts, "Intended purpose", "compliance.ai_act.intended_purpose"),
        record_line(facts, "Purpose of the processing", "compliance.gdpr.purpose"),
        record_line(facts, "Instructions for use", "compliance.ai_act.instructions_for_use"),
        record_line(facts, "Human oversight measures", "compliance.ai_act.oversight_measures"),
        record_line(facts, "Human overseer (deployer)", "compliance.ai_act.human_overseer"),
        record_line(facts, "Automated decisions", "compliance.gdpr.automated_decisions"),
        "", "### Out-of-Scope Use", "",
        "- not recorded: the compliance record has no field for uses out of scope; the "
        "instructions for use above must state them (AI Act Art. 13(3)(b)(iii)).",
    ])


def _risks(facts: VersionFacts) -> str:
    lines = [
        "## Bias, Risks, and Limitations", "",
        record_line(facts, "Risk management", "compliance.ai_act.risk_management_reference"),
        record_line(facts, "Evaluation groups", "compliance.ai_act.evaluation_groups"),
        record_line(facts, "Special categories of personal data",
             "compliance.gdpr.special_categories",
             not_applicable=_no_personal_data(facts)),
    ]
    for d in facts.datasets:
        lines += ["", f"### Dataset {text(d.ref)}", "",
                  line("Bias examination", d.record, "compliance.dataset.bias_examination",
                       dataset=True),
                  line("Bias measures", d.record, "compliance.dataset.bias_measures",
                       dataset=True),
                  line("Data gaps", d.record, "compliance.dataset.gaps", dataset=True)]
    if not facts.datasets:
        lines += ["- **Datasets:** none logged (`mlflow.log_input`; AI Act Art. 10(2))"]
    return "\n".join(lines)


def _training(facts: VersionFacts) -> str:
    lines = ["## Training Details", "", "### Training Data", "",
             fact("Data description", facts.data_description, "run param data_description",
                  "not recorded")]
    trained = [d for d in facts.datasets if not d.tested_on]
    lines += [_dataset_line(d) for d in trained] or [
        "- **Datasets:** no training dataset logged on the run (`mlflow.log_input`; AI Act "
        "Art. 10(2), Annex IV 2(d))"]
    lines += ["", "### Training Procedure", "", "#### Preprocessing", ""]
    lines += [line(f"{text(d.ref)}", d.record, "compliance.dataset.preparation", dataset=True)
              for d in trained] or ["- no training dataset logged"]
    lines += ["", "#### Training Hyperparameters", ""]
    lines += [f"- `{text(k)}` = {text(v)} (run param)" for k, v in facts.hyperparameters.items()]
    if not facts.hyperparameters:
        lines.append("- no params logged on the run")
    return "\n".join(lines)


def _dataset_line(d: DatasetFacts) -> str:
    where = f", source {text(d.uri)}" if d.uri else ""
    rows = f", {d.rows} rows" if d.rows is not None else ""
    context = f", context {text(d.context)}" if d.context else ""
    return f"- **{text(d.ref)}** ({text(d.source_type or 'source type not recorded')}" \
           f"{where}{rows}{context}; dataset input)"


def _evaluation(facts: VersionFacts) -> str:
    record = facts.record
    tested = [d for d in facts.datasets if d.tested_on]
    lines = ["## Evaluation", "", "### Testing Data, Factors & Metrics", "",
             "#### Testing Data", ""]
    lines += [_dataset_line(d) for d in tested] or [
        "- no dataset logged with context eval, evaluation, test, testing or validation "
        "(AI Act Art. 10(1), Annex IV 2(g))"]
    lines += ["", "#### Factors", "",
              record_line(facts, "Evaluation groups", "compliance.ai_act.evaluation_groups"),
              "", "#### Metrics", "",
              record_line(facts, "Declared accuracy levels", "compliance.ai_act.metric_thresholds"),
              "", "### Results", ""]
    thresholds = {t.metric: t for t in facts.thresholds}
    if facts.overall_metrics:
        lines += ["| metric | value | declared level | met |", "|---|---|---|---|"]
        for key, value in facts.overall_metrics.items():
            t = thresholds.get(key)
            lines.append(f"| {text(key)} | {value:g} | {text(t) if t else ''} | "
                         f"{('yes' if t.met(value) else 'no') if t else ''} |")
    else:
        lines.append("- no metrics logged on the run (AI Act Art. 15(3))")
    for t in facts.thresholds:
        if t.metric not in facts.metrics:
            lines.append(f"- **{text(t)}:** declared, but `{text(t.metric)}` is not logged "
                         "(AI Act Art. 15(3))")
    if facts.group_metrics:
        lines += ["", "#### Per group (AI Act Art. 13(3)(b)(v))", "",
                  "| metric | group | value |", "|---|---|---|"]
        lines += [f"| {text(g.metric)} | {text(g.group)} | {g.value:g} |"
                  for g in facts.group_metrics]
    elif value_of(record, "compliance.ai_act.evaluation_groups"):
        lines += ["", "- no per-group metric logged as `<metric>/<group>` "
                  "(AI Act Art. 13(3)(b)(v))"]
    return "\n".join(lines)


def _environmental() -> str:
    return "\n".join(["## Environmental Impact", "",
                      "- not recorded: MLflow and the compliance record hold no energy, "
                      "hardware-hours or emissions figures."])


def _technical(facts: VersionFacts) -> str:
    lines = ["## Technical Specifications", "", "### Model Architecture and Objective", "",
             fact("Flavors", ", ".join(facts.flavors), "MLmodel", "not readable"),
             "", "### Compute Infrastructure", "", "#### Software", "",
             fact("Python", facts.python_version, "MLmodel / python_env.yaml",
                  "not readable")]
    if facts.environment:
        lines += ["", "| library | version | from |", "|---|---|---|"]
        lines += [f"| {text(p.name)} | {text(p.version or 'not pinned')} | {text(p.source)} |"
                  for p in facts.environment]
    else:
        lines.append("- **Libraries:** not readable (requirements.txt, conda.yaml of the "
                     "model; AI Act Annex IV 2(a))")
    return "\n".join(lines)


def _no_personal_data(facts: VersionFacts) -> str | None:
    if value_of(facts.record, "compliance.gdpr.personal_data") is False:
        return "the record declares no personal data (`compliance.gdpr.personal_data`)"
    return None


def _data_protection(facts: VersionFacts) -> str:
    record = facts.record
    none = _no_personal_data(facts)
    gdpr = record.gdpr if record else None
    special = bool(gdpr and gdpr.special_categories)
    transfers = bool(gdpr and gdpr.transfers_outside_eu)
    completed = bool(gdpr and gdpr.dpia_status is DpiaStatus.COMPLETED)
    return "\n".join([
        "## Data Protection", "",
        record_line(facts, "Personal data", "compliance.gdpr.personal_data"),
        record_line(facts, "Data privacy safeguards", "data_privacy"),
        record_line(facts, "Categories of personal data", "compliance.gdpr.data_categories",
             not_applicable=none),
        record_line(facts, "Categories of data subjects", "compliance.gdpr.data_subject_categories",
             not_applicable=none),
        record_line(facts, "Art. 9(2) ground", "compliance.gdpr.special_category_ground",
             not_applicable=none or (None if special else "no special categories declared")),
        record_line(facts, "Lawful basis", "compliance.gdpr.lawful_basis", not_applicable=none),
        record_line(facts, "Retention period", "compliance.gdpr.retention_period",
             not_applicable=none),
        record_line(facts, "Erase by", "compliance.gdpr.retention_until", not_applicable=none),
        record_line(facts, "Recipients", "compliance.gdpr.recipients", not_applicable=none),
        record_line(facts, "Transfers outside the EEA", "compliance.gdpr.transfers_outside_eu",
             not_applicable=none),
        record_line(facts, "Transfer safeguard", "compliance.gdpr.transfer_safeguard",
             not_applicable=none or (None if transfers else "no transfer declared")),
        record_line(facts, "DPIA status", "compliance.gdpr.dpia_status", not_applicable=none),
        record_line(facts, "DPIA", "compliance.gdpr.dpia_reference", not_applicable=none),
        record_line(facts, "DPIA completed on", "compliance.gdpr.dpia_completed_on",
             not_applicable=none or (None if completed else "DPIA not completed")),
        record_line(facts, "Event logs kept", "compliance.ai_act.event_log_retention"),
    ])


def _contact(facts: VersionFacts) -> str:
    return "\n".join(["## Model Card Contact", "",
                      record_line(facts, "Controller", "compliance.gdpr.controller_contact"),
                      record_line(facts, "Data protection officer", "compliance.gdpr.dpo_contact")])


def _missing(facts: VersionFacts) -> str:
    if not facts.missing:
        return ""
    return "\n".join(["## Not readable", "",
                      *(f"- {text(m)}" for m in facts.missing)])

