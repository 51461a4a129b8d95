"""Pack ``ai-act``, continued: data governance of a high-risk system (AI Act Art. 10).

Each dataset a run logs (``mlflow.log_input``) carries its own record on the input's
tags. A rule here checks one paragraph of Art. 10 on each dataset of a high-risk system:
on the dataset itself (a run's dataset input, high-risk when its run's record says so),
and on the model version, across every dataset of its source run, so the promotion gate
sees it. A missing declaration is undeclared; a dataset whose record is invalid, or
whose bias examination does not resolve, fails.
"""

from __future__ import annotations

from collections.abc import Callable

from mlflow_compliance.checks.model import DatasetRef, Kind, Outcome, Severity, Target
from mlflow_compliance.checks.references import problem as reference_problem
from mlflow_compliance.checks.rules import failed, not_applicable, passed, rule, undeclared
from mlflow_compliance.checks.rules.ai_act import high_risk
from mlflow_compliance.checks.rules.data import SPECIAL_CATEGORIES_TAG, dataset_value

DATASETS_AND_VERSIONS = (Kind.DATASET, Kind.MODEL_VERSION)
RUNS_AND_VERSIONS = (Kind.RUN, Kind.MODEL_VERSION)

# One dataset's problem: (a declaration is missing, what), or None when it passes.
DatasetCheck = Callable[[Target, DatasetRef], tuple[bool, str] | None]


def _system(target: Target) -> Target | None:
    """The target whose record says whether the system is high-risk: a dataset's run."""
    return target.run if target.kind is Kind.DATASET else target


def _over_datasets(target: Target, check: DatasetCheck, what: str) -> Outcome:
    """Run a per-dataset check on a high-risk system's datasets."""
    system = _system(target)
    gate = high_risk(system.record.ai_act if system and system.record else None)
    if isinstance(gate, Outcome):
        return gate
    if not target.datasets:
        return undeclared("no dataset logged (mlflow.log_input)")
    missing: list[str] = []
    wrong: list[str] = []
    for dataset in target.datasets:
        if dataset.record is None:
            wrong.append(f"dataset {dataset.name}: no valid dataset record "
                         "(see BASE-DATASET-RECORD)")
            continue
        found = check(target, dataset)
        if found is not None:
            (missing if found[0] else wrong).append(f"dataset {dataset.name}: {found[1]}")
    if wrong:
        return failed("; ".join(wrong + missing))
    if missing:
        return undeclared("; ".join(missing))
    names = ", ".join(d.name for d in target.datasets)
    return passed(f"{what} stated for {names}")


def _statement(tag: str) -> DatasetCheck:
    def check(target: Target, dataset: DatasetRef) -> tuple[bool, str] | None:
        return None if dataset_value(dataset, tag) else (True, f"no {tag}")

    return check


def _bias_examination(target: Target, dataset: DatasetRef) -> tuple[bool, str] | None:
    tag = "compliance.dataset.bias_examination"
    value = dataset_value(dataset, tag)
    if not value:
        return True, f"no {tag}"
    unresolved = reference_problem(target, tag, value)
    return (False, unresolved) if unresolved else None


@rule(
    id="AIACT-10-1-DATASETS",
    article="AI Act Art. 10(1)",
    severity=Severity.HIGH,
    applies_to=RUNS_AND_VERSIONS,
    title="Training, validation and test data logged",
    remediation=(
        "Log every training, validation and test dataset on the run with "
        "mlflow.log_input(dataset, context=..., tags={...}), its record in the tags."
    ),
)
def datasets_logged(target: Target) -> Outcome:
    """A high-risk system that is trained with data must be developed on training,
    validation and testing data sets that meet the quality criteria of Art. 10(2) to
    (5) (Art. 10(1)); none of them can be checked on data nobody logged. This rule
    requires a high-risk run (for a model version, its source run) to log its datasets."""
    gate = high_risk(target.record.ai_act if target.record else None)
    if isinstance(gate, Outcome):
        return gate
    if not target.datasets:
        return undeclared("no dataset logged (mlflow.log_input)")
    return passed(f"{len(target.datasets)} dataset(s): "
                  + ", ".join(d.name for d in target.datasets))


