"""Authorization checks the object MLflow acts on, whatever the spelling of the request.

A differential test over the route table. Set A (an experiment, a run with a param, tag,
metric, dataset and artifacts, a logged model with files, a registered model with a
version and an alias, traces (one with span data, one assessed), an evaluation dataset
with a record, a scorer) is managed by ``mallory``; set B, alike, is not hers. For every
route whose resource is resolved and whose permission is read, edit or manage, each
field the route names its resource by (``where``) is spelled so that one spelling names
A and another names B: ``x[]`` beside ``x``, the key twice, camelCase beside snake_case
in a JSON body, the route's other field (``run_uuid`` beside ``run_id``), the query of
a POST, the body of a GET, a JSON body sent as a JSON string, dot segments in a path;
for a field nested in the body (``trace.trace_info...experiment_id``,
``locations[].mlflow_experiment.experiment_id``) the same at its own level and at each
object or list on the way to it. Mallory sends every spelling.

Each must be refused (400, 403 or 404), or served with no trace of B in the answer; and
after it, B must be unchanged where MLflow keeps it: its rows in MLflow's database and
its files in the artifact store, read directly. Values are unique per case, so a write
that lands on B is traced. A control first shows each route's canonical request is
served on A and not on B, so no spelling passes only because the request was malformed.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from mlflow_compliance.server.authorization.table import (
    ROUTES,
    Permission,
    Resource,
    Route,
    Source,
    Where,
)
from mlflow_compliance.settings import Settings
from mlflow_compliance.testing import MINIMUM_RECORD, Server, mlflow_routes

PASSWORD = "correct horse battery"
REFUSED = {400, 403, 404}
TIMEOUT = 60

RESOLVED = {
    Resource.EXPERIMENT, Resource.EXPERIMENT_NAME, Resource.RUN, Resource.LOGGED_MODEL,
    Resource.ARTIFACT, Resource.REGISTERED_MODEL, Resource.MODEL_VERSION,
    Resource.TRACE, Resource.DATASET,
}
# GenAI routes left out, with the reason; test_genai_access.py covers their authorization
# end to end.
GENAI_NOT_YET: dict[str, str] = {
    "trace.filter_correlation.calculate": "answers counts only, naming nothing of A or B, "
    "so a read that lands on B cannot be seen (SILENT_READS is at its limit)",
    "evaluation_dataset.experiments.read": "answers experiment ids only, naming nothing of A "
    "(SILENT_READS is at its limit)",
}
CHECKED = [
    r for r in ROUTES
    if r.resource in RESOLVED
    and r.permission in (Permission.READ, Permission.EDIT, Permission.MANAGE)
    and r.action not in GENAI_NOT_YET
]

# Other spellings MLflow's handlers accept for the same object (``run_id or run_uuid``).
ALIASES = {"run_id": ("run_uuid",), "run_uuid": ("run_id",), "artifact_path": ("path",)}

# Routes no variant can exercise, with the reason. Kept small by a test below.
EXCLUDED: dict[str, str] = {}
# Routes whose canonical request on A mallory cannot get served either, so their
# spellings can only be refused: sent all the same, and kept few.
UNSERVED_ON_A = {
    "model_version.approve": "the promotion gate lets only an approver sign off (403)",
    "model_version.approve.browser": "a sign-off from the browser needs the CSRF token of "
                                     "the version page's form, made for an approver (403)",
    "experiment.dataset.search.via_misspelled_route": "MLflow answers the misspelling 404",
}
# Canonical reads on A whose answer names nothing of A, with the reason.
SILENT_READS = {"model_version.approval.list": "A's version has no sign-off to list"}


# --- the two object sets ---------------------------------------------------------------


@dataclass(frozen=True)
class ObjectSet:
    """One experiment's worth of objects; every name and value carries ``marker``."""

    marker: str
    experiment_id: str
    experiment_name: str
    run_id: str
    logged_model_id: str
    model_name: str
    stamp: int  # the timestamp of its "loss" metric: a metric history shows no run id
    version: str = "1"
    artifact_file: str = "data.txt"
    trace_id: str = ""  # a trace in its experiment, tagged with the marker
    dataset_id: str = ""  # an evaluation dataset of its experiment, named by the marker
    assessment_id: str = ""  # an assessment of its trace, named by the marker

    @property
    def artifacts(self) -> str:
        """The run's folder in the artifact proxy."""
        return f"{self.experiment_id}/{self.run_id}/artifacts"


def named(s: ObjectSet, route: Route, u: str) -> str:
    """How ``route`` names the object of set ``s`` it touches."""
    r = route.resource
    if r is Resource.EXPERIMENT:
        return s.experiment_id
    if r is Resource.EXPERIMENT_NAME:
        return s.experiment_name
    if r is Resource.RUN:
        return s.run_id
    if r is Resource.LOGGED_MODEL:
        return s.logged_model_id
    if r is Resource.TRACE:
        return s.trace_id
    if r is Resource.DATASET:
        return s.dataset_id
    if r is Resource.ARTIFACT:
        if route.action == "artifact.list":
            return s.artifacts
        if route.action == "artifact.upload":
            return f"{s.artifacts}/upload-{u}.txt"
        return f"{s.artifacts}/{s.artifact_file}"
    return s.model_name  # REGISTERED_MODEL, MODEL_VERSION


class Http:
    """One keep-alive session to the server; every call names who sends it."""

    def __init__(self, server: Server) -> None:
        self.url = server.url
        self.session = requests.Session()

    def request(self, who: tuple[str, str], method: str, path: str, body: Any = None,
                **kwargs: Any) -> requests.Response:
        if body is not None and method == "GET":
            kwargs["params"] = body
        elif body is not None:
            kwargs["json"] = body
        return self.session.request(method, self.url + path, auth=who, timeout=TIMEOUT,
                                    **kwargs)

    def ok(self, who: tuple[str, str], method: str, path: str, body: Any = None,
           **kwargs: Any) -> Any:
        r = self.request(who, method, path, body, **kwargs)
        assert r.status_code == 200, f"{method} {path}: {r.status_code} {r.text[:500]}"
        return r.json() if r.content else {}


