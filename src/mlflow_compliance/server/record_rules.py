"""The record as a whole, after a write: what the server refuses beyond one bad tag.

Blocking (it reads MLflow's stores): the validation layer calls :meth:`RecordRules.problems`
in a thread. Each problem is one line that starts with the tag it is about.

- The whole record once the write is applied (cross-field contradictions), for every
  kind of object.
- A required field of the minimum record (``Policy.required``) is never deleted from a
  run or a model version.
- Strict mode (MLFLOW_COMPLIANCE_STRICT_RECORD): a run is created with the minimum
  record in its tags, or not at all.
- A model version is registered only from a record that holds the minimum and is valid:
  its source run's record with the request's own tags on top (prompts are exempt).
- Datasets and runs agree: a dataset input that declares personal data goes only into a
  run that declares it, and such a run cannot stop declaring it. Need-to-know reads the
  run's record, so this is what makes a dataset's record hide its runs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlflow.exceptions import MlflowException

from mlflow_compliance.checks.policy import Policy
from mlflow_compliance.record import (
    PERSONAL_DATA_TAG,
    RecordKind,
    declares_personal_data,
    is_compliance_tag,
    missing_fields,
    record_problems_after,
)
from mlflow_compliance.server import record_state
from mlflow_compliance.server.tag_writes import RUN_CREATE, VERSION_CREATE, TagChange, tag_list
from mlflow_compliance.settings import REQUIRED_RECORD_ENV, STRICT_RECORD_ENV

PROMPT_TAG = "mlflow.prompt.is_prompt"
RUNS_SOURCE = re.compile(r"^runs:/(?P<run_id>[^/]+)")
LOGGED_MODEL_SOURCE = re.compile(r"^models:/(?P<model_id>m-[^/]+)")
KEEPS_REQUIRED = (RecordKind.RUN, RecordKind.MODEL_VERSION)


@dataclass(frozen=True)
class RecordRules:
    policy: Policy
    strict: bool = False

    def needs_store(self, path: str, change: TagChange) -> bool:
        """Whether judging the change needs more than the request (a store read)."""
        keys = [k for k, _ in change.writes] + list(change.deletes)
        return (
            path == VERSION_CREATE
            or (path == RUN_CREATE and self.strict)
            or any(is_compliance_tag(k) for k in keys)
        )

    def problems(self, path: str, change: TagChange) -> list[str]:
        found = self._required_deletes(change)
        if found:
            return found
        if path == RUN_CREATE and self.strict:
            found += self._strict_run(change)
        if path == VERSION_CREATE:
            found += self._version_record(change)
        try:
            found += self._whole_record(change)
            found += self._datasets_agree(change)
        except MlflowException:
            pass  # the object does not exist: MLflow answers the request with its error
        return found

    def _required_deletes(self, change: TagChange) -> list[str]:
        if change.kind not in KEEPS_REQUIRED:
            return []
        return [f"{key}: a required field of the compliance record ({REQUIRED_RECORD_ENV}) "
                "cannot be deleted; set a new value instead"
                for key in change.deletes if key in self.policy.required]

    def _strict_run(self, change: TagChange) -> list[str]:
        missing = missing_fields(dict(change.writes), self.policy.required)
        if not missing:
            return []
        return [f"{', '.join(missing)}: missing; {STRICT_RECORD_ENV} is on, so a run is "
                "created only with the minimum compliance record in its tags"]

    def _whole_record(self, change: TagChange) -> list[str]:
        keys = [k for k, _ in change.writes] + list(change.deletes)
        if not any(is_compliance_tag(k) for k in keys):
            return []
        existing: Mapping[str, str] = (
            record_state.current_tags(change.kind, change.ref) if change.ref else {})
        return [str(p) for p in record_problems_after(
            existing, change.writes, change.deletes, change.kind)]

    def _datasets_agree(self, change: TagChange) -> list[str]:
        if change.kind is RecordKind.DATASET and change.run_id:
            declared = dict(change.writes).get(PERSONAL_DATA_TAG)
            if not declares_personal_data(declared):
                return []
            tags = record_state.run(change.run_id).data.tags
            if declares_personal_data(tags.get(PERSONAL_DATA_TAG)):
                return []
            return [f"{PERSONAL_DATA_TAG}: a dataset input of run {change.run_id} declares "
                    f"personal data, the run's record does not; declare "
                    f"{PERSONAL_DATA_TAG}=true on the run first"]
        if change.kind is not RecordKind.RUN or change.ref is None:
            return []
        written = dict(change.writes)
        if PERSONAL_DATA_TAG in change.deletes:
            after: str | None = None
        elif PERSONAL_DATA_TAG in written:
            after = written[PERSONAL_DATA_TAG]
        else:
            return []
        if declares_personal_data(after):
            return []
        found = record_state.run(change.ref[0])
        personal = [d for d in record_state.input_tags(found)
                    if declares_personal_data(d.get(PERSONAL_DATA_TAG))]
        if not personal:
            return []
        return [f"{PERSONAL_DATA_TAG}: {len(personal)} dataset input(s) of this run declare "
                "personal data; the run's record must declare "
                f"{PERSONAL_DATA_TAG}=true as long as they do"]

    def _version_record(self, change: TagChange) -> list[str]:
        payload: dict[str, Any] = change.payload or {}
        request_tags = dict(tag_list(payload.get("tags")))
        if request_tags.get(PROMPT_TAG, "").strip().lower() == "true":
            return []
        run_id = _source_run(payload)
        run_tags: dict[str, str] = {}
        if run_id:
            try:
                run_tags = {k: v for k, v in record_state.run(run_id).data.tags.items()
                            if is_compliance_tag(k)}
            except MlflowException:
                return []  # no such run: MLflow refuses the source itself
        merged = {**run_tags, **{k: v for k, v in request_tags.items() if is_compliance_tag(k)}}
        missing = missing_fields(merged, self.policy.required)
        where = f"run {run_id}" if run_id else "the request (no source run)"
        if missing:
            return [f"{', '.join(missing)}: missing from the record of {where}; a model "
                    "version is registered only with the minimum compliance record "
                    f"({REQUIRED_RECORD_ENV}): set them on the run (or in the version's tags)"]
        return [f"{p} (the record of {where})" for p in record_problems_after(
            {}, merged.items(), (), RecordKind.MODEL_VERSION)]


def _source_run(payload: Mapping[str, Any]) -> str:
    """The run a new version comes from: named, in a ``runs:/`` source, or the run its
    logged model was made in."""
    if payload.get("run_id"):
        return str(payload["run_id"])
    source = str(payload.get("source") or "")
    if match := RUNS_SOURCE.match(source):
        return match["run_id"]
    model_id = str(payload.get("model_id") or "")
    if not model_id and (match := LOGGED_MODEL_SOURCE.match(source)):
        model_id = match["model_id"]
    if model_id:
        try:
            return record_state.logged_model_run(model_id)
        except MlflowException:
            return ""
    return ""

