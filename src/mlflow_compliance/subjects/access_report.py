"""The answer to a data subject's access request, GDPR Art. 15, as one JSON-able dict.

Art. 15(1) gives the person the right to know whether their data is processed and, if
so, to get it with (a) the purposes, (b) the categories of data, (c) the recipients,
(d) how long it is kept, (e) their rights to rectification, erasure, restriction and
objection, (f) the right to complain to a supervisory authority, (g) where the data came
from when not from them, (h) automated decision-making; Art. 15(2) adds transfers to
third countries and their safeguards; Art. 15(3) a copy of the data itself.

Built on the server from what the product already keeps: the data-subject index (where
the person appears), each run's compliance record and each dataset input's record (the
answers), the dataset files of those runs (the person's own rows, decrypted), the
tracking and registry stores (what was made from those runs) and the request register
(the person's requests and their deadlines). Nothing is invented: a field the record
does not declare is ``null``, with the article that needs it. A file that cannot be
read is a problem listed in the report, never silently left out. The report calls the
person "the subject"; their id is in it only inside their own rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any

from mlflow.exceptions import MlflowException
from mlflow.store.artifact.artifact_repo import ArtifactRepository

from mlflow_compliance.paging import model_versions, pages
from mlflow_compliance.record.errors import InvalidComplianceRecord
from mlflow_compliance.record.fields import DATASET_FIELDS, FIELDS, TagField
from mlflow_compliance.subjects.dataset_files import dataset_folder, files_in, read_whole
from mlflow_compliance.subjects.declared import SUBJECT_ID_COLUMNS_TAG
from mlflow_compliance.subjects.index import Occurrence, SubjectIndex
from mlflow_compliance.subjects.requests import RequestRegister
from mlflow_compliance.subjects.rows import FORMATS, UnsupportedFormat, split_person

SUBJECT = "the subject"
NOT_LEGAL_ADVICE = "This report records and checks evidence; it is not legal advice."
_RUN_ID = re.compile(r"^[0-9a-zA-Z_-]{1,64}$")
PAGE = 1000

RIGHTS = [
    {"right": "rectification", "article": "GDPR Art. 16",
     "what": "to have inaccurate personal data corrected and incomplete data completed"},
    {"right": "erasure", "article": "GDPR Art. 17",
     "what": "to have personal data erased, on the grounds Art. 17(1) lists"},
    {"right": "restriction", "article": "GDPR Art. 18",
     "what": "to have the processing restricted, in the cases Art. 18(1) lists"},
    {"right": "objection", "article": "GDPR Art. 21",
     "what": "to object to processing based on Art. 6(1)(e) or (f), and to direct "
             "marketing at any time"},
]
COMPLAINT = ("The subject may lodge a complaint with a supervisory authority, in "
             "particular in the Member State of their habitual residence, place of work or "
             "place of the alleged infringement (GDPR Art. 77(1)).")


@dataclass(frozen=True)
class Sources:
    """Where the report reads from: the server's own stores."""

    index: SubjectIndex
    register: RequestRegister
    tracking: Any  # MLflow's tracking store
    registry: Any  # MLflow's model registry store
    artifacts: ArtifactRepository | None  # the artifact root; None: no proxied artifacts


def build_report(subject_id: str, pseudonym: bytes, sources: Sources,
                 now: datetime | None = None) -> dict[str, Any]:
    """The Art. 15 answer for the person with this id (and its index pseudonym)."""
    now = now or datetime.now(UTC)
    problems: list[dict[str, str]] = []
    occurrences = sources.index.find(pseudonym)
    places = [_place(group, subject_id, sources, problems)
              for group in _by_dataset(occurrences)]
    return {
        "generated_at": now.isoformat(timespec="seconds"),
        "subject": SUBJECT,
        "found": bool(occurrences),
        "places": places,
        "answers": _answers(places),
        "requests": requests_of(sources.register, pseudonym, now.date()),
        "problems": problems,
        "notice": NOT_LEGAL_ADVICE,
    }


def requests_of(register: RequestRegister, pseudonym: bytes,
                today: date) -> list[dict[str, Any]]:
    """The person's requests in the register (Art. 12(3) deadlines), oldest first."""
    return [r.as_dict(today) for r in register.of_subject(pseudonym)]


# --- places -----------------------------------------------------------------------


def _by_dataset(found: list[Occurrence]) -> Iterator[list[Occurrence]]:
    """The occurrences of one run's dataset (several id columns) together."""
    groups: dict[tuple[str, str, str], list[Occurrence]] = {}
    for o in found:
        groups.setdefault((o.run_id, o.dataset_name, o.dataset_digest), []).append(o)
    yield from groups.values()


def _problem(problems: list[dict[str, str]], where: str, what: str) -> None:
    problems.append({"where": where, "problem": what})