def make_set(http: Http, who: tuple[str, str], label: str) -> ObjectSet:
    marker = f"{label}-{uuid.uuid4().hex[:10]}"
    stamp = 10**14 + uuid.uuid4().int % 10**14  # 15 digits: inside no 13-digit timestamp
    tags = [{"key": "team", "value": marker}]
    eid = http.ok(who, "POST", "/api/2.0/mlflow/experiments/create",
                  {"name": f"{marker}-exp", "tags": tags})["experiment_id"]
    record = [{"key": k, "value": v} for k, v in MINIMUM_RECORD.items()]
    rid = http.ok(who, "POST", "/api/2.0/mlflow/runs/create", {
        "experiment_id": eid, "run_name": f"{marker}-run", "tags": tags + record,
        "start_time": 1,
    })["run"]["info"]["run_id"]
    http.ok(who, "POST", "/api/2.0/mlflow/runs/log-parameter",
            {"run_id": rid, "key": "alpha", "value": marker})
    http.ok(who, "POST", "/api/2.0/mlflow/runs/log-metric",
            {"run_id": rid, "key": "loss", "value": 0.5, "timestamp": stamp, "step": 0})
    http.ok(who, "POST", "/api/2.0/mlflow/runs/log-inputs", {"run_id": rid, "datasets": [{
        "dataset": {"name": f"{marker}-ds", "digest": "d1", "source_type": "local",
                    "source": "{}"},
        "tags": [],
    }]})
    folder = f"{eid}/{rid}/artifacts"
    for name, content in [("data.txt", f"{marker} data"), (f"{marker}.txt", marker),
                          ("model/MLmodel", f"{marker} MLmodel")]:
        http.ok(who, "PUT", f"/api/2.0/mlflow-artifacts/artifacts/{folder}/{name}",
                data=content.encode())
    mid = http.ok(who, "POST", "/api/2.0/mlflow/logged-models", {
        "experiment_id": eid, "name": f"{marker}-lm", "source_run_id": rid, "tags": tags,
        "params": [{"key": "alpha", "value": marker}],
    })["model"]["info"]["model_id"]
    for name, content in [("MLmodel", f"{marker} logged MLmodel"), (f"{marker}.txt", marker)]:
        http.ok(who, "PUT", f"/api/2.0/mlflow-artifacts/artifacts/{eid}/models/{mid}/artifacts/"
                f"{name}", data=content.encode())
    model = f"{marker}-model"
    http.ok(who, "POST", "/api/2.0/mlflow/registered-models/create",
            {"name": model, "tags": tags, "description": marker})
    version = http.ok(who, "POST", "/api/2.0/mlflow/model-versions/create", {
        "name": model, "source": f"mlflow-artifacts:/{folder}/model", "run_id": rid,
        "tags": tags, "description": marker,
    })["model_version"]["version"]
    assert version == "1"
    http.ok(who, "POST", "/api/2.0/mlflow/registered-models/alias",
            {"name": model, "alias": "candidate", "version": version})
    # A trace with a span (exported as OTLP, so MLflow keeps its span data), tagged.
    otel_id = uuid.uuid4().hex
    http.ok(who, "POST", "/v1/traces", {"resourceSpans": [{"scopeSpans": [{"spans": [{
        "traceId": otel_id, "spanId": uuid.uuid4().hex[:16], "name": marker,
        "startTimeUnixNano": "1704067200000000000", "endTimeUnixNano": "1704067200005000000",
    }]}]}]}, headers={"x-mlflow-experiment-id": eid})
    trace_id = f"tr-{otel_id}"
    # And one started as MLflow's client starts it, named by the marker (metrics group
    # traces by name).
    http.ok(who, "POST", "/api/3.0/mlflow/traces",
            start_trace(eid, f"tr-{uuid.uuid4().hex}", marker))
    http.ok(who, "PATCH", f"/api/3.0/mlflow/traces/{trace_id}/tags",
            {"key": "team", "value": marker})
    assessment_id = make_assessment(http, who, trace_id, marker)
    dataset_id = make_dataset(http, who, eid, f"{marker}-eval", marker)
    http.ok(who, "POST", f"/api/3.0/mlflow/datasets/{dataset_id}/records", {
        "records": json.dumps([{"inputs": {"q": marker}, "expectations": {"a": marker}}])})
    register_scorer(http, who, eid, SCORER, marker)
    return ObjectSet(marker, eid, f"{marker}-exp", rid, mid, model, stamp,
                     trace_id=trace_id, dataset_id=dataset_id, assessment_id=assessment_id)


def assessment(name: str) -> dict[str, Any]:
    """An Assessment message as MLflow's client sends it (its trace is the path's)."""
    return {"assessment_name": name, "source": {"source_type": "HUMAN", "source_id": name},
            "create_time": "2024-01-01T00:00:00Z", "last_update_time": "2024-01-01T00:00:00Z",
            "feedback": {"value": 1}, "rationale": name}


def make_assessment(http: Http, who: tuple[str, str], trace_id: str, name: str) -> str:
    return str(http.ok(who, "POST", f"/api/3.0/mlflow/traces/{trace_id}/assessments",
                       {"assessment": assessment(name)})["assessment"]["assessment_id"])


# Every set has a scorer of this name (its payload carries the set's marker), so a read
# of it that lands on B shows B's marker.
SCORER = "judge"


def serialized_scorer(name: str) -> str:
    """A builtin scorer, the kind plain MLflow registers (custom code it refuses)."""
    return json.dumps({
        "name": name, "builtin_scorer_class": "RelevanceToQuery",
        "builtin_scorer_pydantic_data": {"name": name},
        "mlflow_version": "3.17.2", "serialization_version": 1,
    })


def make_dataset(http: Http, who: tuple[str, str], eid: str, name: str, marker: str) -> str:
    return str(http.ok(who, "POST", "/api/3.0/mlflow/datasets/create", {
        "name": name, "experiment_ids": [eid], "tags": json.dumps({"team": marker}),
    })["dataset"]["dataset_id"])


def register_scorer(http: Http, who: tuple[str, str], eid: str, name: str, marker: str) -> None:
    http.ok(who, "POST", "/api/3.0/mlflow/scorers/register", {
        "experiment_id": eid, "name": name, "serialized_scorer": serialized_scorer(marker)})


def start_trace(eid: str | None, trace_id: str, label: str) -> dict[str, Any]:
    """A StartTraceV3 body as MLflow's client sends it (``TraceInfo.to_proto``)."""
    location: dict[str, Any] = {"type": "MLFLOW_EXPERIMENT"}
    if eid is not None:
        location["mlflow_experiment"] = {"experiment_id": eid}
    return {"trace": {"trace_info": {
        "trace_id": trace_id, "trace_location": location,
        "request_preview": label, "response_preview": label,
        "request_time": "2024-01-01T00:00:00Z", "execution_duration": "0.005s",
        "state": "OK", "trace_metadata": {"label": label},
        "tags": {"mlflow.traceName": label, "team": label},
    }}}


class Ground:
    """What MLflow actually stored for a set: its rows in MLflow's database and its files
    in the artifact store, read directly (a write lands there whatever the API shows)."""

    def __init__(self, server: Server) -> None:
        settings = Settings(server.home, backend_store_uri=server.backend_store_uri)
        self.engine = sa.create_engine(settings.store_uri)
        self.artifacts = Path(settings.artifacts_uri)
        inspector = sa.inspect(self.engine)
        # Per table: its rows where any column holds one of the set's ids or names.
        self.queries = {}
        for table in sorted(inspector.get_table_names()):
            columns = [c["name"] for c in inspector.get_columns(table)]
            tests = [f'CAST("{c}" AS TEXT) IN (:run, :model, :name, :experiment_name, '
                     ':trace, :dataset)' for c in columns]
            tests += [f'CAST("{c}" AS TEXT) = :experiment' for c in columns
                      if c == "experiment_id"]
            self.queries[table] = sa.text(f'SELECT * FROM "{table}" WHERE {" OR ".join(tests)}')

    def of(self, s: ObjectSet) -> dict[str, Any]:
        """Every row naming one of the set's objects, and every file in its folder."""
        ids = {"run": s.run_id, "model": s.logged_model_id, "name": s.model_name,
               "experiment_name": s.experiment_name, "experiment": s.experiment_id,
               "trace": s.trace_id, "dataset": s.dataset_id}
        seen: dict[str, Any] = {}
        with self.engine.connect() as c:
            for table, query in self.queries.items():
                rows = sorted(repr(tuple(row)) for row in c.execute(query, ids))
                if rows:
                    seen[table] = rows
        folder = self.artifacts / s.experiment_id
        seen["artifact files"] = sorted(
            (str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns)
            for p in folder.rglob("*") if p.is_file()
        )
        return seen


