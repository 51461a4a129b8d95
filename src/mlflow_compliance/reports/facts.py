"""What the documents of a model version are written from, read once with the MLflow client.

Every document (model card, dataset cards, CycloneDX, SPDX) says only what MLflow and
the compliance record hold: the registered model, the version, its source run (params,
latest metrics, tags and the record parsed by the checks' own reader), the run's dataset
inputs with their records, per-group metrics (``<metric>/<group>``, AI Act Art.
13(3)(b)(v)), the declared thresholds (Art. 15(3)) and the Python environment the model
was logged with (Annex IV 2(a) and 2(e): the software and its versions). What the
caller may not read, or what is not there, is listed in ``missing``, never guessed.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from mlflow.entities import Run
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
from mlflow.tracking import MlflowClient
from packaging.requirements import InvalidRequirement, Requirement

from mlflow_compliance.checks.model import ServerFacts, Target
from mlflow_compliance.checks.targets import run_target, version_target
from mlflow_compliance.client.runs import DATA_DESCRIPTION_PARAM
from mlflow_compliance.lineage.walk import ABSENT
from mlflow_compliance.record.dataset import DatasetRecord
from mlflow_compliance.record.schema import ComplianceRecord
from mlflow_compliance.record.values import Threshold, parse_threshold

CONTEXT_TAG = "mlflow.data.context"
ENVIRONMENT_FILES = ("requirements.txt", "conda.yaml", "python_env.yaml")
TEST_CONTEXTS = frozenset({"eval", "evaluation", "test", "testing", "validation"})
"""Dataset contexts that mean the model was tested on the data, not trained on it."""


ModelFiles = Callable[[str, str], Callable[[str], str]]
"""(model name, version) -> a reader of the version's model files: path -> its text.
The reader raises OSError (or MlflowException) for a file it cannot read; opening the
model's files raises MlflowException when they are not readable at all."""


class VersionNotFound(Exception):
    """The model version does not exist, or the caller may not read it (not told apart)."""


@dataclass(frozen=True)
class Missing:
    """Something a document would show that could not be read: what, and why."""

    what: str
    reason: str

    def __str__(self) -> str:
        return f"{self.what}: {self.reason}"


@dataclass(frozen=True)
class Package:
    """One library of the model's Python environment, as the model's files pin it."""

    name: str
    version: str  # "" when the file does not pin one
    source: str  # the file it came from, e.g. requirements.txt


@dataclass(frozen=True)
class DatasetFacts:
    """One dataset input of the source run, with the record it carries (AI Act Art. 10)."""

    name: str
    digest: str
    source_type: str
    source: str  # MLflow's source JSON, e.g. {"uri": "s3://..."}
    schema: str  # MLflow's schema JSON ("" when none)
    profile: str  # MLflow's profile JSON, e.g. {"num_rows": 60}
    context: str  # mlflow.data.context: training, eval, ...
    tags: Mapping[str, str]
    record: DatasetRecord | None
    record_problems: tuple[str, ...]

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.digest}"

    @property
    def uri(self) -> str:
        """The dataset's location when MLflow's source names one."""
        try:
            source = json.loads(self.source) if self.source else {}
        except ValueError:
            return ""
        for key in ("uri", "url", "path", "table_name"):
            if isinstance(source, dict) and isinstance(source.get(key), str):
                return str(source[key])
        return ""

    @property
    def rows(self) -> int | None:
        try:
            rows = json.loads(self.profile).get("num_rows") if self.profile else None
        except (ValueError, AttributeError):
            return None
        return rows if isinstance(rows, int) else None

    @property
    def columns(self) -> tuple[tuple[str, str], ...]:
        """(name, type) of each column of MLflow's schema."""
        try:
            spec = json.loads(self.schema).get("mlflow_colspec") if self.schema else None
        except (ValueError, AttributeError):
            return ()
        return tuple((str(c.get("name", "")), str(c.get("type", "")))
                     for c in spec or () if isinstance(c, dict))

    @property
    def tested_on(self) -> bool:
        return self.context.strip().lower() in TEST_CONTEXTS


@dataclass(frozen=True)
class GroupMetric:
    """A metric logged for one evaluation group as ``<metric>/<group>``."""

    metric: str
    group: str
    value: float