def _place(group: list[Occurrence], subject_id: str, sources: Sources,
           problems: list[dict[str, str]]) -> dict[str, Any]:
    first = group[0]
    where = f"run {first.run_id}, dataset {first.dataset_name}"
    place: dict[str, Any] = {
        "run_id": first.run_id, "experiment_id": first.experiment_id, "run_name": None,
        "dataset_name": first.dataset_name, "dataset_digest": first.dataset_digest,
        "columns": sorted({o.column for o in group}), "run_record": {},
        "dataset_record": {}, "files": [], "rows": 0,
        "made_from_it": {"logged_models": [], "model_versions": []},
    }
    try:
        run = sources.tracking.get_run(first.run_id)
    except MlflowException as e:
        _problem(problems, where, f"the run cannot be read: {_first_line(e)}")
        return place
    place["run_name"] = run.info.run_name
    place["run_status"] = run.info.lifecycle_stage
    place["run_record"] = _record(run.data.tags, FIELDS, where + " (run record)", problems)
    tags = _dataset_tags(run, first.dataset_name, first.dataset_digest)
    if tags is None:
        _problem(problems, where, "the run no longer has this dataset input")
        tags = {}
    place["dataset_record"] = _record(tags, DATASET_FIELDS, where + " (dataset record)",
                                      problems)
    columns = [c.strip() for c in (tags.get(SUBJECT_ID_COLUMNS_TAG) or "").split(",")
               if c.strip()] or place["columns"]
    place["files"] = _rows(first, columns, subject_id, sources, where, problems)
    place["rows"] = sum(len(f["rows"]) for f in place["files"])
    place["made_from_it"] = _made_from(first, sources, where, problems)
    return place


def _dataset_tags(run: Any, name: str, digest: str) -> dict[str, str] | None:
    for used in (run.inputs.dataset_inputs if run.inputs else []):
        if used.dataset.name == name and used.dataset.digest == digest:
            return {t.key: t.value for t in (used.tags or [])}
    return None