def intact(http: Http, admin: tuple[str, str], s: ObjectSet) -> bool:
    """Whether every object of the set is still there under its name, as the admin sees."""
    run = http.request(admin, "GET", "/api/2.0/mlflow/runs/get", {"run_id": s.run_id})
    experiment = http.request(admin, "GET", "/api/2.0/mlflow/experiments/get-by-name",
                              {"experiment_name": s.experiment_name})
    reads = [
        ("GET", "/api/2.0/mlflow/model-versions/get",
         {"name": s.model_name, "version": s.version}),
        ("GET", f"/api/2.0/mlflow/logged-models/{s.logged_model_id}", None),
        ("GET", "/get-artifact", {"run_id": s.run_id, "path": s.artifact_file}),
    ]
    return (
        run.status_code == 200 and run.json()["run"]["info"]["lifecycle_stage"] == "active"
        and experiment.status_code == 200
        and experiment.json()["experiment"]["lifecycle_stage"] == "active"
        and all(http.request(admin, *read).status_code == 200 for read in reads)
    )


# --- requests and their spellings ------------------------------------------------------


class Obj(tuple[tuple[str, Any], ...]):
    """A JSON object kept as key/value pairs, so a key can repeat at any level."""


def dump(value: Any) -> str:
    """JSON text of ``value``; an ``Obj`` keeps its repeated keys."""
    if isinstance(value, dict):
        value = Obj(value.items())
    if isinstance(value, Obj):
        return "{" + ", ".join(f"{json.dumps(k)}: {dump(v)}" for k, v in value) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(dump(v) for v in value) + "]"
    return json.dumps(value)


@dataclass(frozen=True)
class Call:
    """One request; the JSON body is kept as key/value pairs so a key can repeat."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...] = ()
    body: tuple[tuple[str, Any], ...] | None = None
    raw: bytes | None = None  # a file's bytes instead of a JSON body
    as_string: bool = False  # the JSON body sent as a JSON string (MLflow decodes it twice)

    def add_query(self, *pairs: tuple[str, str], first: bool = False) -> Call:
        return replace(self, query=(*pairs, *self.query) if first else (*self.query, *pairs))

    def drop_query(self, *keys: str) -> Call:
        return replace(self, query=tuple(p for p in self.query if p[0] not in keys))

    def add_body(self, *pairs: tuple[str, Any], first: bool = False) -> Call:
        old = self.body or ()
        return replace(self, body=(*pairs, *old) if first else (*old, *pairs))

    def drop_body(self, *keys: str) -> Call:
        return replace(self, body=tuple(p for p in self.body or () if p[0] not in keys))

    def json_text(self) -> str:
        text = dump(Obj(self.body or ()))
        return json.dumps(text) if self.as_string else text

    def send(self, http: Http, who: tuple[str, str]) -> requests.Response:
        headers, data = {}, None
        if self.raw is not None:
            headers["Content-Type"], data = "application/octet-stream", self.raw
        elif self.body is not None:
            headers["Content-Type"], data = "application/json", self.json_text().encode()
        return http.session.request(self.method, http.url + self.path, params=list(self.query),
                                    data=data, headers=headers, auth=who, timeout=TIMEOUT)

    def __str__(self) -> str:
        query = "&".join(f"{k}={v}" for k, v in self.query)
        text = f"{self.method} {self.path}" + (f"?{query}" if query else "")
        if self.body is not None:
            text += f" {self.json_text()}"
        return text


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@dataclass(frozen=True)
class Variant:
    """A way to spell ``where`` so one spelling names A (``a``) and another B (``b``)."""

    name: str
    where: Where
    build: Callable[[Call, str, str], Call]


def _query_variants(route: Route, w: Where) -> list[Variant]:
    f = w.name
    others = [x.name for x in route.where if x.source is Source.QUERY and x.name != f]
    aliases = [g for g in dict.fromkeys([*others, *ALIASES.get(f, ())]) if g != f]
    own = [x.name for x in route.where if x.source is Source.QUERY]

    def start(c: Call, a: str) -> Call:  # f names A; the route's other fields are absent
        return c.drop_query(*own).add_query((f, a), first=True)

    found = [
        Variant(f"{f}=A&{f}[]=B", w, lambda c, a, b: start(c, a).add_query((f + "[]", b))),
        Variant(f"{f}[]=A&{f}=B", w, lambda c, a, b: start(c, a).drop_query(f).add_query(
            (f + "[]", a), (f, b), first=True)),
        Variant(f"{f}[]=A", w, lambda c, a, b: start(c, a).drop_query(f).add_query(
            (f + "[]", a), first=True)),
        Variant(f"{f}=A&{f}=B", w, lambda c, a, b: start(c, a).add_query((f, b))),
        Variant(f"{f}=B&{f}=A", w, lambda c, a, b: start(c, a).add_query((f, b), first=True)),
        Variant(f"{f}=&{f}=A", w, lambda c, a, b: start(c, a).add_query((f, ""), first=True)),
    ]
    if camel(f) != f:
        found.append(Variant(f"{f}=A&{camel(f)}=B", w,
                             lambda c, a, b: start(c, a).add_query((camel(f), b))))
    for g in aliases:
        found += [
            Variant(f"{f}=A&{g}=B", w,
                    lambda c, a, b, g=g: start(c, a).add_query((g, b))),
            Variant(f"{f}[]=A&{g}=B", w, lambda c, a, b, g=g: start(c, a).drop_query(f).add_query(
                (f + "[]", a), (g, b), first=True)),
            Variant(f"{f}=&{f}=A&{g}=B", w, lambda c, a, b, g=g: start(c, a).add_query(
                (f, ""), first=True).add_query((g, b))),
        ]
    if route.method == "GET":

        def body_only(c: Call, a: str, b: str) -> Call:
            rest = [p for p in start(c, a).query if p[0] != f]
            return replace(c, query=()).add_body((f, [b] if w.many else b), *rest)

        # MLflow reads a GET's JSON body when the query string is empty.
        found += [
            Variant(f"{f}=A, body {f}:B", w,
                    lambda c, a, b: start(c, a).add_body((f, [b] if w.many else b))),
            Variant(f"body {f}:B, no query", w, body_only),
        ]
    return found


def _json_variants(route: Route, w: Where) -> list[Variant]:
    f = w.name
    others = [x.name for x in route.where if x.source is Source.JSON and x.name != f]
    aliases = [g for g in dict.fromkeys([*others, *ALIASES.get(f, ())]) if g != f]
    names = [f, *aliases]

    def v(x: str) -> Any:
        return [x] if w.many else x

    def start(c: Call, a: str) -> Call:  # f names A; its other spellings are absent
        return c.drop_body(*names, *map(camel, names)).add_body((f, v(a)), first=True)

    found = [
        Variant(f"{f}:A,{f}:B", w, lambda c, a, b: start(c, a).add_body((f, v(b)), first=False)),
        Variant(f"{f}:B,{f}:A", w, lambda c, a, b: start(c, a).add_body((f, v(b)), first=True)),
        Variant(f"{f}:A, query {f}=B", w, lambda c, a, b: start(c, a).add_query((f, b))),
    ]
    if w.many:
        found.append(Variant(f"{f}:[A,B]", w, lambda c, a, b: start(c, a).drop_body(f).add_body(
            (f, [a, b]), first=True)))
    for x in names:
        for y in names:
            if camel(y) == y:
                continue
            found.append(Variant(
                f"{x}:A,{camel(y)}:B", w,
                lambda c, a, b, x=x, y=y: start(c, a).drop_body(f).add_body(
                    (x, v(a)), (camel(y), v(b)), first=True)))
    if camel(f) != f:
        found.append(Variant(f"{camel(f)}:B only", w, lambda c, a, b: start(c, a).drop_body(
            f).add_body((camel(f), v(b)), first=True)))
        for x in names:
            found.append(Variant(
                f"JSON string of {x}:A,{camel(f)}:B", w,
                lambda c, a, b, x=x: replace(start(c, a).drop_body(f).add_body(
                    (x, v(a)), (camel(f), v(b)), first=True), as_string=True)))
    for g in aliases:
        found.append(Variant(f"{f}:A,{g}:B", w, lambda c, a, b, g=g: start(c, a).add_body(
            (g, v(b)))))
    return found


def _path_variants(route: Route, w: Where) -> list[Variant]:
    f = w.name
    spellings = [f, *ALIASES.get(f, ())]

    def dotted(c: Call, a: str, b: str) -> Call:
        # Percent-encoded so the client sends the dot segments as they are.
        up = "/".join(["%2E%2E"] * len(a.split("/")))
        return replace(c, path=c.path.replace(a, f"{a}/{up}/{b}", 1))

    found = [Variant("path A/../B", w, dotted)]
    for g in spellings:
        found += [
            Variant(f"path A, query {g}=B", w, lambda c, a, b, g=g: c.add_query((g, b))),
            Variant(f"path A, body {g}:B", w, lambda c, a, b, g=g: c.drop_body(g).add_body(
                (g, b), first=True)),
        ]
        if camel(g) != g:
            found.append(Variant(f"path A, body {camel(g)}:B", w, lambda c, a, b, g=g: c.add_body(
                (camel(g), b), first=True)))
    return found


def _key(part: str) -> str:
    return part[:-2] if part.endswith("[]") else part


def _nest(parts: list[str], value: Any) -> Any:
    """The body fragment that holds ``value`` at the dotted name ``parts``."""
    if not parts:
        return value
    inner = _nest(parts[1:], value)
    return {_key(parts[0]): [inner] if parts[0].endswith("[]") else inner}


def _merge(x: Any, y: Any) -> Any:
    if isinstance(x, dict) and isinstance(y, dict):
        return {**x, **{k: _merge(x[k], v) if k in x else v for k, v in y.items()}}
    if isinstance(x, list) and isinstance(y, list) and len(x) == len(y):
        return [_merge(p, q) for p, q in zip(x, y, strict=True)]
    return y


def _rewrite(value: Any, parts: list[str], fn: Callable[[dict[str, Any]], Any]) -> Any:
    """``value`` with the object that holds field ``parts[-1]`` put through ``fn``; an
    ``x[]`` part goes into the list's first item."""
    if len(parts) == 1:
        return fn(value)
    key = _key(parts[0])
    inner = value[key]
    if parts[0].endswith("[]"):
        return {**value, key: [_rewrite(inner[0], parts[1:], fn), *inner[1:]]}
    return {**value, key: _rewrite(inner, parts[1:], fn)}