def _remediation(tag: str) -> str:
    return f"Set tag {tag} on each dataset input of the run the message names."


@rule(
    id="AIACT-10-2-A-DESIGN-CHOICES",
    article="AI Act Art. 10(2)(a)",
    severity=Severity.HIGH,
    applies_to=DATASETS_AND_VERSIONS,
    title="Design choices stated",
    remediation=_remediation("compliance.dataset.design_choices"),
)
def design_choices(target: Target) -> Outcome:
    """Data governance covers the relevant design choices (Art. 10(2)(a)): which data, at
    what granularity, for which part of the task. This rule requires every dataset of a
    high-risk system to state them in `compliance.dataset.design_choices`."""
    return _over_datasets(target, _statement("compliance.dataset.design_choices"), "design choices")


@rule(
    id="AIACT-10-2-B-ORIGIN",
    article="AI Act Art. 10(2)(b)",
    severity=Severity.HIGH,
    applies_to=DATASETS_AND_VERSIONS,
    title="Origin and collection stated",
    remediation=_remediation("compliance.dataset.origin"),
)
def origin(target: Target) -> Outcome:
    """Data governance covers the data collection processes and the origin of the data,
    and for personal data the original purpose of its collection (Art. 10(2)(b)). This
    rule requires every dataset of a high-risk system to state them in
    `compliance.dataset.origin`."""
    return _over_datasets(target, _statement("compliance.dataset.origin"), "origin")


@rule(
    id="AIACT-10-2-C-PREPARATION",
    article="AI Act Art. 10(2)(c)",
    severity=Severity.HIGH,
    applies_to=DATASETS_AND_VERSIONS,
    title="Preparation stated",
    remediation=_remediation("compliance.dataset.preparation"),
)
def preparation(target: Target) -> Outcome:
    """Data governance covers the preparation operations: annotation, labelling, cleaning,
    updating, enrichment and aggregation (Art. 10(2)(c)). This rule requires every dataset
    of a high-risk system to state them in `compliance.dataset.preparation`."""
    return _over_datasets(target, _statement("compliance.dataset.preparation"), "preparation")


@rule(
    id="AIACT-10-2-D-ASSUMPTIONS",
    article="AI Act Art. 10(2)(d)",
    severity=Severity.HIGH,
    applies_to=DATASETS_AND_VERSIONS,
    title="Assumptions stated",
    remediation=_remediation("compliance.dataset.assumptions"),
)
def assumptions(target: Target) -> Outcome:
    """Data governance covers the assumptions made, notably about what the data is meant to
    measure and represent (Art. 10(2)(d)). This rule requires every dataset of a
    high-risk system to state them in `compliance.dataset.assumptions`."""
    return _over_datasets(target, _statement("compliance.dataset.assumptions"), "assumptions")


@rule(
    id="AIACT-10-2-E-SUITABILITY",
    article="AI Act Art. 10(2)(e)",
    severity=Severity.HIGH,
    applies_to=DATASETS_AND_VERSIONS,
    title="Suitability assessed",
    remediation=_remediation("compliance.dataset.suitability"),
)
def suitability(target: Target) -> Outcome:
    """Data governance covers an assessment of the availability, quantity and suitability
    of the data sets needed (Art. 10(2)(e)). This rule requires every dataset of a
    high-risk system to state that assessment in `compliance.dataset.suitability`."""
    return _over_datasets(target, _statement("compliance.dataset.suitability"), "suitability")


@rule(
    id="AIACT-10-2-F-BIAS-EXAMINATION",
    article="AI Act Art. 10(2)(f)",
    severity=Severity.HIGH,
    applies_to=DATASETS_AND_VERSIONS,
    title="Bias examination on file",
    remediation=_remediation("compliance.dataset.bias_examination"),
)
def bias_examination(target: Target) -> Outcome:
    """Data governance covers an examination for possible biases that could affect
    health, safety or fundamental rights or lead to discrimination (Art. 10(2)(f)). This
    rule requires every dataset of a high-risk system to reference that examination in
    `compliance.dataset.bias_examination`, as an artifact the run has or an https URL."""
    return _over_datasets(target, _bias_examination, "bias examination")


