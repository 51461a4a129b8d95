"""Pack ``baseline``: the seed tutorial's promises, checked.

The seed tags runs with `compliance` and `data_privacy`, describes the training data in
a `data_description` param, and switches on artifact encryption and access logging.
Written down is not done: these rules check that the minimum record is declared, that
each of those promises holds on the server and on every run, model version, dataset and
experiment, and that the server's evidence covers the run's whole life.
"""

from __future__ import annotations

from datetime import UTC, datetime

from mlflow_compliance.checks.model import Kind, Outcome, Severity, Target
from mlflow_compliance.checks.rules import (
    failed,
    not_applicable,
    passed,
    rule,
    undeclared,
)
from mlflow_compliance.client.runs import DATA_DESCRIPTION_PARAM
from mlflow_compliance.record import is_placeholder, missing_fields
from mlflow_compliance.record.tags import SEED_TAGS, check_tag
from mlflow_compliance.settings import (
    ACCESS_LOGGING_ENV,
    ARTIFACT_ENCRYPTION_ENV,
    MIN_RETENTION_DAYS,
    REQUIRED_RECORD_ENV,
    RETENTION_ENV,
)

RUNS_AND_VERSIONS = (Kind.RUN, Kind.MODEL_VERSION)
MIN_DESCRIPTION_WORDS = 3