def _edit(c: Call, parts: list[str], fn: Callable[[dict[str, Any]], Any]) -> Call:
    out = _rewrite(dict(c.body or ()), parts, fn)
    return replace(c, body=tuple(out) if isinstance(out, Obj) else tuple(out.items()))


def _nested_variants(route: Route, w: Where) -> list[Variant]:
    """Spellings of a dotted body name (``trace.trace_info...experiment_id``,
    ``locations[].mlflow_experiment.experiment_id``), at the field's own level and at
    every object or list on the way to it."""
    parts = w.name.split(".")
    leaf = parts[-1]

    def at(parts: list[str], fn: Callable[[dict[str, Any], str, str], Any]) -> Callable[
            [Call, str, str], Call]:
        return lambda c, a, b: _edit(c, parts, lambda d: fn(d, a, b))

    found = [
        Variant(f"{w.name}: {leaf}:A,{leaf}:B", w,
                at(parts, lambda d, a, b: Obj([*d.items(), (leaf, b)]))),
        Variant(f"{w.name}: {leaf}:B,{leaf}:A", w,
                at(parts, lambda d, a, b: Obj([(leaf, b), *d.items()]))),
        Variant(f"{w.name}: {leaf}:A, query {leaf}=B", w, lambda c, a, b: c.add_query((leaf, b))),
        Variant(f"{w.name}: A, query {w.name}=B", w, lambda c, a, b: c.add_query((w.name, b))),
    ]
    if camel(leaf) != leaf:
        both = at(parts, lambda d, a, b: Obj([*d.items(), (camel(leaf), b)]))
        found += [
            Variant(f"{w.name}: {leaf}:A,{camel(leaf)}:B", w, both),
            Variant(f"{w.name}: {camel(leaf)}:B only", w, at(parts, lambda d, a, b: Obj(
                [(camel(leaf), b) if k == leaf else (k, v) for k, v in d.items()]))),
            Variant(f"JSON string of {w.name}: {leaf}:A,{camel(leaf)}:B", w,
                    lambda c, a, b: replace(both(c, a, b), as_string=True)),
        ]
    for i, p in enumerate(parts[:-1]):
        k, rest, listed = _key(p), parts[i + 1:], p.endswith("[]")

        def with_b(sub: Any, b: str, rest: list[str] = rest, listed: bool = listed) -> Any:
            def set_b(d: dict[str, Any]) -> Any:
                return {**d, leaf: b}
            return [_rewrite(sub[0], rest, set_b)] if listed else _rewrite(sub, rest, set_b)

        here = parts[:i + 1]
        found.append(Variant(f"{w.name}: {k}:A,{k}:B", w, at(
            here, lambda d, a, b, k=k, wb=with_b: Obj([*d.items(), (k, wb(d[k], b))]))))
        if camel(k) != k:
            found += [
                Variant(f"{w.name}: {k}:A,{camel(k)}:B", w, at(
                    here, lambda d, a, b, k=k, wb=with_b: Obj(
                        [*d.items(), (camel(k), wb(d[k], b))]))),
                Variant(f"{w.name}: {camel(k)}:B only", w, at(
                    here, lambda d, a, b, k=k, wb=with_b: Obj(
                        [(camel(k), wb(v, b)) if x == k else (x, v) for x, v in d.items()]))),
            ]
        if listed:
            found += [
                Variant(f"{w.name}: {k}:[A,B]", w, at(
                    here, lambda d, a, b, k=k, wb=with_b: {**d, k: [*d[k], *wb(d[k], b)]})),
                Variant(f"{w.name}: {k}:[B,A]", w, at(
                    here, lambda d, a, b, k=k, wb=with_b: {**d, k: [*wb(d[k], b), *d[k]]})),
            ]

    def all_camel(value: Any, parts: list[str], b: str) -> Any:
        k = _key(parts[0])
        if len(parts) == 1:
            new: Any = b
        elif parts[0].endswith("[]"):
            new = [all_camel(value[k][0], parts[1:], b)]
        else:
            new = all_camel(value[k], parts[1:], b)
        return {(camel(x) if x == k else x): (new if x == k else v) for x, v in value.items()}

    found.append(Variant(f"{w.name}: camelCase at every level, B only", w, lambda c, a, b: replace(
        c, body=tuple(all_camel(dict(c.body or ()), parts, b).items()))))
    return found


