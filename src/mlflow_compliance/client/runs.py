"""The seed's workflow, made real: runs, models and datasets logged with their records."""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import mlflow
from mlflow.models.model import ModelInfo

from mlflow_compliance.project import project_defaults
from mlflow_compliance.record import (
    PERSONAL_DATA_TAG,
    ComplianceRecord,
    DatasetRecord,
    InvalidComplianceRecord,
    Problem,
    check_tags,
    declares_personal_data,
    is_compliance_tag,
    parse_dataset_record,
    parse_record,
    record_from_tags,
    record_to_tags,
)

RecordLike = ComplianceRecord | Mapping[str, Any] | None
DatasetRecordLike = DatasetRecord | Mapping[str, Any]

DATA_DESCRIPTION_PARAM = "data_description"
MAX_DESCRIPTION = 6000  # MLflow's limit on a param value

# Top-level package of a model's class -> the MLflow flavor module that logs it.
FLAVORS = {
    "sklearn": "mlflow.sklearn",
    "xgboost": "mlflow.xgboost",
    "lightgbm": "mlflow.lightgbm",
    "catboost": "mlflow.catboost",
    "statsmodels": "mlflow.statsmodels",
    "torch": "mlflow.pytorch",
    "keras": "mlflow.keras",
    "tensorflow": "mlflow.tensorflow",
    "transformers": "mlflow.transformers",
    "prophet": "mlflow.prophet",
}


def record_tags(record: RecordLike = None, tags: Mapping[str, str] | None = None) -> dict[str, str]:
    """The compliance tags a new run gets: project defaults < ``record`` < ``tags``.

    The merged result is validated as one record, so a contradiction between the
    project's defaults and this run's record is caught before anything is stored.
    """
    merged = record_to_tags(project_defaults())
    merged.update(record_to_tags(parse_record(record)))
    extra = dict(tags or {})
    problems = check_tags(extra.items())
    if problems:
        raise InvalidComplianceRecord(problems)
    merged.update(extra)
    record_from_tags(merged)
    return merged


def _check_description(data_description: str) -> None:
    if not isinstance(data_description, str) or not data_description.strip():
        raise InvalidComplianceRecord(
            [Problem(DATA_DESCRIPTION_PARAM, "empty; describe the data the model was trained on")]
        )
    if len(data_description) > MAX_DESCRIPTION:
        raise InvalidComplianceRecord(
            [Problem(DATA_DESCRIPTION_PARAM, f"longer than {MAX_DESCRIPTION} characters")]
        )


@contextmanager
def compliance_run(
    record: RecordLike = None,
    data_description: str | None = None,
    **start_run_kwargs: Any,
) -> Iterator[mlflow.ActiveRun]:
    """``mlflow.start_run`` with a validated compliance record (and data description).

    Raises InvalidComplianceRecord, listing every bad field, before any run is created.
    """
    tags = record_tags(record, start_run_kwargs.pop("tags", None))
    if data_description is not None:
        _check_description(data_description)
    with mlflow.start_run(tags=tags, **start_run_kwargs) as run:
        if data_description is not None:
            mlflow.log_param(DATA_DESCRIPTION_PARAM, data_description)
        yield run


def flavor_of(model: Any) -> str:
    """The MLflow flavor module that logs this model, e.g. ``mlflow.sklearn``."""
    if isinstance(model, mlflow.pyfunc.PythonModel):
        return "mlflow.pyfunc"
    package = type(model).__module__.split(".")[0]
    if package not in FLAVORS:
        raise ValueError(
            f"model: cannot tell the MLflow flavor of {type(model).__qualname__}; "
            f"pass flavor= one of {', '.join(sorted(FLAVORS))}, pyfunc"
        )
    return FLAVORS[package]