@rule(
    id="AIACT-10-2-G-BIAS-MEASURES",
    article="AI Act Art. 10(2)(g)",
    severity=Severity.HIGH,
    applies_to=DATASETS_AND_VERSIONS,
    title="Bias measures stated",
    remediation=_remediation("compliance.dataset.bias_measures"),
)
def bias_measures(target: Target) -> Outcome:
    """Data governance covers the measures taken to detect, prevent and mitigate the
    biases found (Art. 10(2)(g)). This rule requires every dataset of a high-risk system
    to state them in `compliance.dataset.bias_measures`."""
    return _over_datasets(target, _statement("compliance.dataset.bias_measures"), "bias measures")


@rule(
    id="AIACT-10-2-H-GAPS",
    article="AI Act Art. 10(2)(h)",
    severity=Severity.HIGH,
    applies_to=DATASETS_AND_VERSIONS,
    title="Data gaps stated",
    remediation=_remediation("compliance.dataset.gaps"),
)
def gaps(target: Target) -> Outcome:
    """Data governance covers the data gaps or shortcomings that prevent compliance, and
    how they are addressed (Art. 10(2)(h)). This rule requires every dataset of a
    high-risk system to state them in `compliance.dataset.gaps`."""
    return _over_datasets(target, _statement("compliance.dataset.gaps"), "data gaps")


@rule(
    id="AIACT-10-3-REPRESENTATIVENESS",
    article="AI Act Art. 10(3)",
    severity=Severity.HIGH,
    applies_to=DATASETS_AND_VERSIONS,
    title="Representativeness stated",
    remediation=_remediation("compliance.dataset.representativeness"),
)
def representativeness(target: Target) -> Outcome:
    """Training, validation and testing data must be relevant, sufficiently representative
    and, to the best extent possible, free of errors and complete for the intended purpose
    (Art. 10(3)). This rule requires every dataset of a high-risk system to state how in
    `compliance.dataset.representativeness`."""
    tag = "compliance.dataset.representativeness"
    return _over_datasets(target, _statement(tag), "representativeness")


def _special_categories(target: Target, dataset: DatasetRef) -> tuple[bool, str] | None:
    listed = dataset_value(dataset, SPECIAL_CATEGORIES_TAG)
    if not listed:
        return None
    system = _system(target)
    ground = system.record.gdpr.special_category_ground if system and system.record else None
    missing = [] if dataset_value(dataset, "compliance.dataset.special_category_justification") \
        else ["compliance.dataset.special_category_justification"]
    missing += [] if ground else ["the run's compliance.gdpr.special_category_ground"]
    return (True, "special categories without " + " and ".join(missing)) if missing else None


@rule(
    id="AIACT-10-5-SPECIAL-CATEGORIES",
    article="AI Act Art. 10(5); GDPR Art. 9(2)",
    severity=Severity.CRITICAL,
    applies_to=DATASETS_AND_VERSIONS,
    title="Special categories in training data justified",
    remediation=(
        "Set tag compliance.dataset.special_category_justification on the dataset input and "
        "tag compliance.gdpr.special_category_ground on the run, or remove the special "
        "categories from the data."
    ),
)
def special_category_data(target: Target) -> Outcome:
    """A provider may process special categories of personal data for bias detection and
    correction only where strictly necessary and under the safeguards of Art. 10(5), and
    still needs an exception of GDPR Art. 9(2). This rule requires every dataset of a
    high-risk system that lists special categories to justify them, and the run's record
    to name its Art. 9(2) ground."""
    listed = any(dataset_value(d, SPECIAL_CATEGORIES_TAG) for d in target.datasets)
    valid = all(d.record is not None for d in target.datasets)
    if target.datasets and valid and not listed:
        system = _system(target)
        gate = high_risk(system.record.ai_act if system and system.record else None)
        return gate if isinstance(gate, Outcome) else not_applicable(
            "the dataset records list no special categories")
    return _over_datasets(target, _special_categories, "special categories justified")


RULES = [
    datasets_logged,
    design_choices,
    origin,
    preparation,
    assumptions,
    suitability,
    bias_examination,
    bias_measures,
    gaps,
    representativeness,
    special_category_data,
]