def variants(route: Route) -> list[Variant]:
    found: list[Variant] = []
    for w in route.where:
        if w.source is Source.QUERY:
            found += _query_variants(route, w)
        elif w.source is Source.JSON and ("." in w.name or "[]" in w.name):
            found += _nested_variants(route, w)
        elif w.source is Source.JSON:
            found += _json_variants(route, w)
        else:
            found += _path_variants(route, w)
    if route.action in RAW_BODY:  # the body is the file: no JSON spelling to try
        found = [v for v in found if "body" not in v.name]
    # Two fields of one route (run_id, run_uuid) give some spellings twice.
    unique: dict[str, Variant] = {}
    for v in found:
        unique.setdefault(v.name, v)
    return list(unique.values())


# --- what each route needs besides the object it names ----------------------------------

Extras = Callable[[str, ObjectSet], dict[str, Any]]


def _none(u: str, a: ObjectSet) -> dict[str, Any]:
    return {}


def _tag(u: str, a: ObjectSet) -> dict[str, Any]:
    return {"key": f"k-{u}", "value": f"v-{u}"}


def _version(**more: Any) -> Extras:
    return lambda u, a: {"version": "1", **more}


# Keys "path:<name>" fill the route's other path parameters.
EXTRAS: dict[str, Extras] = {
    "experiment.read": _none,
    "experiment.read_by_name": _none,
    "experiment.rename": lambda u, a: {"new_name": f"renamed-{u}"},
    "experiment.delete": _none,
    "experiment.restore": _none,
    "experiment.tag.set": _tag,
    "experiment.tag.delete": lambda u, a: {"key": "team"},
    "experiment.dataset.search": _none,
    "experiment.dataset.search.via_misspelled_route": _none,
    "run.create": lambda u, a: {"run_name": f"run-{u}", "start_time": 1},
    "run.promptlab.create": lambda u, a: {
        "run_name": f"lab-{u}", "prompt_template": "say {{ q }}",
        "prompt_parameters": [{"key": "q", "value": "hi"}], "model_route": "chat",
        "model_input": "say hi", "mlflow_version": "3.17.2",
    },
    "run.read": _none,
    "run.search": _none,
    "run.update": lambda u, a: {"run_name": f"renamed-{u}", "status": "FINISHED",
                                "end_time": 2},
    "run.delete": _none,
    "run.restore": _none,
    "run.tag.set": _tag,
    "run.tag.delete": lambda u, a: {"key": "team"},
    "run.metric.log": lambda u, a: {"key": f"m-{u}", "value": 1.0, "timestamp": 2,
                                    "step": 0},
    "run.param.log": lambda u, a: {"key": f"p-{u}", "value": f"v-{u}"},
    "run.batch.log": lambda u, a: {
        "metrics": [{"key": f"m-{u}", "value": 1.0, "timestamp": 2, "step": 0}],
        "params": [{"key": f"p-{u}", "value": f"v-{u}"}],
        "tags": [{"key": f"t-{u}", "value": f"v-{u}"}],
    },
    "run.model.log": lambda u, a: {"model_json": json.dumps({
        "artifact_path": f"model-{u}", "flavors": {}, "run_id": a.run_id,
        "utc_time_created": "2024-01-01 00:00:00.000000",
    })},
    "run.inputs.log": lambda u, a: {"datasets": [{
        "dataset": {"name": f"ds-{u}", "digest": u, "source_type": "local", "source": "{}"},
        "tags": [],
    }]},
    "run.outputs.log": lambda u, a: {"models": [{"model_id": a.logged_model_id, "step": 0}]},
    "run.metric.history.read": lambda u, a: {"metric_key": "loss"},
    "run.metric.history.read_bulk": lambda u, a: {"metric_key": "loss"},
    "run.metric.history.read_bulk_interval": lambda u, a: {"metric_key": "loss"},
    "run.artifact.list": _none,
    "run.artifact.download": lambda u, a: {"path": "data.txt"},
    "run.artifact.upload": lambda u, a: {"path": f"upload-{u}.txt"},
    "artifact.list": _none,
    "artifact.download": _none,
    "artifact.upload": _none,
    "artifact.delete": _none,
    "logged_model.create": lambda u, a: {"name": f"lm-{u}"},
    "logged_model.search": _none,
    "logged_model.read": _none,
    "logged_model.finalize": lambda u, a: {"status": "LOGGED_MODEL_READY"},
    "logged_model.delete": _none,
    "logged_model.params.log": lambda u, a: {
        "model_id": a.logged_model_id, "params": [{"key": f"p-{u}", "value": f"v-{u}"}]},
    "logged_model.tag.set": lambda u, a: {"tags": [{"key": f"k-{u}", "value": f"v-{u}"}]},
    "logged_model.tag.delete": lambda u, a: {"path:tag_key": "team"},
    "logged_model.artifact.list": _none,
    "logged_model.artifact.download": lambda u, a: {"artifact_file_path": "MLmodel"},
    "registered_model.read": _none,
    "registered_model.update": lambda u, a: {"description": f"d-{u}"},
    "registered_model.rename": lambda u, a: {"new_name": f"renamed-{u}"},
    "registered_model.delete": _none,
    "registered_model.tag.set": _tag,
    "registered_model.tag.delete": lambda u, a: {"key": "team"},
    "registered_model.latest_versions.read": _none,
    "registered_model.latest_versions.read.via_get": _none,
    "model_version.alias.set": lambda u, a: {"alias": f"a{u}", "version": "1"},
    "model_version.alias.delete": lambda u, a: {"alias": "candidate"},
    "registered_model.alias.read": lambda u, a: {"alias": "candidate"},
    "model_version.create": lambda u, a: {"source": f"mlflow-artifacts:/{a.artifacts}/model",
                                          "run_id": a.run_id},
    "model_version.read": _version(),
    "model_version.download_uri.read": _version(),
    "model_version.update": lambda u, a: {"version": "1", "description": f"d-{u}"},
    "model_version.stage.transition": _version(stage="Staging",
                                               archive_existing_versions=False),
    "model_version.delete": _version(),
    "model_version.tag.set": lambda u, a: {"version": "1", "key": f"k-{u}",
                                           "value": f"v-{u}"},
    "model_version.tag.delete": _version(key="team"),
    "model_version.artifact.download": _version(path="MLmodel"),
    "model_version.approve": lambda u, a: {"version": "1", "note": f"n-{u}"},
    "model_version.approval.list": _version(),
    "model_version.gate_status.read": _version(),
    "model_version.document.read": _version(kind="model-card"),
    "model_version.bundle.read": _version(),
    "page.version.read": _version(),
    "model_version.approve.browser": lambda u, a: {"version": "1", "note": f"n-{u}"},
    "trace.start": lambda u, a: start_trace(None, f"tr-{uuid.uuid4().hex}", f"t-{u}"),
    "trace.search": lambda u, a: {"locations": [{"type": "MLFLOW_EXPERIMENT"}]},
    "trace.metrics.query": lambda u, a: {
        "view_type": "TRACES", "metric_name": "trace_count",
        "aggregations": [{"aggregation_type": "COUNT"}], "dimensions": ["trace_name"]},
    "trace.delete": lambda u, a: {"max_timestamp_millis": 4 * 10**12},
    "trace.legacy.start": lambda u, a: {
        "timestamp_ms": 1, "request_metadata": [], "tags": [{"key": "t", "value": u}]},
    "trace.legacy.search": _none,
    "trace.legacy.delete": lambda u, a: {"max_timestamp_millis": 4 * 10**12},
    "trace.run.link": lambda u, a: {"trace_ids": [a.trace_id]},
    "evaluation_dataset.create": lambda u, a: {"name": f"ds-{u}"},
    "evaluation_dataset.search": _none,
    "evaluation_dataset.search.via_get": _none,
    "scorer.register": lambda u, a: {"name": f"judge-{u}",
                                      "serialized_scorer": serialized_scorer(f"s-{u}")},
    "scorer.list": _none,
    "scorer.version.list": lambda u, a: {"name": SCORER},
    "scorer.read": lambda u, a: {"name": SCORER},
    "scorer.delete": lambda u, a: {"name": f"judge-{u}"},
    "trace.info.read": _none,
    "trace.prompts.link": lambda u, a: {
        "prompt_versions": [{"name": a.model_name, "version": "1"}]},
    "trace.artifact.download": _none,
    "trace.legacy.artifact.download": _none,
    "trace.read": _none,
    "trace.batch.read": _none,
    "trace.info.batch.read": _none,
    "trace.tag.set": _tag,
    "trace.tag.delete": lambda u, a: {"key": "team"},
    "trace.legacy.end": lambda u, a: {"timestamp_ms": 2, "status": "OK"},
    "trace.legacy.info.read": _none,
    "trace.legacy.tag.set": _tag,
    "trace.legacy.tag.delete": lambda u, a: {"key": "team"},
    "evaluation_dataset.read": _none,
    "evaluation_dataset.delete": _none,
    "evaluation_dataset.experiments.add": lambda u, a: {"experiment_ids": [a.experiment_id]},
    "evaluation_dataset.experiments.remove": lambda u, a: {
        "experiment_ids": [a.experiment_id]},
    "evaluation_dataset.records.read": _none,
    "evaluation_dataset.records.upsert": lambda u, a: {
        "records": json.dumps([{"inputs": {"q": f"q-{u}"}, "expectations": {"a": u}}])},
    "evaluation_dataset.records.delete": lambda u, a: {"dataset_record_ids": [f"dr-{u}"]},
    "evaluation_dataset.tag.set": lambda u, a: {"tags": json.dumps({f"k-{u}": f"v-{u}"})},
    "evaluation_dataset.tag.delete": lambda u, a: {"path:key": "team"},
    "assessment.create": lambda u, a: {"assessment": assessment(f"a-{u}")},
    "assessment.read": lambda u, a: {"path:assessment_id": a.assessment_id},
    "assessment.update": lambda u, a: {"path:assessment_id": a.assessment_id,
                                       "assessment": {"rationale": f"r-{u}"},
                                       "update_mask": "rationale"},
    "assessment.delete": lambda u, a: {"path:assessment_id": a.assessment_id},
}

