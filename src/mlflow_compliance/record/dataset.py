"""The record a dataset carries: AI Act Art. 10 data governance and GDPR Art. 5(1)(c), 9.

Stored as tags on an MLflow dataset *input* (``mlflow.log_input(dataset, context=...,
tags={...})``), so each use of a dataset by a run says what the data is, where it came
from and how it was examined for bias. The run's own record must agree with it (a run
that uses a personal-data dataset cannot declare ``personal_data = false``); that
cross-record rule is the checks', this model only refuses contradictions within itself.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, model_validator

from mlflow_compliance.record.schema import SpecialCategory, contradiction, record_field
from mlflow_compliance.record.values import Label, Reference, Statement


class DatasetRecord(BaseModel):
    """What a team keeps about one dataset used for training, validation or testing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    personal_data: bool | None = record_field(
        "compliance.gdpr.personal_data",
        "GDPR Art. 4(1)",
        "Whether the dataset includes personal data.",
    )
    data_categories: list[Label] | None = record_field(
        "compliance.gdpr.data_categories",
        "GDPR Art. 30(1)(c)",
        "Categories of personal data in the dataset, e.g. contact details, income.",
    )
    special_categories: list[SpecialCategory] | None = record_field(
        "compliance.gdpr.special_categories",
        "GDPR Art. 9(1)",
        "Special categories of personal data in the dataset, if any.",
    )
    design_choices: Statement | None = record_field(
        "compliance.dataset.design_choices",
        "AI Act Art. 10(2)(a)",
        "The relevant design choices behind the dataset.",
    )
    origin: Statement | None = record_field(
        "compliance.dataset.origin",
        "AI Act Art. 10(2)(b); GDPR Art. 14(2)(f)",
        "Where the data comes from, how it was collected and, for personal data, the "
        "original purpose of its collection.",
    )
    preparation: Statement | None = record_field(
        "compliance.dataset.preparation",
        "AI Act Art. 10(2)(c)",
        "The preparation steps: annotation, labelling, cleaning, updating, enrichment, "
        "aggregation.",
    )
    assumptions: Statement | None = record_field(
        "compliance.dataset.assumptions",
        "AI Act Art. 10(2)(d)",
        "The assumptions made about what the data measures and represents.",
    )
    suitability: Statement | None = record_field(
        "compliance.dataset.suitability",
        "AI Act Art. 10(2)(e)",
        "The availability, quantity and suitability of the data for the intended purpose.",
    )
    bias_examination: Reference | None = record_field(
        "compliance.dataset.bias_examination",
        "AI Act Art. 10(2)(f)",
        "Where the examination for possible biases is: an artifact of the run or an https "
        "URL.",
    )
    bias_measures: Statement | None = record_field(
        "compliance.dataset.bias_measures",
        "AI Act Art. 10(2)(g)",
        "The measures taken to detect, prevent and mitigate the biases found.",
    )
    gaps: Statement | None = record_field(
        "compliance.dataset.gaps",
        "AI Act Art. 10(2)(h)",
        "The data gaps or shortcomings found, and how they are addressed.",
    )
    representativeness: Statement | None = record_field(
        "compliance.dataset.representativeness",
        "AI Act Art. 10(3)",
        "How far the data is relevant, representative, free of errors and complete for "
        "the persons or groups the system is meant for.",
    )
    special_category_justification: Statement | None = record_field(
        "compliance.dataset.special_category_justification",
        "AI Act Art. 10(5); GDPR Art. 9(2)",
        "Why special categories are strictly necessary for bias detection and correction, "
        "and the safeguards applied.",
    )
    minimisation: Statement | None = record_field(
        "compliance.dataset.minimisation",
        "GDPR Art. 5(1)(c)",
        "Why the data is adequate, relevant and limited to what the purpose needs.",
    )
    subject_id_columns: list[Label] | None = record_field(
        "compliance.dataset.subject_id_columns",
        "GDPR Art. 4(1), 4(5)",
        "The columns that identify a data subject, directly or as a pseudonym.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> DatasetRecord:
        problems = self.contradictions()
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def contradictions(self) -> list[str]:
        """Where this record says two things that cannot both be true."""
        found: list[str] = []
        if self.personal_data is False:
            for tag, value in (
                ("compliance.gdpr.data_categories", self.data_categories),
                ("compliance.gdpr.special_categories", self.special_categories),
                ("compliance.dataset.subject_id_columns", self.subject_id_columns),
            ):
                if value:
                    found.append(contradiction(
                        tag, "set while compliance.gdpr.personal_data is false; it describes "
                        "personal data: set personal_data = true or remove it",
                    ))
        if self.special_category_justification and not self.special_categories:
            found.append(contradiction(
                "compliance.dataset.special_category_justification",
                "set without compliance.gdpr.special_categories; name the special "
                "categories it justifies",
            ))
        return found