@rule(
    id="BASE-MINIMUM-RECORD",
    article="GDPR Art. 5(2); AI Act Art. 11(1)",
    severity=Severity.HIGH,
    applies_to=RUNS_AND_VERSIONS,
    title="Minimum record declared",
    remediation=(
        "Set every tag the message lists, for example in the project's compliance.toml "
        f"(the server's {REQUIRED_RECORD_ENV} says which tags are required)."
    ),
)
def minimum_record(target: Target) -> Outcome:
    """The controller must be able to show how data is processed (GDPR Art. 5(2)), and a
    high-risk system's technical documentation must be drawn up before it is placed on the
    market (AI Act Art. 11(1)); neither can be judged on a run that declares nothing. This
    rule requires the minimum record the server's policy names (by default
    `compliance.gdpr.personal_data` and `compliance.ai_act.risk_class`) on every run and
    model version, and says undeclared listing each tag that is missing."""
    required = target.policy.required
    if not required:
        return passed("the server's policy requires no tag")
    missing = missing_fields(target.tags, required)
    if missing:
        return undeclared(f"missing required tag {', '.join(missing)}")
    return passed(f"declares {', '.join(required)}")


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
    and Art. 30(1) asks for a record of that processing. This rule looks for the seed's
    two tags, `compliance` (which regulations apply) and `data_privacy`, and checks that
    all `compliance.*` tags together form a valid compliance record: no placeholder, no
    contradiction between fields."""
    missing = [tag for tag in SEED_TAGS if not target.tags.get(tag, "").strip()]
    if target.record_problems:
        problems = [f"invalid {problem}" for problem in target.record_problems]
        problems += [f"missing tag {', '.join(missing)}"] if missing else []
        return failed("; ".join(problems))
    if missing:
        return undeclared(f"missing tag {', '.join(missing)}")
    return passed(
        f"compliance={target.tags['compliance']}, data_privacy={target.tags['data_privacy']}"
    )


def _day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).date().isoformat()


@rule(
    id="BASE-ENCRYPTION-AT-REST",
    article="GDPR Art. 32(1)(a)",
    severity=Severity.HIGH,
    applies_to=RUNS_AND_VERSIONS,
    title="Artifacts encrypted at rest, since before the run",
    remediation=(
        f"Run the tracking server as mlflow-compliance server with {ARTIFACT_ENCRYPTION_ENV}"
        "=true (its default), which encrypts every artifact it stores, and re-run training "
        "runs that started before encryption was on."
    ),
)
def encryption_at_rest(target: Target) -> Outcome:
    """GDPR Art. 32(1)(a) asks for security appropriate to the risk, naming encryption
    first; models and datasets logged as artifacts can contain or reveal personal data.
    This rule asks the tracking server whether it encrypts artifacts at rest and since
    when, and fails a run (for a model version, its source run) that started before then,
    because its artifacts may have been stored in plaintext; a server that does not say
    (plain MLflow) fails."""
    server = target.server
    if server.artifact_encryption is None:
        return failed("the server does not report artifact encryption")
    if not server.artifact_encryption:
        return failed("artifact encryption is off")
    since = server.encrypted_since
    if since is None:
        return failed("artifact encryption is on, but the server does not say since when")
    if target.started <= 0:
        return failed(f"the start of the training run is unknown: it may hold artifacts "
                      f"written before encryption was on (since {_day(since)})")
    if target.started < since:
        return failed(f"the run started on {_day(target.started)}: it may hold artifacts "
                      f"written before encryption was on (since {_day(since)})")
    return passed(f"the server reports artifact encryption on since {_day(since)}, "
                  "before the run started")


@rule(
    id="BASE-ACCESS-LOGGING",
    article="GDPR Art. 5(1)(f), 32(1)(b), 32(1)(d); AI Act Art. 17(1)(k)",
    severity=Severity.HIGH,
    applies_to=RUNS_AND_VERSIONS,
    title="Access to runs and models is logged, the log kept six months",
    remediation=(
        f"Run the tracking server as mlflow-compliance server with {ACCESS_LOGGING_ENV}=true "
        f"(its default) and {RETENTION_ENV} of at least {MIN_RETENTION_DAYS}."
    ),
)
def access_logging(target: Target) -> Outcome:
    """Integrity and confidentiality (GDPR Art. 5(1)(f)) and the ability to ensure and
    regularly verify them (Art. 32(1)(b), 32(1)(d)) need a record of who read or changed
    model data, and a provider's quality management keeps records of its work (AI Act Art.
    17(1)(k)). This rule asks the tracking server whether it logs every access and for how
    many days it keeps that audit log, and requires at least 183; a server that does not
    say (plain MLflow) fails."""
    server = target.server
    if server.access_logging is None:
        return failed("the server does not report access logging")
    if not server.access_logging:
        return failed("access logging is off")
    days = server.audit_retention_days
    if days is None:
        return failed("the server does not report how long it keeps the audit log")
    if days < MIN_RETENTION_DAYS:
        return failed(f"audit log kept {days} days, fewer than {MIN_RETENTION_DAYS}")
    return passed(f"the server reports access logging on, audit log kept {days} days")


@rule(
    id="BASE-DATA-DESCRIPTION",
    article="GDPR Art. 30(1)(c); AI Act Annex IV 2(d)",
    severity=Severity.MEDIUM,
    applies_to=RUNS_AND_VERSIONS,
    title="Training data described",
    remediation=(
        f"Log param {DATA_DESCRIPTION_PARAM} describing the data the model was trained on "
        "(what it is, where it comes from, whether it holds personal data)."
    ),
)
def data_description(target: Target) -> Outcome:
    """GDPR Art. 30(1)(c) asks what categories of data are processed, and the technical
    documentation of AI Act Annex IV 2(d) describes the training data. This rule looks for
    the seed's `data_description` param on the run (for a model version, on its source
    run) and requires a real description: at least three words, not a placeholder."""
    text = target.params.get(DATA_DESCRIPTION_PARAM, "").strip()
    if not text:
        return undeclared(f"param {DATA_DESCRIPTION_PARAM} missing or empty")
    if is_placeholder(text) or len(text.split()) < MIN_DESCRIPTION_WORDS:
        return failed(f"param {DATA_DESCRIPTION_PARAM} {text[:60]!r} describes nothing: "
                      f"a placeholder or fewer than {MIN_DESCRIPTION_WORDS} words")
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
    id="BASE-DATASET-RECORD",
    article="GDPR Art. 5(2); AI Act Art. 10(2)",
    severity=Severity.HIGH,
    applies_to=(Kind.DATASET,),
    title="Dataset record valid",
    remediation=(
        "Correct every compliance.* tag of the dataset input the message names "
        "(mlflow.log_input(dataset, context=..., tags={...}))."
    ),
)
def dataset_record(target: Target) -> Outcome:
    """A dataset carries its own record on the tags of the run's dataset input: whether it
    holds personal data, and how it was collected, prepared and examined for bias (AI Act
    Art. 10(2)). This rule checks that those tags together form a valid dataset record, no
    placeholder and no contradiction, so the controller can show what the data is (GDPR
    Art. 5(2))."""
    problems = [f"dataset {d.name}: invalid {p}" for d in target.datasets
                for p in d.record_problems]
    if problems:
        return failed("; ".join(problems))
    if not target.datasets:
        return not_applicable("no dataset")
    return passed("; ".join(f"{d.name}: valid dataset record" for d in target.datasets))


@rule(
    id="BASE-EXPERIMENT-REGULATIONS",
    article="GDPR Art. 2, 3; AI Act Art. 2",
    severity=Severity.LOW,
    applies_to=(Kind.EXPERIMENT,),
    title="Experiment says which regulations apply",
    remediation=(
        "Set tag compliance on the experiment to a comma-separated list of GDPR, AI Act "
        "(mlflow.set_experiment_tag('compliance', 'GDPR'))."
    ),
)
def experiment_regulations(target: Target) -> Outcome:
    """Which laws apply follows from their scope, GDPR Art. 2 (material) and 3
    (territorial) and AI Act Art. 2, and is decided per project, before the first run; the
    experiment is where MLflow keeps a project's runs. This rule looks for the
    `compliance` tag on the experiment and requires it to name GDPR, the AI Act or both,
    so a reviewer knows which obligations the runs below must meet."""
    value = target.tags.get("compliance", "").strip()
    if not value:
        return undeclared("tag compliance missing on the experiment")
    problem = check_tag("compliance", value)
    if problem is not None:
        return failed(f"invalid {problem}")
    return passed(f"regulations: {value}")


RULES = [
    minimum_record,
    compliance_tags,
    encryption_at_rest,
    access_logging,
    data_description,
    dataset_source,
    dataset_record,
    experiment_regulations,
]