# Routes whose body is a file, not JSON.
RAW_BODY = {"run.artifact.upload", "artifact.upload"}

# Routes that would destroy (or rename) A's object: they name a fresh object of
# mallory's instead, so later cases still find A as it was.
FRESH = {
    "experiment.rename": "experiment", "experiment.delete": "experiment",
    "experiment.restore": "deleted experiment",
    "run.delete": "run", "run.restore": "deleted run",
    "logged_model.delete": "logged_model", "artifact.delete": "artifact",
    "registered_model.rename": "registered_model", "registered_model.delete": "registered_model",
    "model_version.delete": "registered_model", "model_version.alias.delete": "registered_model",
    "trace.delete": "experiment", "trace.legacy.delete": "experiment", "scorer.delete": "scorer",
    "trace.tag.delete": "trace", "trace.legacy.tag.delete": "trace", "trace.legacy.end": "trace",
    "evaluation_dataset.delete": "dataset", "evaluation_dataset.experiments.remove": "dataset",
    "evaluation_dataset.tag.delete": "dataset", "assessment.delete": "assessment",
}


def base_call(route: Route, a: ObjectSet, u: str, api_path: str) -> Call:
    """The route's request naming A, canonically: the first ``where`` of each source."""
    path, query, body = api_path, [], []
    sources = set()
    for w in route.where:
        if w.source in sources:
            continue
        sources.add(w.source)
        value = named(a, route, u)
        if w.source is Source.PATH:
            path = re.sub(r"\{" + w.name + r"(:path)?\}", lambda _, v=value: v, path)
        elif w.source is Source.QUERY:
            query.append((w.name, value))
        elif "." in w.name or "[]" in w.name:
            body.append(next(iter(_nest(w.name.split("."), value).items())))
        else:
            body.append((w.name, [value] if w.many else value))
    in_query = route.method == "GET" or route.action in RAW_BODY
    for key, value in EXTRAS[route.action](u, a).items():
        if key.startswith("path:"):
            path = path.replace("{" + key[5:] + "}", value)
        elif in_query:
            query.append((key, value))
        elif key in dict(body):
            body = [(k, _merge(v, value) if k == key else v) for k, v in body]
        else:
            body.append((key, value))
    raw = f"mallory {u}".encode() if route.action in RAW_BODY else None
    has_body = bool(body) or route.method not in ("GET", "DELETE")
    return Call(route.method, path, tuple(query), tuple(body) if has_body and not raw else None,
                raw)


CASES = [(r, v) for r in CHECKED if r.action not in EXCLUDED for v in variants(r)]
IDS = [f"{r.action} {v.name}" for r, v in CASES]


# --- the world: server, people, sets -------------------------------------------------------


