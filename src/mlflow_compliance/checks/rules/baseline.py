"""Pack ``baseline``: the seed tutorial's promises, checked.

The seed tags runs with `compliance` and `data_privacy`, describes the training data in
a `data_description` param, and switches on artifact encryption and access logging.
Written down is not done: these rules check that each of those holds on the server and
on every run, model version, dataset and experiment.
"""

from __future__ import annotations

from mlflow_compliance.checks.model import Kind, Outcome, Severity, Target
from mlflow_compliance.checks.rules import failed, not_applicable, passed, rule
from mlflow_compliance.client.runs import DATA_DESCRIPTION_PARAM
from mlflow_compliance.record.tags import SEED_TAGS, check_tag
from mlflow_compliance.settings import ACCESS_LOGGING_ENV, ARTIFACT_ENCRYPTION_ENV

RUNS_AND_VERSIONS = (Kind.RUN, Kind.MODEL_VERSION)


@rule(
    id="BASE-COMPLIANCE-TAGS",
    article="GDPR Art. 5(2), 30(1)",
    severity=Severity.HIGH,
    applies_to=RUNS_AND_VERSIONS,
    title="Compliance tags present and valid",
    remediation=(
        "Set tag compliance (e.g. GDPR) and tag data_privacy (enabled or disabled), or put "
        "them in the project's compliance.toml, and correct every compliance.* tag the "
        "message names."
    ),
)
def compliance_tags(target: Target) -> Outcome:
    """GDPR Art. 5(2) makes the controller answerable for showing how data is processed,
    and Art. 30 asks for a record of that processing. This rule looks for the seed's two
    tags, `compliance` (which regulations apply) and `data_privacy`, and checks that all
    `compliance.*` tags together form a valid compliance record."""
    missing = [tag for tag in SEED_TAGS if not target.tags.get(tag, "").strip()]
    problems = [f"missing tag {', '.join(missing)}"] if missing else []
    problems += [f"invalid {problem}" for problem in target.record_problems]
    if problems:
        return failed("; ".join(problems))
    return passed(
        f"compliance={target.tags['compliance']}, data_privacy={target.tags['data_privacy']}"
    )


def _server_switch(on: bool | None, what: str) -> Outcome:
    if on is None:
        return failed(f"the server does not report {what}")
    return passed(f"the server reports {what} on") if on else failed(f"{what} is off")


@rule(
    id="BASE-ENCRYPTION-AT-REST",
    article="GDPR Art. 32(1)(a)",
    severity=Severity.HIGH,
    applies_to=(Kind.RUN,),
    title="Artifacts encrypted at rest",
    remediation=(
        f"Run the tracking server as mlflow-compliance server with {ARTIFACT_ENCRYPTION_ENV}"
        "=true (its default), which encrypts every artifact it stores."
    ),
)
def encryption_at_rest(target: Target) -> Outcome:
    """GDPR Art. 32 asks for security appropriate to the risk, naming encryption first.
    Models and datasets logged as artifacts can contain or reveal personal data. This
    rule asks the tracking server whether it encrypts artifacts at rest; a server that
    does not say (plain MLflow) fails."""
    return _server_switch(target.server.artifact_encryption, "artifact encryption")


@rule(
    id="BASE-ACCESS-LOGGING",
    article="GDPR Art. 5(2), 32(1)(b); AI Act Art. 12",
    severity=Severity.HIGH,
    applies_to=(Kind.RUN,),
    title="Access to runs and models is logged",
    remediation=(
        f"Run the tracking server as mlflow-compliance server with {ACCESS_LOGGING_ENV}=true "
        "(its default), which writes every request to the audit log."
    ),
)
def access_logging(target: Target) -> Outcome:
    """To answer who read or changed model data, GDPR Art. 5(2) and 32 call for access
    records, and AI Act Art. 12 asks high-risk systems to log events automatically. This
    rule asks the tracking server whether it logs every access; a server that does not
    say (plain MLflow) fails."""
    return _server_switch(target.server.access_logging, "access logging")


@rule(
    id="BASE-DATA-DESCRIPTION",
    article="GDPR Art. 30(1)(c); AI Act Art. 10(2)",
    severity=Severity.MEDIUM,
    applies_to=RUNS_AND_VERSIONS,
    title="Training data described",
    remediation=(
        f"Log param {DATA_DESCRIPTION_PARAM} describing the data the model was trained on "
        "(what it is, where it comes from, whether it holds personal data)."
    ),
)
def data_description(target: Target) -> Outcome:
    """GDPR Art. 30 asks what categories of data are processed, and AI Act Art. 10 asks
    that training data be documented. This rule looks for the seed's `data_description`
    param on the run (for a model version, on its source run) and requires it to be
    non-empty."""
    text = target.params.get(DATA_DESCRIPTION_PARAM, "").strip()
    if not text:
        return failed(f"param {DATA_DESCRIPTION_PARAM} missing or empty")
    return passed(f"param {DATA_DESCRIPTION_PARAM} set ({len(text)} characters)")


@rule(
    id="BASE-DATASET-SOURCE",
    article="AI Act Art. 10(2)(b); GDPR Art. 14(2)(f)",
    severity=Severity.MEDIUM,
    applies_to=(Kind.DATASET,),
    title="Dataset source recorded",
    remediation=(
        "Log the dataset with its source, e.g. mlflow.log_input(mlflow.data.from_pandas(df, "
        "source='s3://bucket/train.csv')), so MLflow records its source_type and source."
    ),
)
def dataset_source(target: Target) -> Outcome:
    """AI Act Art. 10(2)(b) asks how training data was collected and where it comes from,
    and GDPR Art. 14(2)(f) obliges telling data subjects from which source their data
    came. This rule looks at each dataset input of a run and requires MLflow's record of
    it to name a source type and a source."""
    if not target.datasets:
        return not_applicable("no dataset")
    problems = []
    for d in target.datasets:
        absent = [name for name, value in (("source_type", d.source_type), ("source", d.source))
                  if not value.strip()]
        if absent:
            problems.append(f"dataset {d.name}: no {' and no '.join(absent)}")
    if problems:
        return failed("; ".join(problems))
    return passed("; ".join(f"{d.name}: {d.source_type} source" for d in target.datasets))


@rule(
    id="BASE-EXPERIMENT-REGULATIONS",
    article="GDPR Art. 5(2); AI Act Art. 11",
    severity=Severity.LOW,
    applies_to=(Kind.EXPERIMENT,),
    title="Experiment says which regulations apply",
    remediation=(
        "Set tag compliance on the experiment to a comma-separated list of GDPR, AI Act "
        "(mlflow.set_experiment_tag('compliance', 'GDPR'))."
    ),
)
def experiment_regulations(target: Target) -> Outcome:
    """Which laws apply is decided per project, before the first run; the experiment is
    where MLflow keeps a project's runs. This rule looks for the `compliance` tag on the
    experiment and requires it to name GDPR, the AI Act or both, so a reviewer knows
    which obligations the runs below must meet."""
    value = target.tags.get("compliance", "").strip()
    if not value:
        return failed("tag compliance missing on the experiment")
    problem = check_tag("compliance", value)
    if problem is not None:
        return failed(f"invalid {problem}")
    return passed(f"regulations: {value}")


RULES = [
    compliance_tags,
    encryption_at_rest,
    access_logging,
    data_description,
    dataset_source,
    experiment_regulations,
]
