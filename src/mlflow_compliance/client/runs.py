"""The seed's workflow, made real: runs, models and datasets logged with their records."""

from __future__ import annotations

import importlib
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import mlflow
from mlflow.models.model import ModelInfo

from mlflow_compliance.encryption.scope import DATASETS_FOLDER
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
    log_rows: bool | None = None,
) -> DatasetRecord:
    """Log ``dataset`` as an input of the active run (one is started if none is) with
    its own record as the input's tags (AI Act Art. 10(2)-(5); GDPR Art. 5(1)(c), 9).

    ``record`` is a DatasetRecord, or a mapping of its field names
    (``{"personal_data": True, "origin": "..."}``) or of its tag keys. Everything is
    validated before anything is stored: a bad or self-contradicting record, and a
    personal-data dataset in a run whose record does not declare personal data (GDPR
    Art. 4(1): the run processes what its data holds), raise InvalidComplianceRecord.

    The rows go along when ``log_rows`` is true, or when it is None (the default) and the
    record declares personal data with ``subject_id_columns`` and the dataset has a
    pandas DataFrame (``dataset.df``): the frame is logged as the run's artifact
    ``datasets/<dataset name>/rows.csv`` (encrypted at rest under the dataset's own
    key) *before* the input, so the server indexes its subject ids when the input
    arrives (docs/subjects.md; GDPR Art. 15(1), 17: where a person's data is). The
    dataset's name must then be one safe path segment, else InvalidComplianceRecord
    names it. ``log_rows=False`` sends metadata only, as ``mlflow.log_input`` does.
    Returns the record as validated.
    """
    parsed = parse_dataset_record(record)
    tags = record_to_tags(parsed)
    name = _name_of(dataset)
    if parsed.personal_data:
        _run_declares_personal_data(name)
    frame = _rows_to_log(dataset, parsed, log_rows)
    if frame is not None:
        _check_folder_name(name)
        _log_rows(frame, name)
    mlflow.log_input(dataset, context=context, tags=tags)
    return parsed


ROWS_FILE = "rows.csv"
"""The file name of a dataset's rows in its folder ``datasets/<name>/`` of the run."""
UNSAFE_IN_NAME = re.compile(r"[/\\:#%?\x00-\x1f\x7f]")
MAX_FOLDER_NAME = 200


def _rows_to_log(dataset: Any, parsed: DatasetRecord, log_rows: bool | None) -> Any:
    """The DataFrame to log as the dataset's rows, or None."""
    if log_rows is False:
        return None
    frame = getattr(dataset, "df", None)
    if log_rows is True:
        if frame is None or not hasattr(frame, "to_csv"):
            raise InvalidComplianceRecord([Problem(
                "log_rows", f"dataset {_name_of(dataset)!r} has no pandas DataFrame (.df) "
                "to log; allowed: a dataset of mlflow.data.from_pandas, or log_rows=False")])
        return frame
    if not parsed.personal_data or not parsed.subject_id_columns:
        return None
    return frame if frame is not None and hasattr(frame, "to_csv") else None


def _name_of(dataset: Any) -> str:
    return str(getattr(dataset, "name", "") or "")


def _check_folder_name(name: str) -> None:
    """The dataset's name becomes the folder ``datasets/<name>``: one path segment."""
    if (not name or name in (".", "..") or name != name.strip()
            or len(name) > MAX_FOLDER_NAME or UNSAFE_IN_NAME.search(name)):
        raise InvalidComplianceRecord([Problem(
            "dataset.name", f"{name!r} is not one safe path segment; allowed: 1 to "
            f"{MAX_FOLDER_NAME} characters, no / \\ : # % ? or control characters, not . "
            "or .., no blanks around")])


def _log_rows(frame: Any, name: str) -> None:
    """The rows as CSV in a private folder (0700, file 0600), logged, then removed."""
    with tempfile.TemporaryDirectory(prefix="mlflow-compliance-rows-") as folder:
        path = os.path.join(folder, ROWS_FILE)
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w",
                       newline="", encoding="utf-8") as handle:
            frame.to_csv(handle, index=False)
        mlflow.log_artifact(path, artifact_path=f"{DATASETS_FOLDER}/{name}")


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
