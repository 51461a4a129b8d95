"""A targeted hard delete of one soft-deleted run: everything MLflow and this product keep
about it, and nothing of any other run (server side, on MLflow's own tables).

GDPR Art. 17(1) and 5(1)(e): erased means gone, not hidden. MLflow's own hard delete
(``mlflow gc``) leaves the run's inputs, input tags and dataset records (source, schema,
profile) until the whole experiment goes, and ``gc --run-ids X`` purges every other
soft-deleted run as well (MLflow PR #25563). This purges exactly the run asked for:

- in one database transaction: its metrics, latest metrics, params, tags, the metrics of
  logged models recorded in it, its inputs (datasets used, models used and produced)
  and their input tags, the ``datasets`` rows no input references any more, the links
  of traces to it, its rows of the data-subject index, and the run row; an issue found
  by it forgets it (MLflow's own ``ON DELETE SET NULL``);
- its artifacts: the data keys of ``run:<id>`` and its dataset scopes are shredded
  (crypto-shredding, Art. 17 and 32(1)(a): every copy, backups too, becomes unreadable)
  and the run's folder below the server's artifact root is deleted.

Not purged, and said in the answer: logged models made in the run and registered model
versions made from it (their own objects, with their own retention), and traces and
assessments that name the run (the experiment's). The run must be soft-deleted first:
an active run is refused, so a purge is always a second, deliberate step.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from mlflow_compliance.encryption.keys.keyring import Keyring
from mlflow_compliance.encryption.scope import run_scope
from mlflow_compliance.subjects.index import metadata as index_metadata
from mlflow_compliance.subjects.index import subject_index
from mlflow_compliance.tables import engine_with

DELETED = "deleted"

_c = sa.column
runs = sa.table("runs", _c("run_uuid"), _c("lifecycle_stage"), _c("experiment_id"),
                _c("artifact_uri"))
# The run's own rows, keyed by run_uuid (MLflow's _RUN_DELETE_CASCADE_MODELS)
BY_RUN_UUID = ("metrics", "latest_metrics", "params", "tags")
inputs = sa.table("inputs", _c("input_uuid"), _c("source_type"), _c("source_id"),
                  _c("destination_type"), _c("destination_id"))
input_tags = sa.table("input_tags", _c("input_uuid"))
datasets = sa.table("datasets", _c("dataset_uuid"))
logged_model_metrics = sa.table("logged_model_metrics", _c("run_id"))
associations = sa.table("entity_associations", _c("source_type"), _c("source_id"),
                        _c("destination_type"), _c("destination_id"))
issues = sa.table("issues", _c("source_run_id"))
logged_models = sa.table("logged_models", _c("model_id"), _c("source_run_id"))
model_versions = sa.table("model_versions", _c("name"), _c("version"), _c("run_id"))
assessments = sa.table("assessments", _c("assessment_id"), _c("run_id"))


class NoSuchRun(LookupError):
    """No run of that id."""


class NotDeleted(ValueError):
    """The run is active: delete it (soft) first."""


@dataclass
class Purge:
    """What a purge removed (or, in a dry run, would remove), and what it left."""

    run_id: str
    experiment_id: str
    dry_run: bool
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows deleted
    artifact_folder: str | None = None  # below the server's artifact root; None: none
    keys_shredded: list[str] = field(default_factory=list)  # data-key scopes
    left: dict[str, list[str]] = field(default_factory=dict)  # kind -> ids, not purged

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id, "experiment_id": self.experiment_id,
            "dry_run": self.dry_run, "rows": self.rows,
            "artifact_folder": self.artifact_folder, "keys_shredded": self.keys_shredded,
            "left": self.left,
        }


Artifacts = Callable[[str], tuple[Any, str] | None]
"""artifact URI -> (repository, path of the run's artifacts in it), or None when the
artifacts are not below the server's artifact root."""


def server_artifacts(artifact_uri: str) -> tuple[Any, str] | None:
    """The server's artifact repository and the run's path in it (as MLflow's proxied
    artifact routes resolve ``mlflow-artifacts:/...``)."""
    from mlflow.server.handlers import (
        _get_artifact_repo_mlflow_artifacts,
        _get_proxied_run_artifact_destination_path,
        _get_workspace_scoped_repo_path_if_enabled,
        _is_servable_proxied_run_artifact_root,
    )

    if not artifact_uri or not _is_servable_proxied_run_artifact_root(artifact_uri):
        return None
    path = _get_workspace_scoped_repo_path_if_enabled(
        _get_proxied_run_artifact_destination_path(proxied_artifact_root=artifact_uri))
    return _get_artifact_repo_mlflow_artifacts(), str(path or "")


def run_folder(path: str, run_id: str) -> str | None:
    """The run's own folder (``<experiment>/<run>``) from its artifact path
    (``<experiment>/<run>/artifacts``); None when the path does not name the run."""
    parts = [p for p in posixpath.normpath(path).split("/") if p not in ("", ".")]
    if ".." in parts or run_id not in parts:
        return None
    return "/".join(parts[:len(parts) - parts[::-1].index(run_id)])


class RunPurge:
    """Purging soft-deleted runs, one at a time, from the tracking database."""

    def __init__(self, engine: Engine, keyring: Callable[[], Keyring],
                 artifacts: Artifacts = server_artifacts) -> None:
        self.engine = engine
        self.keyring = keyring
        self.artifacts = artifacts
        self.tables = set(sa.inspect(engine).get_table_names())

    @classmethod
    def connect(cls, uri: str, keyring: Callable[[], Keyring],
                artifacts: Artifacts = server_artifacts) -> RunPurge:
        return cls(engine_with(uri, index_metadata), keyring, artifacts)

    def plan(self, run_id: str, require_deleted: bool = True) -> Purge:
        """What :meth:`purge` would do; nothing changes. NotDeleted for an active run,
        unless not ``require_deleted`` (retention apply deletes it first)."""
        with self.engine.connect() as c:
            found = self._deleted_run(c, run_id, require_deleted=require_deleted)
            purge = Purge(run_id, str(found.experiment_id), dry_run=True)
            purge.rows = self._rows(c, run_id, delete=False)
            purge.left = self._left(c, run_id)
        purge.artifact_folder = self._folder(found.artifact_uri, run_id)
        purge.keys_shredded = self.keyring().store.scopes_under(run_scope(run_id))
        return purge

    def purge(self, run_id: str, by: str) -> Purge:
        """Shred the run's data keys, delete its artifact folder, then delete its rows in
        one transaction. Each step can be repeated: a purge cut short is finished by
        purging again."""
        with self.engine.connect() as c:
            found = self._deleted_run(c, run_id)
        purge = Purge(run_id, str(found.experiment_id), dry_run=False)
        # Keys first: from here on no copy of the artifacts can be read, wherever it is.
        purge.keys_shredded = self.keyring().shred(run_scope(run_id), by)
        located = self.artifacts(found.artifact_uri)
        folder = run_folder(located[1], run_id) if located else None
        if located and folder:
            located[0].delete_artifacts(folder)
            purge.artifact_folder = folder
        with self.engine.begin() as c:
            self._deleted_run(c, run_id, lock=True)  # still deleted, and ours now
            purge.left = self._left(c, run_id)
            purge.rows = self._rows(c, run_id, delete=True)
        return purge

    # --- inside ---------------------------------------------------------------------

    def _deleted_run(self, c: Connection, run_id: str, lock: bool = False,
                     require_deleted: bool = True) -> Any:
        query = sa.select(runs.c.lifecycle_stage, runs.c.experiment_id,
                          runs.c.artifact_uri).where(runs.c.run_uuid == run_id)
        if lock:
            query = query.with_for_update()
        found = c.execute(query).first()
        if found is None:
            raise NoSuchRun(f"run_id: no run {run_id!r}")
        if require_deleted and found.lifecycle_stage != DELETED:
            raise NotDeleted(f"run_id: run {run_id} is active; delete it first (only a "
                             "deleted run is purged)")
        return found

    def _folder(self, artifact_uri: str, run_id: str) -> str | None:
        located = self.artifacts(artifact_uri)
        return run_folder(located[1], run_id) if located else None

    def _has(self, table: Any) -> bool:
        return str(table.name) in self.tables

    def _rows(self, c: Connection, run_id: str, delete: bool) -> dict[str, int]:
        """Row counts per table; with ``delete``, the rows are deleted too (children
        first, so every foreign key holds at each step)."""
        done: dict[str, int] = {}

        def take(table: Any, where: Any) -> None:
            if not self._has(table):
                return
            if delete:
                done[str(table.name)] = c.execute(table.delete().where(where)).rowcount
            else:
                done[str(table.name)] = c.execute(
                    sa.select(sa.func.count()).select_from(table).where(where)).scalar_one()

        for name in BY_RUN_UUID:
            table = sa.table(name, _c("run_uuid"))
            take(table, table.c.run_uuid == run_id)
        take(logged_model_metrics, logged_model_metrics.c.run_id == run_id)
        # Inputs: the datasets the run used, and the models it used and produced.
        i = inputs.c
        of_run = sa.or_(sa.and_(i.destination_type == "RUN", i.destination_id == run_id),
                        sa.and_(i.source_type.in_(("RUN_INPUT", "RUN_OUTPUT")),
                                i.source_id == run_id))
        used = [r.source_id for r in c.execute(
            sa.select(i.source_id).where(of_run, i.source_type == "DATASET"))]
        uuids = sa.select(i.input_uuid).where(of_run).scalar_subquery()
        take(input_tags, input_tags.c.input_uuid.in_(uuids))
        take(inputs, of_run)
        # A dataset row goes when no other input references it (after ours are gone).
        others = sa.select(i.source_id).where(i.source_type == "DATASET",
                                             i.source_id.in_(used))
        if not delete:
            others = others.where(sa.not_(of_run))
        still = {r.source_id for r in c.execute(others)} if used else set()
        take(datasets, datasets.c.dataset_uuid.in_(sorted(set(used) - still)))
        a = associations.c
        take(associations, sa.or_(sa.and_(a.source_type == "run", a.source_id == run_id),
                                  sa.and_(a.destination_type == "run",
                                          a.destination_id == run_id)))
        if self._has(issues) and delete:
            c.execute(issues.update().where(issues.c.source_run_id == run_id)
                      .values(source_run_id=None))
        take(subject_index, subject_index.c.run_id == run_id)
        take(runs, runs.c.run_uuid == run_id)
        return done

    def _left(self, c: Connection, run_id: str) -> dict[str, list[str]]:
        """What names the run and is not purged with it: the objects it made."""
        left: dict[str, list[str]] = {}
        if self._has(logged_models):
            left["logged_models"] = [r.model_id for r in c.execute(
                sa.select(logged_models.c.model_id)
                .where(logged_models.c.source_run_id == run_id)
                .order_by(logged_models.c.model_id))]
        if self._has(model_versions):
            left["model_versions"] = [f"{r.name}/{r.version}" for r in c.execute(
                sa.select(model_versions.c.name, model_versions.c.version)
                .where(model_versions.c.run_id == run_id)
                .order_by(model_versions.c.name, model_versions.c.version))]
        if self._has(assessments):
            left["assessments"] = [r.assessment_id for r in c.execute(
                sa.select(assessments.c.assessment_id).where(assessments.c.run_id == run_id))]
        return {k: v for k, v in left.items() if v}
