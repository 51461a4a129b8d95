"""Indexing a dataset's data subjects when it is logged, from its files on the server.

``mlflow.log_input`` sends a dataset's metadata, never its rows; the rows reach the
server as run artifacts in the dataset's folder ``datasets/<name>/``
(``log_dataset_with_compliance`` puts them there before the input). After MLflow
answered 200 to

- ``POST /api/2.0/mlflow/runs/log-inputs`` (and its ``/ajax-api/`` twin): every
  ``.csv`` / ``.parquet`` file in the folder of each dataset the request logged, and
- ``PUT /api/2.0/mlflow-artifacts/artifacts/<exp>/<run>/artifacts/datasets/<name>/<file>``:
  that file, when the run already has the dataset as an input,

the subject ids of the dataset's declared columns are indexed as pseudonyms (HMAC under
the index key; GDPR Art. 4(5), 32(1)(a)), so that where a person's data is can be
answered (Art. 15(1)) and erased (Art. 17). Only datasets whose own record declares
``compliance.gdpr.personal_data = true`` and ``compliance.dataset.subject_id_columns``
are read: the index holds what the record says is there (Art. 5(1)(c), 30).

The indexing runs before the answer goes to the client (in a worker thread), so a
client that logged the input can rely on the index. MLflow's write has happened by
then: a file that cannot be indexed (unreadable, a declared column missing) does not
turn the answer into an error; it is a WARNING of the server log naming the run, the
dataset and the file, and ``indexing: failed: ...`` in the request's audit entry;
never an id. MLFLOW_COMPLIANCE_INDEX_ON_LOG=false turns this layer off.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mlflow_compliance.encryption.scope import DATASETS_FOLDER
from mlflow_compliance.record.tags import PERSONAL_DATA_TAG, declares_personal_data
from mlflow_compliance.server.audit import NOTES_KEY, note
from mlflow_compliance.server.authorization.layer import decision
from mlflow_compliance.settings import index_on_log
from mlflow_compliance.subjects.declared import SUBJECT_ID_COLUMNS_TAG, Refused, declared_place
from mlflow_compliance.subjects.file_ids import Unreadable, columns_of, ids_of, readable
from mlflow_compliance.subjects.index import Place, SubjectIndex
from mlflow_compliance.subjects.pseudonym import Pseudonymiser, index_key

LOG_INPUTS = "/api/2.0/mlflow/runs/log-inputs"
ARTIFACT_UPLOAD = "/api/2.0/mlflow-artifacts/artifacts/{artifact_path:path}"
MAX_NOTE = 500

_log = logging.getLogger(__name__)


def _log_warnings_to_stderr() -> None:
    """The server log is the process's stderr: say the level there, as MLflow's own
    lines do (Python's last-resort handler would print the bare message)."""
    if not _log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        _log.addHandler(handler)
        _log.setLevel(logging.WARNING)
        _log.propagate = False


@dataclass(frozen=True)
class Failure:
    """A dataset file that could not be indexed, and why (never a value of it)."""

    run_id: str
    dataset: str
    file: str
    reason: str

    def __str__(self) -> str:
        return f"run {self.run_id}, dataset {self.dataset!r}, file {self.file}: {self.reason}"


@dataclass
class Outcome:
    files: int = 0
    ids: int = 0
    failures: list[Failure] = field(default_factory=list)


def _tracking() -> Any:
    from mlflow.server.handlers import _get_tracking_store

    return _get_tracking_store()


def _keyring() -> Any:
    from mlflow_compliance.encryption.keys.configure import server_keyring

    return server_keyring()


def _declared_columns(run: Any, name: str, digest: str | None) -> list[str]:
    """The subject-id columns the run's input ``name`` declares; [] when the input is
    not there (yet) or its record declares no personal data or no columns."""
    inputs = [i for i in (run.inputs.dataset_inputs if run.inputs else [])
              if i.dataset.name == name and (digest is None or i.dataset.digest == digest)]
    tags = {t.key: t.value for i in inputs for t in (i.tags or [])}
    if not inputs or not declares_personal_data(tags.get(PERSONAL_DATA_TAG)):
        return []
    return [c.strip() for c in (tags.get(SUBJECT_ID_COLUMNS_TAG) or "").split(",")
            if c.strip()]


class DatasetIndexer:
    """Reads a run's dataset files and adds their subject ids to the index."""

    def __init__(self, index: SubjectIndex) -> None:
        self.index = index

    def after_inputs(self, run_id: str, datasets: Sequence[tuple[str, str | None]]
                     ) -> Outcome:
        """Every file in the folders of the datasets (name, digest) just logged."""
        from mlflow_compliance.subjects.dataset_files import dataset_folder

        outcome = Outcome()
        run = _tracking().get_run(run_id)
        for name, digest in datasets:
            folder = dataset_folder(run.info.experiment_id, run_id, name)
            if folder is not None:
                self._index(run, name, digest, folder, None, outcome)
        return outcome

    def after_upload(self, experiment_id: str, run_id: str, name: str, path: str
                     ) -> Outcome:
        """The file ``path`` (root-relative) just written to the dataset's folder."""
        from mlflow_compliance.subjects.dataset_files import dataset_folder

        outcome = Outcome()
        folder = dataset_folder(experiment_id, run_id, name)
        if folder is None or not path.startswith(folder + "/") or not readable(path):
            return outcome
        run = _tracking().get_run(run_id)
        if run.info.experiment_id == experiment_id:
            self._index(run, name, None, folder, path, outcome)
        return outcome

    def _index(self, run: Any, name: str, digest: str | None, folder: str,
               only: str | None, outcome: Outcome) -> None:
        from mlflow_compliance.subjects.dataset_files import artifact_root, files_in

        run_id = run.info.run_id
        columns = _declared_columns(run, name, digest)
        if not columns:
            return
        try:
            places = [declared_place(run, name, digest, c) for c in columns]
        except Refused as e:  # e.g. several digests of one name: which rows are whose?
            outcome.failures.append(Failure(run_id, name, folder, str(e)))
            return
        repository = artifact_root()
        files = [only] if only else [f for f in files_in(repository, folder) if readable(f)]
        if not files:
            return
        hasher = Pseudonymiser(index_key(_keyring()))
        for path in files:
            outcome.files += 1
            try:
                outcome.ids += self._index_file(repository, path, places, hasher)
            except Unreadable as e:
                outcome.failures.append(Failure(run_id, name, path, str(e)))
            except Exception as e:  # a key, storage or integrity failure: said by kind
                outcome.failures.append(
                    Failure(run_id, name, path, f"cannot be read ({type(e).__name__})"))

    def _index_file(self, repository: Any, path: str, places: Sequence[Place],
                    hasher: Pseudonymiser) -> int:
        from mlflow_compliance.subjects.dataset_files import read_whole

        data = read_whole(repository, path)
        present = set(columns_of(path, data))
        missing = [p.column for p in places if p.column not in present]
        indexed = 0
        for place in places:
            if place.column in present:
                indexed += self._add(place, ids_of(path, data, place.column), hasher)
        if missing:
            raise Unreadable("declared subject-id column(s) "
                             f"{', '.join(map(repr, missing))} not in the file")
        return indexed

    def _add(self, place: Place, ids: Iterable[str], hasher: Pseudonymiser) -> int:
        # SubjectIndex.add takes the whole stream: large sorted transactions
        return self.index.add(place, (hasher.pseudonym(i) for i in ids))


def _logged_datasets(payload: Any) -> tuple[str, list[tuple[str, str | None]]] | None:
    """(run id, [(dataset name, digest)]) of a log-inputs request as MLflow read it."""
    if not isinstance(payload, dict) or not isinstance(payload.get("run_id"), str):
        return None
    found: list[tuple[str, str | None]] = []
    for item in payload.get("datasets") or []:
        dataset = item.get("dataset") if isinstance(item, dict) else None
        if isinstance(dataset, dict) and isinstance(dataset.get("name"), str):
            digest = dataset.get("digest")
            found.append((dataset["name"], digest if isinstance(digest, str) else None))
    return (payload["run_id"], found) if found else None


def _uploaded_dataset_file(artifact_path: str) -> tuple[str, str, str, str] | None:
    """(experiment, run, dataset name, path) of ``<exp>/<run>/artifacts/datasets/<name>/...``."""
    parts = artifact_path.split("/")
    if len(parts) < 6 or parts[2] != "artifacts" or parts[3] != DATASETS_FOLDER:
        return None
    if any(p in ("", ".", "..") for p in parts):
        return None
    return parts[0], parts[1], parts[4], artifact_path


@dataclass(frozen=True)
class _Job:
    run_id: str
    index: Callable[[], Outcome]


class SubjectIndexing:
    """ASGI layer: after a dataset input or a dataset file is logged, index its ids."""

    def __init__(self, app: ASGIApp, uri: str, enabled: bool | None = None) -> None:
        self.app = app
        self.enabled = index_on_log() if enabled is None else enabled
        _log_warnings_to_stderr()
        self.indexer = DatasetIndexer(SubjectIndex.connect(uri)) if self.enabled else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        job = self._work(scope)
        if job is None:
            await self.app(scope, receive, send)
            return
        status, length, sent = 0, -1, 0
        start: Message | None = None

        async def send_after_indexing(message: Message) -> None:
            nonlocal status, length, sent, start
            if message["type"] == "http.response.start":  # held back: see below
                status, start = message["status"], message
                length = _content_length(message)
                return
            if message["type"] == "http.response.body" and status == 200:
                sent += len(message.get("body", b""))
                # complete as the audit layer sees it: last chunk, or all the bytes said
                if not message.get("more_body", False) or 0 <= length <= sent:
                    status = 0
                    await self._run(scope, job)
            if start is not None:
                await send(start)
                start = None
            await send(message)

        await self.app(scope, receive, send_after_indexing)

    def _work(self, scope: Scope) -> _Job | None:
        """What to index once MLflow has answered this request 200, if anything."""
        found = decision(scope) if scope["type"] == "http" else None
        if self.indexer is None or found is None:
            return None
        if scope["method"] == "POST" and found.route.path == LOG_INPUTS:
            logged = _logged_datasets(found.payload)
            if logged:
                return _Job(logged[0], partial(self.indexer.after_inputs, *logged))
        if scope["method"] == "PUT" and found.route.path == ARTIFACT_UPLOAD:
            uploaded = _uploaded_dataset_file(found.params.get("artifact_path", ""))
            if uploaded:
                return _Job(uploaded[1], partial(self.indexer.after_upload, *uploaded))
        return None

    async def _run(self, scope: Scope, job: _Job) -> None:
        try:
            outcome = await run_in_threadpool(job.index)
        except Exception as e:  # the write stands; the failure is said, not answered
            _log.warning("subject indexing failed: run %s: %s", job.run_id, type(e).__name__)
            _note(scope, f"failed: {type(e).__name__}")
            return
        for failure in outcome.failures:
            _log.warning("subject indexing failed: %s", failure)
        if outcome.failures:
            _note(scope, "failed: " + "; ".join(str(f) for f in outcome.failures))
        elif outcome.files:
            _note(scope, f"{outcome.ids} ids from {outcome.files} files")


def _content_length(start: Message) -> int:
    """The answer's Content-Length, -1 when it has none (or a bad one)."""
    for name, value in start.get("headers", []):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return -1
    return -1


def _note(scope: Scope, text: str) -> None:
    notes = scope.get(NOTES_KEY)
    earlier = dict(notes.decision) if notes is not None else {}
    note(scope, decision={**earlier, "indexing": text[:MAX_NOTE]})