@dataclass(frozen=True)
class VersionFacts:
    """Everything the documents of one model version are written from."""

    name: str
    version: str
    model_description: str
    model_tags: Mapping[str, str]
    aliases: tuple[str, ...]  # the aliases pointing at this version
    description: str
    version_tags: Mapping[str, str]
    source: str
    run_id: str
    model_id: str
    created: int  # ms
    updated: int  # ms
    status: str
    run_name: str
    params: Mapping[str, str]
    metrics: Mapping[str, float]  # latest value per key
    run_tags: Mapping[str, str]
    tags: Mapping[str, str]  # the version's tags laid over the run's, as `check` reads them
    record: ComplianceRecord | None
    record_problems: tuple[str, ...]
    datasets: tuple[DatasetFacts, ...]
    group_metrics: tuple[GroupMetric, ...]
    thresholds: tuple[Threshold, ...]
    flavors: tuple[str, ...]  # the MLmodel's flavors, e.g. python_function, sklearn
    python_version: str
    environment: tuple[Package, ...]
    missing: tuple[Missing, ...]
    run_readable: bool = True  # False: the record on the source run could not be read

    @property
    def unread(self) -> str:
        """Where record fields may be that the caller could not read ("" if nowhere)."""
        return "" if self.run_readable else f"the source run {self.run_id}, not readable"

    @property
    def data_description(self) -> str:
        return self.params.get(DATA_DESCRIPTION_PARAM, "")

    @property
    def hyperparameters(self) -> dict[str, str]:
        """The run's params but the data description (a description, not a parameter)."""
        return {k: v for k, v in sorted(self.params.items()) if k != DATA_DESCRIPTION_PARAM}

    @property
    def overall_metrics(self) -> dict[str, float]:
        grouped = {f"{g.metric}/{g.group}" for g in self.group_metrics}
        return {k: v for k, v in sorted(self.metrics.items()) if k not in grouped}


def client_model_files(client: MlflowClient) -> ModelFiles:
    """The model files of a version as ``client`` downloads them."""

    def opened(name: str, version: str) -> Callable[[str], str]:
        location = client.get_model_version_download_uri(name, version)
        repo = get_artifact_repository(location, tracking_uri=client.tracking_uri)

        def read(file: str) -> str:
            with tempfile.TemporaryDirectory() as folder:
                return Path(repo.download_artifacts(file, folder)).read_text()

        return read

    return opened


def collect_version_facts(client: Any, name: str, version: str,
                          model_files: ModelFiles | None = None) -> VersionFacts:
    """The facts of ``name`` version ``version`` as the caller may read them; raises
    VersionNotFound when the version is not there or not the caller's to read.
    ``client`` is an MlflowClient, or on the server its stores (server/store_reader.py);
    ``model_files`` reads the model's files [default: as ``client`` downloads them]."""
    missing: list[Missing] = []
    try:
        model = client.get_registered_model(name)
        found = client.get_model_version(name, version)
    except MlflowException as e:
        if e.error_code in ABSENT:
            raise VersionNotFound(f"model {name!r} version {version!r} does not exist "
                                  "(or you may not read it)") from None
        raise
    run = _run(client, found, missing)
    source = run_target(run, ServerFacts()) if run else None
    target = version_target(found, source, ServerFacts())
    datasets = _datasets(run, target)
    flavors, python, environment = _environment(model_files or client_model_files(client),
                                                found, missing)
    aliases = tuple(sorted(a for a, v in (model.aliases or {}).items() if str(v) == version))
    return VersionFacts(
        name=name,
        version=str(found.version),
        model_description=model.description or "",
        model_tags=dict(sorted((model.tags or {}).items())),
        aliases=aliases,
        description=found.description or "",
        version_tags=dict(sorted((found.tags or {}).items())),
        source=found.source or "",
        run_id=found.run_id or "",
        model_id=_model_id(found),
        created=int(found.creation_timestamp or 0),
        updated=int(found.last_updated_timestamp or found.creation_timestamp or 0),
        status=str(found.status or ""),
        run_name=run.info.run_name if run else "",
        params=dict(sorted(target.params.items())),
        metrics=dict(sorted(target.metrics.items())),
        run_tags=dict(sorted(run.data.tags.items())) if run else {},
        tags=dict(sorted(target.tags.items())),
        record=target.record,
        record_problems=target.record_problems,
        datasets=datasets,
        group_metrics=_group_metrics(target),
        thresholds=_thresholds(target.record),
        flavors=flavors,
        python_version=python,
        environment=environment,
        missing=tuple(missing),
        run_readable=run is not None or not found.run_id,
    )


def _run(client: Any, version: ModelVersion, missing: list[Missing]) -> Run | None:
    if not version.run_id:
        missing.append(Missing("source run", "the version names none"))
        return None
    try:
        return client.get_run(version.run_id)
    except MlflowException as e:
        if e.error_code not in ABSENT:
            raise
        missing.append(Missing(f"source run {version.run_id}",
                               "does not exist (or you may not read it)"))
        return None


