"""What an ordinary MLflow user does on day one works on the compliance server, or is
refused with MLflow's own error and a sentence that says what to do.

Real servers on loopback, users made through the administration API, MLflow's own
client acting as each user (its MLFLOW_TRACKING_USERNAME/PASSWORD variables).
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
import requests
from mlflow.exceptions import MlflowException

from mlflow_compliance.testing import BIN, MINIMUM_RECORD, Server, start_compliance_server
from tests.test_authorization_findings import PASSWORD, api, grant, ok, user


@pytest.fixture
def as_user(server: Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    """A new ordinary user with no grants, and MLflow's client acting as them."""
    who = user(server)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", who[0])
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", who[1])
    mlflow.set_tracking_uri(server.url)
    yield who
    while mlflow.active_run():
        mlflow.end_run()


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose administrator opened the Default experiment to every user (edit)
    and lets every user read what no grant covers."""
    s = start_compliance_server(
        tmp_path_factory.mktemp("home-open"),
        env={"MLFLOW_COMPLIANCE_DEFAULT_EXPERIMENT_PERMISSION": "edit",
             "MLFLOW_COMPLIANCE_DEFAULT_PERMISSION": "read"},
    )
    yield s
    s.stop()


def test_a_new_users_first_script_runs_with_set_experiment(
    server: Server, as_user: tuple[str, str], tmp_path: Path
) -> None:
    mlflow.set_experiment(f"my experiment {uuid.uuid4().hex[:6]}")
    note = tmp_path / "note.txt"
    note.write_text("hello")
    with mlflow.start_run() as run:
        mlflow.log_param("alpha", 0.5)
        mlflow.log_metric("rmse", 0.25)
        mlflow.log_artifact(str(note))
    got = mlflow.get_run(run.info.run_id)
    assert got.data.params == {"alpha": "0.5"}
    assert got.data.metrics == {"rmse": 0.25}
    assert got.info.user_id == as_user[0]
    assert [f.path for f in mlflow.MlflowClient().list_artifacts(run.info.run_id)] == [
        "note.txt"
    ]


def test_start_run_in_the_closed_default_experiment_says_what_to_do(
    server: Server, as_user: tuple[str, str]
) -> None:
    mlflow.tracking.fluent._active_experiment_id = None
    with pytest.raises(MlflowException) as refused:
        mlflow.start_run()
    assert refused.value.error_code == "PERMISSION_DENIED"
    message = refused.value.message
    assert "Default experiment" in message and "mlflow.set_experiment" in message
    assert "MLFLOW_COMPLIANCE_DEFAULT_EXPERIMENT_PERMISSION" in message


def test_an_opened_default_experiment_takes_a_plain_start_run(
    open_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    who = user(open_server)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", who[0])
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", who[1])
    mlflow.set_tracking_uri(open_server.url)
    mlflow.tracking.fluent._active_experiment_id = None
    with mlflow.start_run() as run:
        mlflow.log_metric("loss", 1.0)
    assert run.info.experiment_id == "0"
    assert mlflow.get_run(run.info.run_id).data.metrics == {"loss": 1.0}
    # edit, not manage: deleting needs a grant
    r = api(open_server, "POST", "/api/2.0/mlflow/runs/delete", who,
            {"run_id": run.info.run_id})
    assert r.status_code == 403 and "manage permission" in r.json()["message"], r.text


def test_default_read_permission_reads_but_does_not_write(open_server: Server) -> None:
    owner, other = user(open_server), user(open_server)
    created = ok(api(open_server, "POST", "/api/2.0/mlflow/experiments/create", owner,
                     {"name": f"e-{uuid.uuid4().hex[:8]}"}))
    experiment_id = created["experiment_id"]
    ok(api(open_server, "GET", "/api/2.0/mlflow/experiments/get", other,
           {"experiment_id": experiment_id}))
    found = ok(api(open_server, "POST", "/api/2.0/mlflow/experiments/search", other,
                   {"max_results": 1000}))
    assert experiment_id in {e["experiment_id"] for e in found["experiments"]}
    r = api(open_server, "POST", "/api/2.0/mlflow/runs/create", other,
            {"experiment_id": experiment_id})
    assert r.status_code == 403, r.text
    assert r.json()["error_code"] == "PERMISSION_DENIED"
    assert "needs edit permission on experiment" in r.json()["message"]


def test_without_a_default_an_ungranted_experiment_stays_hidden(server: Server) -> None:
    owner, other = user(server), user(server)
    created = ok(api(server, "POST", "/api/2.0/mlflow/experiments/create", owner,
                     {"name": f"e-{uuid.uuid4().hex[:8]}"}))
    r = api(server, "GET", "/api/2.0/mlflow/experiments/get", other,
            {"experiment_id": created["experiment_id"]})
    assert r.status_code == 404 and r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


@pytest.mark.parametrize("value", ["manage", "admin", "yes"])
def test_a_default_permission_outside_none_read_edit_is_refused_at_start(
    tmp_path: Path, value: str
) -> None:
    done = subprocess.run(
        [str(BIN / "mlflow-compliance"), "server", "--home", str(tmp_path)],
        env={"PATH": str(BIN), "MLFLOW_COMPLIANCE_DEFAULT_PERMISSION": value},
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "MLFLOW_COMPLIANCE_DEFAULT_PERMISSION" in lines[0]
    assert "none, read, edit" in lines[0]


def test_the_ui_learns_who_is_signed_in(server: Server) -> None:
    who = user(server)
    me = ok(api(server, "GET", "/ajax-api/2.0/mlflow/users/current", who))
    assert me == {"user": {"id": 0, "username": who[0], "is_admin": False},
                  "is_basic_auth": True}
    admin = ok(api(server, "GET", "/ajax-api/2.0/mlflow/users/current", server.auth))
    assert admin["user"]["is_admin"] is True
    anonymous = requests.get(server.url + "/ajax-api/2.0/mlflow/users/current", timeout=10)
    assert anonymous.status_code == 401


def test_the_ui_lists_the_callers_own_grants_only(server: Server) -> None:
    who, other = user(server), user(server)
    grant(server, who, "experiment", "0", "read")
    grant(server, other, "experiment", "0", "edit")
    mine = ok(api(server, "GET", "/ajax-api/3.0/mlflow/users/current/permissions", who))
    assert mine["is_admin"] is False
    assert [(p["resource_type"], p["resource_pattern"], p["permission"])
            for p in mine["permissions"]] == [("experiment", "0", "READ")]


def test_a_user_changes_their_own_password_from_the_ui_dialog(server: Server) -> None:
    who = user(server)
    new = "a much longer new secret"
    path = "/ajax-api/2.0/mlflow/users/update-password"
    wrong = api(server, "PATCH", path, who,
                {"username": who[0], "password": new, "current_password": "not it at all"})
    assert wrong.status_code == 400 and "current_password" in wrong.json()["message"]
    other = user(server)
    theirs = api(server, "PATCH", path, who,
                 {"username": other[0], "password": new, "current_password": PASSWORD})
    assert theirs.status_code == 403, theirs.text
    ok(api(server, "PATCH", path, who,
           {"username": who[0], "password": new, "current_password": PASSWORD}))
    assert api(server, "GET", "/ajax-api/2.0/mlflow/users/current", who).status_code == 401
    assert api(server, "GET", "/ajax-api/2.0/mlflow/users/current",
               (who[0], new)).status_code == 200
    # the other user's password did not change
    assert api(server, "GET", "/ajax-api/2.0/mlflow/users/current", other).status_code == 200


@pytest.mark.parametrize("role", ["admin", "user"])
def test_prompts_are_created_and_loaded(
    server: Server, monkeypatch: pytest.MonkeyPatch, role: str
) -> None:
    who = server.auth if role == "admin" else user(server)
    assert who is not None
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", who[0])
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", who[1])
    mlflow.set_tracking_uri(server.url)
    name = f"greeting_{uuid.uuid4().hex[:8]}"
    mlflow.genai.register_prompt(name=name, template="Hello {{name}}!")
    mlflow.genai.register_prompt(name=name, template="Hi {{name}}!")
    assert mlflow.genai.load_prompt(f"prompts:/{name}/2").format(name="Ada") == "Hi Ada!"
    assert mlflow.genai.load_prompt(f"prompts:/{name}/1").template == "Hello {{name}}!"


def test_the_prompt_placeholder_source_is_no_way_around_source_confinement(
    server: Server,
) -> None:
    name = f"m-{uuid.uuid4().hex[:8]}"
    ok(api(server, "POST", "/api/2.0/mlflow/registered-models/create", server.auth,
           {"name": name}))
    r = api(server, "POST", "/api/2.0/mlflow/model-versions/create", server.auth,
            {"name": name, "source": "dummy-source"})
    assert r.status_code == 400 and "source" in r.json()["message"], r.text
    r = api(server, "POST", "/api/2.0/mlflow/model-versions/create", server.auth,
            {"name": name, "source": "file:///etc",
             "tags": [{"key": "mlflow.prompt.is_prompt", "value": "true"}]})
    assert r.status_code == 400, r.text


# --- camelCase JSON, read the way MLflow's ParseDict reads it ---------------------------

def _experiment_with_run(server: Server, who: tuple[str, str],
                         tags: dict[str, str] | None = None) -> tuple[str, str]:
    experiment = ok(api(server, "POST", "/api/2.0/mlflow/experiments/create", who,
                        {"name": f"e-{uuid.uuid4().hex[:8]}"}))["experiment_id"]
    run = ok(api(server, "POST", "/api/2.0/mlflow/runs/create", who, {
        "experiment_id": experiment,
        "tags": [{"key": k, "value": v} for k, v in (tags or {}).items()],
    }))["run"]["info"]["run_id"]
    return experiment, run


def test_camel_case_json_is_read_as_mlflow_reads_it(server: Server) -> None:
    who = user(server)
    experiment, run = _experiment_with_run(server, who)
    ok(api(server, "POST", "/api/2.0/mlflow/runs/log-metric", who,
           {"runId": run, "key": "m", "value": 2.0, "timestamp": 1}))
    ok(api(server, "POST", "/api/2.0/mlflow/runs/log-batch", who,
           {"runId": run, "params": [{"key": "p", "value": "v"}]}))
    found = ok(api(server, "POST", "/api/2.0/mlflow/runs/search", who,
                   {"experimentIds": [experiment]}))
    assert [r["info"]["run_id"] for r in found["runs"]] == [run]
    data = ok(api(server, "GET", "/api/2.0/mlflow/runs/get", who, {"run_id": run}))["run"]
    assert data["data"]["metrics"][0]["value"] == 2.0
    assert data["data"]["params"] == [{"key": "p", "value": "v"}]


def test_a_field_in_both_spellings_is_refused_and_names_the_field(server: Server) -> None:
    who = user(server)
    _, run = _experiment_with_run(server, who)
    r = api(server, "POST", "/api/2.0/mlflow/runs/log-metric", who,
            {"run_id": run, "runId": run, "key": "m", "value": 1.0, "timestamp": 1})
    assert r.status_code == 400, r.text
    assert r.json()["message"].startswith("run_id: given twice")


def test_camel_case_names_the_object_authorization_decides_on(server: Server) -> None:
    owner, other = user(server), user(server)
    _, theirs = _experiment_with_run(server, owner)
    r = api(server, "POST", "/api/2.0/mlflow/runs/log-metric", other,
            {"runId": theirs, "key": "m", "value": 1.0, "timestamp": 1})
    assert r.status_code == 404 and r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert server.auth is not None
    run = ok(api(server, "GET", "/api/2.0/mlflow/runs/get", server.auth, {"run_id": theirs}))
    assert "metrics" not in run["run"]["data"]


# --- GraphQL: the UI's run page, authorized per object ----------------------------------

GET_RUN = """
query GetRun($data: MlflowGetRunInput!) @component(name: "MLflow.ExperimentRunTracking") {
  mlflowGetRun(input: $data) {
    apiError { code message }
    run {
      info { runUuid experimentId }
      experiment { experimentId name }
      modelVersions { name version }
      data { params { key value } }
    }
  }
}
"""


def graphql(server: Server, who: tuple[str, str], query: str,
            variables: dict[str, object]) -> requests.Response:
    return api(server, "POST", "/graphql", who, {"query": query, "variables": variables})


def test_a_reader_opens_a_run_through_graphql(server: Server) -> None:
    owner, reader, stranger = user(server), user(server), user(server)
    experiment, run = _experiment_with_run(server, owner)
    ok(api(server, "POST", "/api/2.0/mlflow/runs/log-parameter", owner,
           {"run_id": run, "key": "alpha", "value": "0.5"}))
    grant(server, reader, "experiment", experiment, "read")
    got = ok(graphql(server, reader, GET_RUN, {"data": {"runId": run}}))
    assert got["data"]["mlflowGetRun"]["run"]["data"]["params"] == [
        {"key": "alpha", "value": "0.5"}]
    hidden = ok(graphql(server, stranger, GET_RUN, {"data": {"runId": run}}))
    assert hidden == {"data": {"mlflowGetRun": None},
                      "errors": [f"Run with id={run} not found"]}


def test_graphql_hides_model_versions_of_models_the_reader_may_not_read(
    server: Server,
) -> None:
    owner, reader = user(server), user(server)
    experiment, run = _experiment_with_run(server, owner, MINIMUM_RECORD)  # versions need it
    grant(server, reader, "experiment", experiment, "read")
    shown, hidden = f"shown-{uuid.uuid4().hex[:6]}", f"hidden-{uuid.uuid4().hex[:6]}"
    for name in (shown, hidden):
        ok(api(server, "POST", "/api/2.0/mlflow/registered-models/create", owner,
               {"name": name}))
        ok(api(server, "POST", "/api/2.0/mlflow/model-versions/create", owner,
               {"name": name, "source": f"runs:/{run}/model", "run_id": run}))
    grant(server, reader, "model", shown, "read")
    got = ok(graphql(server, reader, GET_RUN, {"data": {"runId": run}}))
    versions = got["data"]["mlflowGetRun"]["run"]["modelVersions"]
    assert versions == [{"name": shown, "version": "1"}]
    # under aliases too: the filter follows the answer's keys
    aliased = ok(graphql(server, reader, """query Q($data: MlflowGetRunInput!) {
      a: mlflowGetRun(input: $data) { r: run { v: modelVersions { name version }
      w: modelVersions { n: name version } } } }""", {"data": {"runId": run}}))
    assert aliased["data"]["a"]["r"]["v"] == [{"name": shown, "version": "1"}]
    assert aliased["data"]["a"]["r"]["w"] == []  # no "name" key: nothing says it may show
    everything = ok(graphql(server, owner, GET_RUN, {"data": {"runId": run}}))
    assert len(everything["data"]["mlflowGetRun"]["run"]["modelVersions"]) == 2


@pytest.mark.parametrize("query", [
    "{ __schema { types { name } } }",
    '{ __type(name: "MlflowRun") { name } }',
    'query { mlflowSearchModelVersions(input: {filter: ""}) { modelVersions { name } } }',
    'subscription { test(inputString: "x") { output } }',
])
def test_graphql_shapes_this_server_does_not_know_are_refused(
    server: Server, query: str
) -> None:
    r = graphql(server, user(server), query, {})
    assert r.status_code == 403, r.text
    assert r.json()["error_code"] == "PERMISSION_DENIED"


def test_graphql_run_search_without_clearance_goes_by_run_id_only(server: Server) -> None:
    owner, reader = user(server), user(server)
    experiment, run = _experiment_with_run(server, owner)
    grant(server, reader, "experiment", experiment, "read")
    search = """query SearchRuns($data: MlflowSearchRunsInput!) {
      mlflowSearchRuns(input: $data) { runs { info { runUuid } } } }"""
    by_id = ok(graphql(server, reader, search, {"data": {
        "experimentIds": [experiment], "filter": f'attributes.run_id = "{run}"'}}))
    assert [r["info"]["runUuid"] for r in by_id["data"]["mlflowSearchRuns"]["runs"]] == [run]
    by_param = graphql(server, reader, search, {"data": {
        "experimentIds": [experiment], "filter": "params.alpha = '1'"}})
    assert by_param.status_code == 403 and "by id only" in by_param.json()["message"]


def test_graphql_metric_history_of_a_personal_data_run_is_hidden(server: Server) -> None:
    owner, reader = user(server), user(server)
    experiment, run = _experiment_with_run(server, owner)
    ok(api(server, "POST", "/api/2.0/mlflow/runs/set-tag", owner,
           {"run_id": run, "key": "compliance.gdpr.personal_data", "value": "true"}))
    grant(server, reader, "experiment", experiment, "read")
    query = """query Q($data: MlflowGetMetricHistoryBulkIntervalInput!) {
      mlflowGetMetricHistoryBulkInterval(input: $data) { metrics { key value } } }"""
    r = ok(graphql(server, reader, query, {"data": {"runIds": [run], "metricKey": "m"}}))
    assert r == {"data": {"mlflowGetMetricHistoryBulkInterval": {"metrics": []}},
                 "errors": None}
    cleared = user(server, clearances=["personal-data"])
    grant(server, cleared, "experiment", experiment, "read")
    assert ok(graphql(server, cleared, query, {"data": {"runIds": [run], "metricKey": "m"}}))


def test_graphql_via_get_is_decided_on_the_body_mlflow_reads(server: Server) -> None:
    owner, stranger = user(server), user(server)
    _, run = _experiment_with_run(server, owner)
    # MLflow's /graphql reads the JSON body for GET as well, never the query string.
    r = requests.get(server.url + "/graphql", auth=stranger, timeout=30,
                     params={"query": "{ test(inputString: \"x\") { output } }"},
                     json={"query": GET_RUN, "variables": {"data": {"runId": run}}})
    assert r.status_code == 200 and r.json()["data"] == {"mlflowGetRun": None}, r.text


def test_message_spelling_renames_fields_only_never_the_callers_own_keys() -> None:
    from mlflow_compliance.server.authorization.messages import canonical, message_of

    batch = message_of("POST", "/api/2.0/mlflow/runs/log-batch")
    assessment = message_of("POST", "/api/3.0/mlflow/traces/{trace_id}/assessments")
    start = message_of("POST", "/api/3.0/mlflow/traces")
    assert batch is not None and assessment is not None and start is not None
    fixed, problem = canonical(batch, {"runId": "r", "metrics": [{"modelId": "m"}],
                                       "tags": [{"key": "runId", "value": "v"}]})
    assert problem is None
    assert fixed == {"run_id": "r", "metrics": [{"model_id": "m"}],
                     "tags": [{"key": "runId", "value": "v"}]}
    # a Value's JSON is the caller's data, not fields
    value = {"numberValue": 1, "runId": "x"}
    fixed, _ = canonical(assessment, {"assessment": {"feedback": {"value": value}}})
    assert fixed["assessment"]["feedback"]["value"] == value
    # map keys stay as given
    fixed, _ = canonical(start, {"trace": {"traceInfo": {"tags": {"runId": "x"}}}})
    assert fixed == {"trace": {"trace_info": {"tags": {"runId": "x"}}}}
    _, problem = canonical(start, {"trace": {"trace_info": {}, "traceInfo": {}}})
    assert problem == "trace.trace_info: given twice, spelled two ways; give it once"


@pytest.fixture(scope="module")
def plain_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    from mlflow_compliance.testing import start_plain_mlflow_server

    s = start_plain_mlflow_server(tmp_path_factory.mktemp("home-plain"))
    yield s
    s.stop()


UI_QUERIES = [
    ("query Q($data: MlflowGetRunInput!) { mlflowGetRun(input: $data) { apiError { code } "
     "run { info { runUuid } } } }", "run", "runId"),
    ("query Q($data: MlflowListArtifactsInput!) { mlflowListArtifacts(input: $data) { "
     "files { path } } }", "run", "runId"),
    ("query Q($data: MlflowGetMetricHistoryBulkIntervalInput!) "
     "{ mlflowGetMetricHistoryBulkInterval(input: $data) { __typename metrics { key } "
     "apiError { code } } }", "run", "runIds"),
    ("query Q($data: MlflowGetExperimentInput!) { mlflowGetExperiment(input: $data) { "
     "experiment { name } } }", "experiment", "experimentId"),
    ("mutation Q($data: MlflowSearchRunsInput!) { mlflowSearchRuns(input: $data) { "
     "runs { info { runUuid } } nextPageToken } }", "experiment", "experimentIds"),
]


@pytest.mark.parametrize(("query", "kind", "field"), UI_QUERIES)
def test_a_hidden_object_answers_graphql_as_plain_mlflow_answers_a_missing_one(
    server: Server, plain_server: Server, query: str, kind: str, field: str
) -> None:
    owner, stranger = user(server), user(server)
    experiment, run = _experiment_with_run(server, owner)
    hidden_id = run if kind == "run" else experiment
    missing_id = "0123456789abcdef0123456789abcdef" if kind == "run" else "99999"

    def variables(value: str) -> dict[str, object]:
        given: object = [value] if field.endswith("Ids") else value
        data: dict[str, object] = {field: given}
        if field == "runIds":
            data["metricKey"] = "m"
        if field == "experimentIds":  # an uncleared user searches by run id
            data["filter"] = f'attributes.run_id = "{run}"'

        return {"data": data}

    ours = graphql(server, stranger, query, variables(hidden_id))
    plain = requests.post(plain_server.url + "/graphql", timeout=30,
                          json={"query": query, "variables": variables(missing_id)})
    assert (ours.status_code, ours.json()) == (
        plain.status_code, json.loads(plain.text.replace(missing_id, hidden_id)))


def test_a_run_in_the_closed_default_experiment_answers_like_a_missing_run(
    server: Server,
) -> None:
    assert server.auth is not None
    run = ok(api(server, "POST", "/api/2.0/mlflow/runs/create", server.auth,
                 {"experiment_id": "0"}))["run"]["info"]["run_id"]
    stranger = user(server)
    there = api(server, "GET", "/api/2.0/mlflow/runs/get", stranger, {"run_id": run})
    missing = api(server, "GET", "/api/2.0/mlflow/runs/get", stranger,
                  {"run_id": "0123456789abcdef0123456789abcdef"})
    assert there.status_code == missing.status_code == 404
    assert there.json()["message"].replace(run, "X") == \
        missing.json()["message"].replace("0123456789abcdef0123456789abcdef", "X")


def test_graphql_versions_without_their_number_show_only_to_the_cleared(
    server: Server,
) -> None:
    owner = user(server)
    experiment, run = _experiment_with_run(server, owner, MINIMUM_RECORD)  # versions need it
    name = f"m-{uuid.uuid4().hex[:6]}"
    ok(api(server, "POST", "/api/2.0/mlflow/registered-models/create", owner, {"name": name}))
    ok(api(server, "POST", "/api/2.0/mlflow/model-versions/create", owner,
           {"name": name, "source": f"runs:/{run}/model", "run_id": run}))
    cleared = user(server, clearances=["personal-data"])
    for who in (owner, cleared):
        grant(server, who, "experiment", experiment, "read")
        grant(server, who, "model", name, "read")
    names_only = """query Q($data: MlflowGetRunInput!) {
      mlflowGetRun(input: $data) { run { modelVersions { name } } } }"""
    for who, shown in [(owner, []), (cleared, [{"name": name}])]:
        got = ok(graphql(server, who, names_only, {"data": {"runId": run}}))
        assert got["data"]["mlflowGetRun"]["run"]["modelVersions"] == shown


def test_every_route_whose_body_names_objects_has_its_body_read() -> None:
    # The layer reads the body of every protobuf route (and of routes whose resource is
    # named in it); a route of named.BY_PATH outside both would be decided unread.
    from mlflow_compliance.server.authorization.messages import message_of
    from mlflow_compliance.server.authorization.named import BY_PATH
    from mlflow_compliance.server.authorization.table import PAGES_PREFIX, ROUTES

    for route in ROUTES:
        if route.path in BY_PATH and route.method != "GET":
            if route.path.startswith(PAGES_PREFIX + "/"):
                # a page's form names its version in the query, which is always read
                assert route.where and all(w.source.value == "query" for w in route.where)
                continue
            assert message_of(route.method, route.path) is not None, route.path