def log_model_with_compliance(
    model: Any,
    data_description: str,
    record: RecordLike = None,
    *,
    name: str = "model",
    flavor: str | None = None,
    **log_model_kwargs: Any,
) -> ModelInfo:
    """Log ``model`` with its flavor, the data description and the compliance record.

    Inside an active run the model is logged there and ``record`` is added to the
    run's tags; otherwise a run is started (with the project's defaults) and ended
    around it. The run's whole compliance record then also goes on the logged model
    and, when ``registered_model_name`` is given, on the new model version.
    Everything is validated before anything is stored.
    """
    _check_description(data_description)
    module = _flavor_module(model, flavor)
    if mlflow.active_run() is None:
        with compliance_run(record, data_description) as run:
            return _log_model(run.info.run_id, module, model, None, name, log_model_kwargs)
    run_id = mlflow.active_run().info.run_id  # type: ignore[union-attr]
    mlflow.log_param(DATA_DESCRIPTION_PARAM, data_description)
    return _log_model(run_id, module, model, record, name, log_model_kwargs)


def _flavor_module(model: Any, flavor: str | None) -> Any:
    if flavor is None:
        return importlib.import_module(flavor_of(model))
    known = {*FLAVORS.values(), "mlflow.pyfunc"}
    full = flavor if flavor.startswith("mlflow.") else f"mlflow.{flavor}"
    if full not in known:
        raise ValueError(f"flavor: {flavor!r} is not known; allowed: {', '.join(sorted(known))}")
    return importlib.import_module(full)


def _log_model(
    run_id: str,
    module: Any,
    model: Any,
    record: RecordLike,
    name: str,
    kwargs: dict[str, Any],
) -> ModelInfo:
    client = mlflow.MlflowClient()
    current = client.get_run(run_id).data.tags
    added = record_to_tags(parse_record(record))
    tags = {k: v for k, v in current.items() if is_compliance_tag(k)} | added
    record_from_tags(tags)  # the run's record stays consistent as a whole
    if added:
        mlflow.set_tags(added)
    if module.__name__ == "mlflow.pyfunc":
        kwargs = {**kwargs, "python_model": model}
        positional: tuple[Any, ...] = ()
    else:
        positional = (model,)
    info: ModelInfo = module.log_model(
        *positional, name=name, tags={**tags, **kwargs.pop("tags", {})}, **kwargs
    )
    if info.registered_model_version is not None:
        for key, value in tags.items():
            client.set_model_version_tag(
                kwargs["registered_model_name"], str(info.registered_model_version), key, value
            )
    return info


def log_dataset_with_compliance(
    dataset: Any,
    record: DatasetRecordLike,
    context: str = "training",
) -> DatasetRecord:
    """Log ``dataset`` as an input of the active run (one is started if none is) with
    its own record as the input's tags (AI Act Art. 10(2)-(5); GDPR Art. 5(1)(c), 9).

    ``record`` is a DatasetRecord, or a mapping of its field names
    (``{"personal_data": True, "origin": "..."}``) or of its tag keys. Everything is
    validated before anything is stored: a bad or self-contradicting record, and a
    personal-data dataset in a run whose record does not declare personal data (GDPR
    Art. 4(1): the run processes what its data holds), raise InvalidComplianceRecord.
    Returns the record as validated.
    """
    parsed = parse_dataset_record(record)
    tags = record_to_tags(parsed)
    if parsed.personal_data:
        _run_declares_personal_data(getattr(dataset, "name", ""))
    mlflow.log_input(dataset, context=context, tags=tags)
    return parsed


def _run_declares_personal_data(dataset_name: str) -> None:
    active = mlflow.active_run()
    if active is None:  # log_input starts a run with the project's defaults
        declared = record_to_tags(project_defaults()).get(PERSONAL_DATA_TAG)
    else:
        tags = mlflow.MlflowClient().get_run(active.info.run_id).data.tags
        declared = tags.get(PERSONAL_DATA_TAG)
    if declared is None or not declares_personal_data(declared):
        raise InvalidComplianceRecord([Problem(
            PERSONAL_DATA_TAG,
            f"dataset {dataset_name!r} has personal data but the run declares "
            f"{declared or 'nothing'}; allowed: set the run's compliance.gdpr.personal_data "
            "= true first",
        )])
