"""Whether a run's dataset may be indexed: its own record must say it holds personal
data and name the column as a subject-id column.

The dataset record (docs/record.md) is the input's tags: ``compliance.gdpr.personal_data``
(GDPR Art. 4(1)) and ``compliance.dataset.subject_id_columns`` (Art. 4(1), 4(5)). Ids of
a column the record does not declare are refused: the index holds only what the record
says is there (Art. 5(1)(c), 30).
"""

from __future__ import annotations

from typing import Any

from mlflow_compliance.record.tags import PERSONAL_DATA_TAG, declares_personal_data
from mlflow_compliance.subjects.index import Place

SUBJECT_ID_COLUMNS_TAG = "compliance.dataset.subject_id_columns"


class Refused(Exception):
    """The request cannot be indexed; the message names the field and why."""


def declared_place(run: Any, dataset_name: str, dataset_digest: str | None,
                   column: str) -> Place:
    """The place (run, dataset, column) to index under, from an MLflow ``Run``."""
    run_id = run.info.run_id
    if run.info.lifecycle_stage != "active":
        raise Refused(f"run_id: run {run_id} is deleted")
    inputs = [i for i in (run.inputs.dataset_inputs if run.inputs else [])
              if i.dataset.name == dataset_name]
    if not inputs:
        raise Refused(f"dataset_name: run {run_id} has no dataset input named "
                      f"{dataset_name!r}")
    if dataset_digest:
        inputs = [i for i in inputs if i.dataset.digest == dataset_digest]
        if not inputs:
            raise Refused(f"dataset_digest: run {run_id} has no dataset {dataset_name!r} "
                          f"with digest {dataset_digest!r}")
    digests = sorted({i.dataset.digest for i in inputs})
    if len(digests) > 1:
        raise Refused(f"dataset_digest: run {run_id} has {len(digests)} datasets named "
                      f"{dataset_name!r} ({', '.join(digests)}); give the digest")
    tags = {t.key: t.value for i in inputs for t in (i.tags or [])}
    if not declares_personal_data(tags.get(PERSONAL_DATA_TAG)):
        raise Refused(f"dataset_name: the record of dataset {dataset_name!r} does not declare "
                      f"{PERSONAL_DATA_TAG} = true; only personal data is indexed")
    columns = [c.strip() for c in (tags.get(SUBJECT_ID_COLUMNS_TAG) or "").split(",")
               if c.strip()]
    if column not in columns:
        listed = ", ".join(columns) or "none"
        raise Refused(f"column: {column!r} is not in {SUBJECT_ID_COLUMNS_TAG} of dataset "
                      f"{dataset_name!r} (declared: {listed})")
    return Place(run_id, run.info.experiment_id, dataset_name, digests[0], column)