@dataclass
class World:
    http: Http
    admin: tuple[str, str]
    mallory: tuple[str, str]
    ground: Ground
    a: ObjectSet
    b: ObjectSet
    baseline: dict[str, Any]
    api_paths: dict[str, str]
    b_history: list[ObjectSet] = field(default_factory=list)

    def fresh_a(self, route: Route, u: str) -> ObjectSet:
        """A, or for a destructive route an object of mallory's own made for this case."""
        kind, m, a = FRESH.get(route.action), self.mallory, self.a
        if kind in ("experiment", "deleted experiment"):
            name = f"fresh-{u}"
            eid = self.http.ok(m, "POST", "/api/2.0/mlflow/experiments/create",
                               {"name": name})["experiment_id"]
            if kind == "deleted experiment":
                self.http.ok(m, "POST", "/api/2.0/mlflow/experiments/delete",
                             {"experiment_id": eid})
            return replace(a, experiment_id=eid, experiment_name=name)
        if kind in ("run", "deleted run"):
            rid = self.http.ok(m, "POST", "/api/2.0/mlflow/runs/create", {
                "experiment_id": a.experiment_id})["run"]["info"]["run_id"]
            if kind == "deleted run":
                self.http.ok(m, "POST", "/api/2.0/mlflow/runs/delete", {"run_id": rid})
            return replace(a, run_id=rid)
        if kind == "logged_model":
            return replace(a, logged_model_id=self.http.ok(
                m, "POST", "/api/2.0/mlflow/logged-models",
                {"experiment_id": a.experiment_id})["model"]["info"]["model_id"])
        if kind == "artifact":
            name = f"fresh-{u}.txt"
            self.http.ok(m, "PUT", f"/api/2.0/mlflow-artifacts/artifacts/{a.artifacts}/{name}",
                         data=b"fresh")
            return replace(a, artifact_file=name)
        if kind == "registered_model":
            name = f"fresh-{u}"
            self.http.ok(m, "POST", "/api/2.0/mlflow/registered-models/create", {"name": name})
            self.http.ok(m, "POST", "/api/2.0/mlflow/model-versions/create", {
                "name": name, "source": f"mlflow-artifacts:/{a.artifacts}/model",
                "run_id": a.run_id})
            self.http.ok(m, "POST", "/api/2.0/mlflow/registered-models/alias",
                         {"name": name, "alias": "candidate", "version": "1"})
            return replace(a, model_name=name)
        if kind == "trace":
            return replace(a, trace_id=self.http.ok(
                m, "POST", "/api/3.0/mlflow/traces",
                start_trace(a.experiment_id, f"tr-{uuid.uuid4().hex}", a.marker),
            )["trace"]["trace_info"]["trace_id"])
        if kind == "assessment":
            return replace(a, assessment_id=make_assessment(self.http, m, a.trace_id,
                                                            f"fresh-{u}"))
        if kind == "dataset":
            return replace(a, dataset_id=make_dataset(self.http, m, a.experiment_id,
                                                      f"fresh-{u}", a.marker))
        if kind == "scorer":
            # The same name in A (mallory's) and in B, so a delete that lands on B shows.
            register_scorer(self.http, m, a.experiment_id, f"judge-{u}", a.marker)
            register_scorer(self.http, self.admin, self.b.experiment_id, f"judge-{u}",
                            self.b.marker)
            self.baseline = self.ground.of(self.b)
        return a

    def leaks(self, r: requests.Response) -> list[str]:
        """Traces of any set B (this one or one replaced earlier) in a served answer."""
        text = shown(r)
        found = []
        for b in [*self.b_history, self.b]:
            found += [f"B's {what} {value!r}" for what, value in [
                ("marker", b.marker), ("run id", b.run_id),
                ("logged model id", b.logged_model_id), ("metric timestamp", str(b.stamp)),
                ("trace id", b.trace_id), ("dataset id", b.dataset_id),
                ("assessment id", b.assessment_id),
            ] if value in text]
            try:
                data = r.json()
            except ValueError:
                continue
            found += [f"B's experiment id in {where}" for where in _experiment_ids(data, b)]
        return found

    def b_changes(self) -> list[str]:
        """What MLflow stored differently for B since the last look."""
        now = self.ground.of(self.b)
        changed = []
        for what in sorted(set(now) | set(self.baseline)):
            before, after = self.baseline.get(what, []), now.get(what, [])
            if before != after:
                gone = [x for x in before if x not in after]
                new = [x for x in after if x not in before]
                changed.append(f"B's {what}: gone {gone}, new {new}"[:1500])
        if changed and not intact(self.http, self.admin, self.b):
            # Later cases need all of B to be there under its names.
            self.b_history.append(self.b)
            self.b = make_set(self.http, self.admin, "bset")
            now = self.ground.of(self.b)
        self.baseline = now
        return changed


def _experiment_ids(data: Any, b: ObjectSet, where: str = "answer") -> Iterator[str]:
    """Where the answer names B's experiment: an experiment_id, or an artifact path or
    folder (the artifact proxy's root lists experiment folders by id)."""
    if isinstance(data, dict):
        for key, value in data.items():
            names_b = (
                key in ("experiment_id", "path") and isinstance(value, str)
                and (value == b.experiment_id or value.startswith(f"{b.experiment_id}/"))
            ) or (
                key == "experiment_ids" and isinstance(value, list) and b.experiment_id in value
            )
            if names_b:
                yield f"{where}.{key}"
            else:
                yield from _experiment_ids(value, b, f"{where}.{key}")
    elif isinstance(data, list):
        for i, item in enumerate(data):
            yield from _experiment_ids(item, b, f"{where}[{i}]")


def _api_paths() -> dict[str, str]:
    """The path each checked route is served at: UI-only routes under /ajax-api/."""
    served = mlflow_routes()
    paths = {}
    for r in CHECKED:
        plain = re.sub(r"\{[^}]+\}", "x", r.path)
        ajax = plain.replace("/api/", "/ajax-api/", 1)
        ui_only = (r.method, plain) not in served and (r.method, ajax) in served
        paths[r.action] = r.path.replace("/api/", "/ajax-api/", 1) if ui_only else r.path
    return paths


@pytest.fixture(scope="module")
def world(server: Server) -> Iterator[World]:
    assert server.auth is not None
    http = Http(server)
    admin = server.auth
    mallory = (f"mallory-{uuid.uuid4().hex[:6]}", PASSWORD)
    http.ok(admin, "POST", "/api/2.0/compliance/users/create",
            {"name": mallory[0], "password": PASSWORD, "role": "user"})
    a = make_set(http, admin, "aset")
    b = make_set(http, admin, "bset")
    for kind, target in [("experiment", a.experiment_id), ("model", a.model_name)]:
        http.ok(admin, "POST", "/api/2.0/compliance/grants/set",
                {"name": mallory[0], "kind": kind, "target": target, "permission": "manage"})
    ground = Ground(server)
    baseline = ground.of(b)
    assert baseline["artifact files"] and "runs" in baseline, baseline
    assert intact(http, admin, b) and ground.of(b) == baseline  # reading B changes nothing
    yield World(http, admin, mallory, ground, a, b, baseline, _api_paths())
    http.session.close()
    ground.engine.dispose()


# --- the tests -----------------------------------------------------------------------------


def shown(r: requests.Response) -> str:
    """What an answer shows, as text: a ZIP (a version's bundle) with every file unpacked,
    so its compressed documents are read too."""
    import io
    import zipfile

    text = r.content.decode("latin-1")
    if r.content[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(r.content)) as archive:
            text += "".join(archive.read(i).decode("latin-1") for i in archive.infolist())
    return text


def said(r: requests.Response) -> str:
    """The answer in one short line, for a failure message."""
    return f"{r.status_code} {' '.join(r.content.decode('latin-1').split())[:400]}"


