"""A dataset card per dataset input of a model version's run, in the sections of the
Hugging Face dataset card, filled from the dataset's record (AI Act Art. 10(2), 10(3),
10(5); GDPR Art. 5(1)(c), 9, 30(1)(c)) and what MLflow keeps of the dataset (name,
digest, source, schema, profile). A field not declared is a gap with its article.

The card names the columns that identify a person, never a value of them: it holds no
personal data, only the record.
"""

from __future__ import annotations

from mlflow_compliance.reports.facts import DatasetFacts, VersionFacts
from mlflow_compliance.reports.markdown import fact, line, record_line, text, value_of
from mlflow_compliance.reports.model_card import NOT_LEGAL_ADVICE


def dataset_cards(facts: VersionFacts, name: str | None = None) -> dict[str, str]:
    """File name -> Markdown card, one per dataset input (only ``name``'s when given)."""
    cards = {}
    for d in facts.datasets:
        if name is not None and d.name != name:
            continue
        cards[_file_name(d, facts)] = dataset_card(d, facts)
    return cards


def _file_name(d: DatasetFacts, facts: VersionFacts) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in d.name)
    context = f"-{d.context}" if d.context else ""
    same = [o for o in facts.datasets if o.name == d.name and o.digest == d.digest]
    return f"{safe}-{d.digest}{context if len(same) > 1 else ''}.md"


def dataset_card(d: DatasetFacts, facts: VersionFacts) -> str:
    """The Markdown card of one dataset input of the version's run."""
    record = d.record
    personal = value_of(record, "compliance.gdpr.personal_data", dataset=True)
    none = ("the record declares no personal data (`compliance.gdpr.personal_data`)"
            if personal is False else None)
    special = bool(record and record.special_categories)
    lines = [f"# Dataset card: {text(d.name)}", "", f"*{NOT_LEGAL_ADVICE}*", ""]
    if d.record_problems:
        lines += ["**The dataset's record is not valid**, so no field below is read from it:",
                  *(f"- {text(p)}" for p in d.record_problems), ""]
    lines += [
        "## Dataset Details", "", "### Dataset Description", "",
        fact("Name", d.name, "dataset name"),
        fact("Digest", d.digest, "dataset digest"),
        fact("Used by", f"{facts.name} version {facts.version} (run {facts.run_id})",
             "model version run_id"),
        fact("Context", d.context, "dataset input tag mlflow.data.context", "not recorded"),
        line("Design choices", record, "compliance.dataset.design_choices", dataset=True),
        "", "### Dataset Sources", "",
        fact("Source type", d.source_type, "dataset source_type"),
        fact("Source", d.uri or d.source, "dataset source"),
        "", "## Uses", "", "### Direct Use", "",
        line("Suitability for the intended purpose", record, "compliance.dataset.suitability",
             dataset=True),
        record_line(facts, "Intended purpose of the model",
                    "compliance.ai_act.intended_purpose"),
        "", "### Out-of-Scope Use", "",
        "- not recorded: the dataset record has no field for uses out of scope.",
        "", "## Dataset Structure", "",
        fact("Rows", d.rows, "dataset profile num_rows"),
    ]
    if d.columns:
        lines += ["", "| column | type |", "|---|---|",
                  *(f"| {text(n)} | {text(t)} |" for n, t in d.columns)]
    else:
        lines.append("- **Columns:** not recorded (dataset schema)")
    lines += [
        "", "## Dataset Creation", "", "### Curation Rationale", "",
        line("Design choices", record, "compliance.dataset.design_choices", dataset=True),
        line("Assumptions", record, "compliance.dataset.assumptions", dataset=True),
        "", "### Source Data", "", "#### Data Collection and Processing", "",
        line("Origin", record, "compliance.dataset.origin", dataset=True),
        line("Preparation", record, "compliance.dataset.preparation", dataset=True),
        "", "### Personal and Sensitive Information", "",
        line("Personal data", record, "compliance.gdpr.personal_data", dataset=True),
        line("Categories of personal data", record, "compliance.gdpr.data_categories",
             dataset=True, not_applicable=none),
        line("Special categories", record, "compliance.gdpr.special_categories",
             dataset=True, not_applicable=none),
        line("Why special categories are needed", record,
             "compliance.dataset.special_category_justification", dataset=True,
             not_applicable=none or (None if special else "no special categories declared")),
        line("Columns identifying a person", record, "compliance.dataset.subject_id_columns",
             dataset=True, not_applicable=none),
        line("Minimisation", record, "compliance.dataset.minimisation", dataset=True,
             not_applicable=none),
        "", "## Bias, Risks, and Limitations", "",
        line("Bias examination", record, "compliance.dataset.bias_examination", dataset=True),
        line("Bias measures", record, "compliance.dataset.bias_measures", dataset=True),
        line("Data gaps", record, "compliance.dataset.gaps", dataset=True),
        line("Representativeness", record, "compliance.dataset.representativeness",
             dataset=True),
        "", "## Dataset Card Contact", "",
        record_line(facts, "Controller", "compliance.gdpr.controller_contact"),
        record_line(facts, "Data protection officer", "compliance.gdpr.dpo_contact"),
    ]
    return "\n".join(lines) + "\n"