def _shown(value: Any) -> Any:
    if isinstance(value, list):
        return [_shown(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, date):
        return value.isoformat()
    return value


def _record(tags: Mapping[str, str], fields: Mapping[str, TagField], where: str,
            problems: list[dict[str, str]]) -> dict[str, Any]:
    """Tag -> value of every field of the record (None where not declared); a value the
    record's own parser refuses is None too, and a problem."""
    record: dict[str, Any] = {}
    for tag, field in fields.items():
        text = tags.get(tag)
        if text is None or not text.strip():
            record[tag] = None
            continue
        try:
            record[tag] = _shown(field.decode(text))
        except InvalidComplianceRecord as e:
            record[tag] = None
            _problem(problems, where, f"{tag}: not a valid value "
                                      f"({e.problems[0].reason if e.problems else 'refused'})")
    return record


def _rows(o: Occurrence, columns: list[str], subject_id: str, sources: Sources, where: str,
          problems: list[dict[str, str]]) -> list[dict[str, Any]]:
    """The person's rows of each file of the dataset's folder (Art. 15(3): a copy)."""
    folder = dataset_folder(o.experiment_id, o.run_id, o.dataset_name)
    if sources.artifacts is None or folder is None:
        _problem(problems, where, "the dataset's files cannot be located (no artifact "
                                  "root, or a name that is not one folder)")
        return []
    try:
        paths = files_in(sources.artifacts, folder)
    except (MlflowException, OSError) as e:
        _problem(problems, where, f"the dataset's files cannot be listed: {_first_line(e)}")
        return []
    if not paths:
        _problem(problems, where, "no dataset files under datasets/"
                                  f"{o.dataset_name}/: the subject's rows cannot be copied "
                                  "(GDPR Art. 15(3)); they may be held elsewhere")
        return []
    shown = []
    for path in paths:
        relative = f"datasets/{o.dataset_name}{path[len(folder):]}"  # as the run shows it
        if not path.lower().endswith(FORMATS):
            _problem(problems, f"{where}, file {relative}",
                     f"format not searched; allowed: {', '.join(FORMATS)}")
            continue
        try:
            split = split_person(path.rsplit("/", 1)[-1], read_whole(sources.artifacts, path),
                                 columns, subject_id)
        except UnsupportedFormat as e:
            _problem(problems, f"{where}, file {relative}", str(e))
            continue
        except (MlflowException, OSError) as e:
            _problem(problems, f"{where}, file {relative}",
                     f"cannot be read: {_first_line(e)}")
            continue
        shown.append({"path": relative, "rows": split.removed})
    return shown


def _first_line(error: Exception) -> str:
    text = error.message if isinstance(error, MlflowException) else type(error).__name__
    return str(text).splitlines()[0] if text else type(error).__name__


def _made_from(o: Occurrence, sources: Sources, where: str,
               problems: list[dict[str, str]]) -> dict[str, list[dict[str, Any]]]:
    """The logged models and model versions (with their aliases) made from the run."""
    made: dict[str, list[dict[str, Any]]] = {"logged_models": [], "model_versions": []}
    if not _RUN_ID.match(o.run_id):
        return made
    try:
        for model in pages(lambda token: sources.tracking.search_logged_models(
                experiment_ids=[o.experiment_id],
                filter_string=f"source_run_id = '{o.run_id}'", max_results=PAGE,
                page_token=token)):
            made["logged_models"].append({"model_id": model.model_id, "name": model.name})
        if sources.registry is not None:
            for version in model_versions(sources.registry, f"run_id = '{o.run_id}'",
                                          page_size=PAGE):
                made["model_versions"].append({
                    "name": version.name, "version": str(version.version),
                    "stage": version.current_stage,
                    "aliases": _aliases(sources.registry, version.name, str(version.version)),
                    "tags": {k: v for k, v in (version.tags or {}).items()
                             if k.startswith("compliance.")},
                })
    except MlflowException as e:
        _problem(problems, where, f"what was made from the run cannot be read: "
                                  f"{_first_line(e)}")
    made["logged_models"].sort(key=lambda m: m["model_id"])
    made["model_versions"].sort(key=lambda v: (v["name"], int(v["version"])))
    return made


def _aliases(registry: Any, name: str, version: str) -> list[str]:
    """The aliases pointing at the version (a version searched has none filled in)."""
    aliases = registry.get_registered_model(name).aliases or {}
    if isinstance(aliases, dict):
        return sorted(a for a, v in aliases.items() if str(v) == version)
    return sorted(a.alias for a in aliases if str(a.version) == version)


# --- the answers, letter by letter ------------------------------------------------


def _item(place: dict[str, Any], record: str, tag: str, needed_by: str,
          fields: Mapping[str, TagField]) -> dict[str, Any]:
    value = place[record].get(tag)
    item = {"run_id": place["run_id"], "dataset_name": place["dataset_name"],
            "record": "dataset" if record == "dataset_record" else "run", "field": tag,
            "field_article": fields[tag].article, "value": value}
    if value is None:
        item["missing"] = (f"not declared in the {record.replace('_', ' ')}: {tag} "
                           f"({fields[tag].article}); {needed_by} needs it")
    return item


def _letter(article: str, title: str, places: list[dict[str, Any]],
            wanted: list[tuple[str, str]]) -> dict[str, Any]:
    items = [_item(p, record, tag, article,
                   DATASET_FIELDS if record == "dataset_record" else FIELDS)
             for p in places for record, tag in wanted]
    return {"article": article, "title": title, "items": items}


def _answers(places: list[dict[str, Any]]) -> dict[str, Any]:
    run = "run_record"
    data = "dataset_record"
    return {
        "15(1)(a)": _letter("GDPR Art. 15(1)(a)", "The purposes of the processing", places, [
            (run, "compliance.gdpr.purpose"), (run, "compliance.gdpr.lawful_basis"),
            (run, "compliance.ai_act.intended_purpose")]),
        "15(1)(b)": _letter("GDPR Art. 15(1)(b)", "The categories of personal data", places, [
            (data, "compliance.gdpr.data_categories"),
            (data, "compliance.gdpr.special_categories"),
            (run, "compliance.gdpr.data_categories"),
            (run, "compliance.gdpr.special_categories"),
            (run, "compliance.gdpr.special_category_ground")]),
        "15(1)(c)": _letter("GDPR Art. 15(1)(c)", "The recipients to whom the data is "
                            "disclosed", places, [(run, "compliance.gdpr.recipients")]),
        "15(1)(d)": _letter("GDPR Art. 15(1)(d)", "How long the data is kept", places, [
            (run, "compliance.gdpr.retention_period"),
            (run, "compliance.gdpr.retention_until")]),
        "15(1)(e)": {**_letter(
            "GDPR Art. 15(1)(e)",
            "The right to rectification, erasure, restriction and objection", places, [
                (run, "compliance.gdpr.controller_contact"),
                (run, "compliance.gdpr.dpo_contact")]), "rights": RIGHTS,
            "how": "Ask the controller (contacts above); each request is recorded in the "
                   "register and answered within one month (GDPR Art. 12(3))."},
        "15(1)(f)": {"article": "GDPR Art. 15(1)(f)",
                     "title": "The right to lodge a complaint", "value": COMPLAINT},
        "15(1)(g)": _letter("GDPR Art. 15(1)(g)", "Where the data came from", places, [
            (data, "compliance.dataset.origin")]),
        "15(1)(h)": _letter("GDPR Art. 15(1)(h)", "Automated decision-making, including "
                            "profiling", places, [
                                (run, "compliance.gdpr.automated_decisions"),
                                (run, "compliance.ai_act.risk_class"),
                                (run, "compliance.ai_act.annex_iii_area"),
                                (run, "compliance.ai_act.human_overseer")]),
        "15(2)": _letter("GDPR Art. 15(2)", "Transfers to third countries and their "
                         "safeguards", places, [
                             (run, "compliance.gdpr.transfers_outside_eu"),
                             (run, "compliance.gdpr.transfer_safeguard")]),
        "15(3)": {"article": "GDPR Art. 15(3)", "title": "A copy of the personal data",
                  "rows": sum(p["rows"] for p in places),
                  "value": "the subject's own rows, per dataset file, under places[].files"},
    }


__all__ = ["SUBJECT", "Sources", "build_report", "requests_of"]