def test_every_route_with_a_resolved_resource_is_exercised() -> None:
    actions = {r.action for r in CHECKED}
    assert len(actions) == len(CHECKED), "actions name routes one to one"
    assert actions == set(EXTRAS) | set(EXCLUDED), (
        "a route with a resolved resource has no EXTRAS entry (or EXCLUDED reason): "
        f"{sorted(actions ^ (set(EXTRAS) | set(EXCLUDED)))}"
    )
    assert len(EXCLUDED) <= 2, EXCLUDED
    assert len(UNSERVED_ON_A) <= 3 and len(SILENT_READS) <= 1, (UNSERVED_ON_A, SILENT_READS)
    assert set(FRESH) | set(UNSERVED_ON_A) | set(SILENT_READS) <= actions
    few = {r.action: len(variants(r)) for r in CHECKED if r.action not in EXCLUDED}
    assert [action for action, n in few.items() if n < 3] == [], few


@pytest.mark.parametrize("route", [r for r in CHECKED if r.action not in EXCLUDED],
                         ids=lambda r: r.action)
def test_canonical_request_is_served_on_a_and_not_on_b(world: World, route: Route) -> None:
    """The control: every spelling below starts from a request MLflow serves on A."""
    u = uuid.uuid4().hex[:8]
    path = world.api_paths[route.action]
    a = world.fresh_a(route, u)
    on_a = base_call(route, a, u, path).send(world.http, world.mallory)
    if route.action in UNSERVED_ON_A:
        assert on_a.status_code in REFUSED, said(on_a)
    else:
        assert on_a.status_code == 200, said(on_a)
    if route.permission is Permission.READ and on_a.status_code == 200 and (
        route.action not in SILENT_READS
    ):
        # What a read of A shows of A, a read of B would show of B: the leak check sees it.
        text = shown(on_a)
        assert a.marker in text or a.run_id in text or str(a.stamp) in text, said(on_a)
    call = base_call(route, world.b, u, path)
    on_b = call.send(world.http, world.mallory)
    problems = world.leaks(on_a) + (world.leaks(on_b) if on_b.status_code not in REFUSED else [])
    problems += world.b_changes()
    assert problems == [], f"{call}\n-> {said(on_b)}\n" + "\n".join(problems)


@pytest.mark.parametrize(("route", "variant"), CASES, ids=IDS)
def test_mlflow_acts_on_the_object_authorization_checked(
    world: World, route: Route, variant: Variant
) -> None:
    u = uuid.uuid4().hex[:8]
    a = world.fresh_a(route, u)
    call = variant.build(base_call(route, a, u, world.api_paths[route.action]),
                         named(a, route, u), named(world.b, route, u))
    r = call.send(world.http, world.mallory)
    problems = world.leaks(r) if r.status_code not in REFUSED else []
    problems += world.b_changes()
    assert problems == [], f"{call}\n-> {said(r)}\n" + "\n".join(problems)


# --- the object inside the body: a logged model of B named by A's request ----------------

VERSION_SOURCES: dict[str, Callable[[ObjectSet, ObjectSet], dict[str, Any]]] = {
    "source models:/<B model>": lambda a, b: {"source": f"models:/{b.logged_model_id}"},
    "model_id B": lambda a, b: {
        "source": f"mlflow-artifacts:/{b.experiment_id}/models/{b.logged_model_id}/artifacts",
        "model_id": b.logged_model_id,
    },
    "source models:/<B model>, model_id B": lambda a, b: {
        "source": f"models:/{b.logged_model_id}", "model_id": b.logged_model_id},
    "source models:/<B model>, modelId B": lambda a, b: {
        "source": f"models:/{b.logged_model_id}", "modelId": b.logged_model_id},
    "source in A's run, model_id B": lambda a, b: {
        "source": f"mlflow-artifacts:/{a.artifacts}/model", "run_id": a.run_id,
        "model_id": b.logged_model_id},
    "source in B's run, run_id B": lambda a, b: {
        "source": f"mlflow-artifacts:/{b.artifacts}/model", "run_id": b.run_id},
    "source in B's run, runId B": lambda a, b: {
        "source": f"mlflow-artifacts:/{b.artifacts}/model", "runId": b.run_id},
}


@pytest.mark.parametrize("spelling", list(VERSION_SOURCES))
def test_model_version_of_a_cannot_take_its_files_from_b(world: World, spelling: str) -> None:
    a, b, m = world.a, world.b, world.mallory
    r = world.http.request(m, "POST", "/api/2.0/mlflow/model-versions/create",
                           {"name": a.model_name, **VERSION_SOURCES[spelling](a, b)})
    problems = [] if r.status_code in REFUSED else [f"created: {said(r)}"]
    if r.status_code == 200:
        version = r.json()["model_version"]["version"]
        served = world.http.request(m, "GET", "/model-versions/get-artifact",
                                    {"name": a.model_name, "version": version, "path": "MLmodel"})
        uri = world.http.request(m, "GET", "/api/2.0/mlflow/model-versions/get-download-uri",
                                 {"name": a.model_name, "version": version})
        problems += [f"get-artifact: {p}" for p in world.leaks(served)]
        problems += [f"get-download-uri: {p}" for p in world.leaks(uri)]
    problems += world.b_changes()
    assert problems == [], "\n".join(problems)


METRIC_WRITES: dict[str, Callable[[ObjectSet, ObjectSet, str], tuple[str, dict[str, Any]]]] = {
    "runs/log-metric model_id B": lambda a, b, u: ("/api/2.0/mlflow/runs/log-metric", {
        "run_id": a.run_id, "key": f"m-{u}", "value": 1.0, "timestamp": 3, "step": 0,
        "model_id": b.logged_model_id}),
    "runs/log-batch metrics[].model_id B": lambda a, b, u: ("/api/2.0/mlflow/runs/log-batch", {
        "run_id": a.run_id, "metrics": [{"key": f"m-{u}", "value": 1.0, "timestamp": 3,
                                         "step": 0, "model_id": b.logged_model_id}]}),
}


@pytest.mark.parametrize("spelling", list(METRIC_WRITES))
def test_metric_of_a_run_of_a_cannot_land_on_a_logged_model_of_b(
    world: World, spelling: str
) -> None:
    path, body = METRIC_WRITES[spelling](world.a, world.b, uuid.uuid4().hex[:8])
    r = world.http.request(world.mallory, "POST", path, body)
    problems = [] if r.status_code in REFUSED else [f"served: {said(r)}"]
    problems += world.b_changes()
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("spelling", ["artifactLocation", "artifact_location"])
def test_new_experiment_keeps_its_artifacts_in_the_server(world: World, spelling: str) -> None:
    u = uuid.uuid4().hex[:8]
    r = world.http.request(world.mallory, "POST", "/api/2.0/mlflow/experiments/create",
                           {"name": f"outside-{u}", spelling: f"file:///tmp/outside-{u}"})
    if r.status_code in REFUSED:
        return
    assert r.status_code == 200, r.text
    made = world.http.ok(world.admin, "GET", "/api/2.0/mlflow/experiments/get",
                         {"experiment_id": r.json()["experiment_id"]})["experiment"]
    assert made["artifact_location"].startswith("mlflow-artifacts:"), made["artifact_location"]