def _model_id(version: ModelVersion) -> str:
    """The logged model's id: MLflow's field, else the ``models:/<id>`` source."""
    found = getattr(version, "model_id", None)
    if found:
        return str(found)
    source = version.source or ""
    if source.startswith("models:/m-"):
        return source.removeprefix("models:/").split("/", 1)[0]
    return ""


def _datasets(run: Run | None, target: Target) -> tuple[DatasetFacts, ...]:
    """The run's dataset inputs; the records come from the checks' parser (the target's
    datasets are made from the same inputs, in the same order)."""
    if run is None or not run.inputs:
        return ()
    found = []
    for raw, ref in zip(run.inputs.dataset_inputs, target.datasets, strict=True):
        tags = {t.key: t.value for t in raw.tags}
        found.append(DatasetFacts(
            name=ref.name, digest=ref.digest, source_type=ref.source_type, source=ref.source,
            schema=raw.dataset.schema or "", profile=raw.dataset.profile or "",
            context=tags.get(CONTEXT_TAG, ""), tags=dict(sorted(tags.items())),
            record=ref.record, record_problems=ref.record_problems,
        ))
    return tuple(sorted(found, key=lambda d: (d.name, d.digest, d.context)))


def _group_metrics(target: Target) -> tuple[GroupMetric, ...]:
    """``<metric>/<group>`` for each declared evaluation group (AI Act Art. 13(3)(b)(v))."""
    groups = (target.record.ai_act.evaluation_groups or []) if target.record else []
    found = []
    for key, value in target.metrics.items():
        metric, _, group = key.rpartition("/")
        if metric and group in groups:
            found.append(GroupMetric(metric, group, value))
    return tuple(sorted(found, key=lambda g: (g.metric, g.group)))


def _thresholds(record: ComplianceRecord | None) -> tuple[Threshold, ...]:
    texts = (record.ai_act.metric_thresholds or []) if record else []
    return tuple(parse_threshold(t) for t in texts)


def _environment(
    model_files: ModelFiles, version: ModelVersion, missing: list[Missing]
) -> tuple[tuple[str, ...], str, tuple[Package, ...]]:
    """The model's flavors, Python version and libraries, read from its MLmodel,
    requirements.txt, conda.yaml and python_env.yaml (each missing one is said)."""
    try:
        read = model_files(version.name, str(version.version))
    except MlflowException as e:
        if e.error_code not in ABSENT:
            raise
        missing.append(Missing("model files", "not readable"))
        return (), "", ()
    texts: dict[str, str] = {}
    for file in ("MLmodel", *ENVIRONMENT_FILES):
        try:
            texts[file] = read(file)
        except (MlflowException, OSError, UnicodeDecodeError):
            missing.append(Missing(f"model file {file}", "not found (or not readable)"))
    flavors, python = _mlmodel(texts.get("MLmodel", ""))
    packages: dict[str, Package] = {}
    for package in (*_conda(texts.get("conda.yaml", "")),
                    *_requirements(texts.get("requirements.txt", ""), "requirements.txt")):
        packages[package.name] = package  # requirements.txt wins: it is what pip installs
    if not python:
        python = _python_env(texts.get("python_env.yaml", ""))
    return flavors, python, tuple(sorted(packages.values(), key=lambda p: p.name))


def _yaml(text: str) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(text) if text else None
    except yaml.YAMLError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _mlmodel(text: str) -> tuple[tuple[str, ...], str]:
    flavors = _yaml(text).get("flavors")
    names = tuple(sorted(str(f) for f in flavors)) if isinstance(flavors, dict) else ()
    pyfunc = flavors.get("python_function") if isinstance(flavors, dict) else None
    python = str(pyfunc.get("python_version", "")) if isinstance(pyfunc, dict) else ""
    return names, python


def _python_env(text: str) -> str:
    return str(_yaml(text).get("python", "") or "")


def _requirements(text: str, source: str) -> list[Package]:
    found = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        pins = [s.version for s in requirement.specifier if s.operator in ("==", "===")]
        found.append(Package(requirement.name.lower().replace("_", "-"),
                             pins[0] if pins else "", source))
    return found


def _conda(text: str) -> list[Package]:
    found: list[Package] = []
    for item in _yaml(text).get("dependencies") or ():
        if isinstance(item, dict) and isinstance(item.get("pip"), list):
            found += _requirements("\n".join(map(str, item["pip"])), "conda.yaml")
    return found
