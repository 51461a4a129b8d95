"""GenAI per experiment: traces, assessments, OTLP span export and evaluation datasets
belong to their experiment and follow its grants and need-to-know, like runs.

A real compliance server, users made through the administration API, MLflow's own
client (tracing, ``search_traces``, assessments, evaluation datasets) acting as each.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import mlflow
import pytest
import requests
from mlflow.exceptions import MlflowException

from mlflow_compliance.testing import Server
from tests.test_authorization_findings import api, grant, ok, user

PERSONAL = "compliance.gdpr.personal_data"


def act_as(monkeypatch: pytest.MonkeyPatch, server: Server, who: tuple[str, str]) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", who[0])
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", who[1])
    mlflow.set_tracking_uri(server.url)


@pytest.fixture
def owner(server: Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    who = user(server)
    act_as(monkeypatch, server, who)
    yield who
    mlflow.tracking.fluent._active_experiment_id = None


def _traced(experiment: str, question: str, tags: dict[str, str] | None = None) -> str:
    mlflow.set_experiment(experiment_id=experiment)

    @mlflow.trace
    def answer(q: str) -> str:
        if tags:
            mlflow.update_current_trace(tags=tags)
        return q.upper()

    answer(question)
    trace_id = mlflow.get_last_active_trace_id()
    assert trace_id is not None
    mlflow.flush_trace_async_logging()
    return trace_id


def test_a_user_traces_searches_and_assesses_in_their_own_experiment(
    server: Server, owner: tuple[str, str]
) -> None:
    experiment = mlflow.create_experiment(f"genai-{uuid.uuid4().hex[:8]}")
    trace_id = _traced(experiment, "hello")
    found = mlflow.search_traces(locations=[experiment], return_type="list")
    assert [t.info.trace_id for t in found] == [trace_id]
    trace = mlflow.get_trace(trace_id)
    assert trace is not None and trace.data.spans[0].outputs == "HELLO"
    mlflow.log_feedback(trace_id=trace_id, name="correct", value=True)
    assessments = mlflow.get_trace(trace_id).info.assessments
    assert [a.name for a in assessments] == ["correct"]
    mlflow.MlflowClient().set_trace_tag(trace_id, "reviewed", "yes")
    assert mlflow.get_trace(trace_id).info.tags["reviewed"] == "yes"


def test_traces_of_an_experiment_the_caller_may_not_read_are_hidden(
    server: Server, owner: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    experiment = mlflow.create_experiment(f"genai-{uuid.uuid4().hex[:8]}")
    trace_id = _traced(experiment, "secret")
    stranger = user(server)
    for method, path, data in [
        ("GET", f"/api/3.0/mlflow/traces/{trace_id}", None),
        ("GET", "/api/3.0/mlflow/traces/get", {"trace_id": trace_id}),
        ("GET", "/ajax-api/3.0/mlflow/get-trace-artifact", {"request_id": trace_id}),
        ("PATCH", f"/api/3.0/mlflow/traces/{trace_id}/tags", {"key": "k", "value": "v"}),
    ]:
        r = api(server, method, path, stranger, data)
        assert r.status_code == 404, (path, r.text)
        assert r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    # Searches find nothing there, as in an experiment that does not exist.
    for path, body in [
        ("/api/3.0/mlflow/traces/search",
         {"locations": [{"type": "MLFLOW_EXPERIMENT",
                         "mlflow_experiment": {"experiment_id": experiment}}]}),
        ("/api/3.0/mlflow/traces/metrics",
         {"experiment_ids": [experiment], "view_type": "TRACES", "metric_name": "trace_count",
          "aggregations": [{"aggregation_type": "COUNT"}]}),
        ("/api/3.0/mlflow/datasets/search", {"experiment_ids": [experiment]}),
        ("/ajax-api/2.0/mlflow/experiments/search-datasets", {"experiment_ids": [experiment]}),
    ]:
        assert ok(api(server, "POST", path, stranger, body)) == {}, path
    reader = user(server)
    grant(server, reader, "experiment", experiment, "read")
    ok(api(server, "GET", f"/api/3.0/mlflow/traces/{trace_id}", reader))
    denied = api(server, "PATCH", f"/api/3.0/mlflow/traces/{trace_id}/tags", reader,
                 {"key": "k", "value": "v"})
    assert denied.status_code == 403 and "needs edit permission" in denied.json()["message"]


def test_personal_data_traces_need_the_clearance_in_searches_too(
    server: Server, owner: tuple[str, str]
) -> None:
    experiment = mlflow.create_experiment(f"genai-{uuid.uuid4().hex[:8]}")
    plain = _traced(experiment, "weather")
    personal = _traced(experiment, "my address", tags={PERSONAL: "true "})
    reader, cleared = user(server), user(server, clearances=["personal-data"])
    for who in (reader, cleared):
        grant(server, who, "experiment", experiment, "read")
    search = {"locations": [{"type": "MLFLOW_EXPERIMENT",
                             "mlflow_experiment": {"experiment_id": experiment}}],
              "max_results": 1}

    def all_pages(who: tuple[str, str]) -> list[str]:
        seen, token = [], None
        while True:
            page = ok(api(server, "POST", "/api/3.0/mlflow/traces/search", who,
                          {**search, **({"page_token": token} if token else {})}))
            seen += [t["trace_id"] for t in page.get("traces", [])]
            token = page.get("next_page_token")
            if not token:
                return seen

    assert all_pages(reader) == [plain]
    assert sorted(all_pages(cleared)) == sorted([plain, personal])
    hidden = api(server, "GET", f"/api/3.0/mlflow/traces/{personal}", reader)
    assert hidden.status_code == 404


def test_spans_cannot_be_exported_into_another_users_trace(
    server: Server, owner: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    theirs = mlflow.create_experiment(f"genai-{uuid.uuid4().hex[:8]}")
    their_trace = _traced(theirs, "theirs")
    mallory = user(server)
    act_as(monkeypatch, server, mallory)
    mine = mlflow.create_experiment(f"genai-{uuid.uuid4().hex[:8]}")
    otel_trace_id = their_trace.removeprefix("tr-")
    body = {"resourceSpans": [{"scopeSpans": [{"spans": [{
        "traceId": otel_trace_id, "spanId": "00f067aa0ba902b7", "name": "injected",
        "startTimeUnixNano": "1", "endTimeUnixNano": "2",
        "parentSpanId": "00f067aa0ba902b8"}]}]}]}
    r = requests.post(server.url + "/v1/traces", json=body, auth=mallory, timeout=30,
                      headers={"x-mlflow-experiment-id": mine})
    assert r.status_code == 404, r.text
    assert r.json()["message"].startswith("spans:")
    into_theirs = requests.post(server.url + "/v1/traces", json=body, auth=mallory,
                                timeout=30, headers={"x-mlflow-experiment-id": theirs})
    assert into_theirs.status_code == 404, into_theirs.text
    assert server.auth is not None
    spans = ok(api(server, "GET", "/api/3.0/mlflow/traces/get", server.auth,
                   {"trace_id": their_trace}))["trace"]["spans"]
    assert "injected" not in {s["name"] for s in spans}


def test_evaluation_datasets_belong_to_their_experiments(
    server: Server, owner: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow.genai.datasets import create_dataset, get_dataset

    experiment = mlflow.create_experiment(f"genai-{uuid.uuid4().hex[:8]}")
    dataset = create_dataset(name=f"eval-{uuid.uuid4().hex[:6]}", experiment_id=experiment)
    dataset.merge_records([{"inputs": {"q": "2+2"}, "expectations": {"a": "4"}}])
    assert len(get_dataset(dataset_id=dataset.dataset_id).to_df()) == 1
    stranger = user(server)
    r = api(server, "GET", f"/api/3.0/mlflow/datasets/{dataset.dataset_id}", stranger)
    assert r.status_code == 404, r.text
    # linking someone else's dataset to one's own experiment needs edit on the dataset
    act_as(monkeypatch, server, stranger)
    own = mlflow.create_experiment(f"genai-{uuid.uuid4().hex[:8]}")
    r = api(server, "POST", f"/api/3.0/mlflow/datasets/{dataset.dataset_id}/add-experiments",
            stranger, {"experiment_ids": [own]})
    assert r.status_code == 404, r.text
    with pytest.raises(MlflowException):
        create_dataset(name="x", experiment_id=experiment)
