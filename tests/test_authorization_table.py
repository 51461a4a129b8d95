"""The authorization route table covers exactly the routes the installed MLflow serves.

Deny by default only works if a route a new MLflow release adds fails this suite: the
routes are enumerated from the installed MLflow at test time (Flask and FastAPI), so
a route missing from ``authorization/table.py`` is noticed here, not in production.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

from mlflow_compliance.server.authorization.table import (
    ANSWERED_HERE,
    OWN_PREFIX,
    PAGES_PREFIX,
    ROUTES,
    Permission,
    Resource,
    Route,
    Source,
    body,
    find,
    path,
    query,
)
from mlflow_compliance.testing import mlflow_routes

P = Permission
R = Resource

# Resources the layer resolves from the request to an experiment or registered model.
RESOLVED = {
    R.EXPERIMENT, R.EXPERIMENT_NAME, R.RUN, R.LOGGED_MODEL, R.ARTIFACT,
    R.REGISTERED_MODEL, R.MODEL_VERSION, R.TRACE, R.DATASET, R.TRACE_EXPORT,
}

# An MLflow path parameter is a whole segment "x" (or "x" before ":verb", as in Gemini's
# "models/x:generateContent"); "x" inside a word ("experiments") is not one.
X_PARAM = re.compile(r"(?<=/)x(?=/|:|$)")
PARAM = re.compile(r"\{(\w+)(:path)?\}")

# POST/PUT routes on server-wide features that only read; every other write is ADMIN.
READ_ONLY_WRITES = {
    ("POST", "/graphql"),
    ("POST", "/api/3.0/mlflow/traces/batchGetInfos"),
    ("POST", "/api/3.0/mlflow/traces/search"),
    ("POST", "/api/3.0/mlflow/traces/calculate-filter-correlation"),
    ("POST", "/api/3.0/mlflow/traces/metrics"),
    ("POST", "/api/3.0/mlflow/datasets/search"),
    ("POST", "/api/3.0/mlflow/issues/search"),
    ("POST", "/api/3.0/mlflow/prompt-optimization/jobs/search"),
    ("POST", "/api/3.0/jobs/search"),
}

# A GET on a server-wide feature that changes state anyway.
WRITING_GETS = {("GET", "/api/3.0/mlflow/assistant/sessions/{session_id}/stream")}

# Non-GET routes whose handler reads the resource from the query string, not the body.
QUERY_ON_WRITE = {
    ("POST", "/api/2.0/mlflow/upload-artifact"),
    # a browser form: its body is the form, the version is named in the action's query
    ("POST", "/compliance/version/sign-off"),
}


def _api(request_path: str) -> str:
    if request_path.startswith("/ajax-api/"):
        return "/api/" + request_path[len("/ajax-api/") :]
    return request_path


def _x_form(route_path: str) -> str:
    """A table path written the way ``mlflow_routes()`` writes it: parameters as ``x``."""
    return PARAM.sub("x", route_path)


def _served() -> set[tuple[str, str]]:
    return {(method, _api(p)) for method, p in mlflow_routes()}


def _entry(method: str, route_path: str) -> Route:
    matches = [r for r in ROUTES if r.method == method and r.path == route_path]
    assert len(matches) == 1, f"{method} {route_path}: {len(matches)} entries"
    return matches[0]


def test_every_mlflow_route_is_in_the_table() -> None:
    missing = []
    for method, served_path in sorted(mlflow_routes()):
        request_path = X_PARAM.sub("1", served_path)
        found = find(method, request_path)
        if found is None or _x_form(found[0].path) != _api(served_path):
            missing.append(f"{method} {served_path}")
    assert missing == [], (
        f"MLflow serves routes the authorization table does not list (they are refused): "
        f"{missing}; add them to authorization/table.py"
    )


def test_multi_segment_path_parameters_find_their_own_route() -> None:
    wrong = []
    for entry in ROUTES:
        if ":path}" not in entry.path:
            continue
        request_path = PARAM.sub(lambda m: "a/b" if m[2] else "1", entry.path)
        found = find(entry.method, request_path)
        if found is None or found[0] is not entry:
            wrong.append(f"{entry.method} {request_path} -> {found and found[0].path}")
        elif any(found[1][name] != "a/b" for name, is_path in PARAM.findall(entry.path)
                 if is_path):
            wrong.append(f"{entry.method} {request_path} -> {found[1]}")
    assert wrong == []


def test_ajax_api_twins_share_the_api_entry() -> None:
    api = find("GET", "/api/2.0/mlflow/runs/get")
    ajax = find("GET", "/ajax-api/2.0/mlflow/runs/get")
    assert api is not None and ajax is not None and api[0] is ajax[0]


def test_every_entry_is_a_route_mlflow_serves_and_is_listed_once() -> None:
    served = _served()
    mlflows = [r for r in ROUTES
               if not r.path.startswith((OWN_PREFIX, PAGES_PREFIX))
               and r.path not in ANSWERED_HERE]
    stale = sorted(f"{r.method} {r.path}" for r in mlflows if (r.method, _x_form(r.path))
                   not in served)
    assert stale == [], f"the table lists routes MLflow does not serve: {stale}"
    listed = Counter((r.method, r.path) for r in ROUTES)
    assert [k for k, n in listed.items() if n > 1] == []
    assert len(mlflows) == len(served)


def test_the_administration_api_is_in_the_table_and_admin_only() -> None:
    from mlflow_compliance.server.administration import PREFIX
    from mlflow_compliance.server.administration import ROUTES as ADMIN_ROUTES

    assert PREFIX == OWN_PREFIX
    for method, route_path, _ in ADMIN_ROUTES:
        found = find(method, PREFIX + route_path)
        assert found is not None, route_path
        assert found[0].permission is Permission.ADMIN


def test_action_names_are_unique_and_readable() -> None:
    actions = Counter(r.action for r in ROUTES)
    assert [a for a, n in actions.items() if n > 1] == []
    unreadable = [a for a in actions if not re.fullmatch(r"[a-z_]+(\.[a-z_]+)+", a)]
    assert unreadable == []


def test_resolved_resources_say_where_the_request_names_them() -> None:
    unnamed = [f"{r.method} {r.path}" for r in ROUTES if r.resource in RESOLVED and not r.where]
    assert unnamed == []
    wrong_param = [
        f"{r.method} {r.path}: {w.name}"
        for r in ROUTES
        for w in r.where
        if w.source is Source.PATH and w.name not in {name for name, _ in PARAM.findall(r.path)}
    ]
    assert wrong_param == []


def test_only_resolved_resources_have_wheres() -> None:
    # Our own administration routes name the user or token acted on, for the audit log.
    stray = [f"{r.method} {r.path}" for r in ROUTES
             if r.where and r.resource not in RESOLVED and not r.path.startswith(OWN_PREFIX)]
    assert stray == []


def test_the_request_part_read_matches_how_mlflow_parses_the_method() -> None:
    # handlers._get_request_message: the query string for GET, the JSON body otherwise.
    wrong = []
    for r in ROUTES:
        for w in r.where:
            if r.method == "GET" and w.source is Source.JSON:
                wrong.append(f"{r.method} {r.path}: body({w.name})")
            if (r.method != "GET" and w.source is Source.QUERY
                    and (r.method, r.path) not in QUERY_ON_WRITE):
                wrong.append(f"{r.method} {r.path}: query({w.name})")
    assert wrong == []


@pytest.mark.parametrize(("method", "route_path"), [
    ("POST", "/api/2.0/mlflow/experiments/delete"),
    ("POST", "/api/2.0/mlflow/experiments/restore"),
    ("POST", "/api/2.0/mlflow/experiments/update"),  # UpdateExperiment renames
    ("POST", "/api/2.0/mlflow/runs/delete"),
    ("POST", "/api/2.0/mlflow/runs/restore"),
    ("DELETE", "/api/2.0/mlflow/registered-models/delete"),
    ("POST", "/api/2.0/mlflow/registered-models/rename"),
    ("DELETE", "/api/2.0/mlflow/model-versions/delete"),
    ("DELETE", "/api/2.0/mlflow/logged-models/{model_id}"),
    ("DELETE", "/api/2.0/mlflow-artifacts/artifacts/{artifact_path:path}"),
])
def test_deleting_restoring_and_renaming_need_manage(method: str, route_path: str) -> None:
    assert _entry(method, route_path).permission is P.MANAGE


def test_log_batch_needs_edit_on_the_run_named_in_the_body() -> None:
    entry = _entry("POST", "/api/2.0/mlflow/runs/log-batch")
    assert (entry.permission, entry.resource, entry.where) == (P.EDIT, R.RUN, (body("run_id"),))


def test_run_read_resolves_from_query_run_id_then_legacy_run_uuid() -> None:
    found = find("GET", "/api/2.0/mlflow/runs/get")
    assert found is not None
    entry = found[0]
    assert (entry.permission, entry.resource) == (P.READ, R.RUN)
    assert entry.where == (query("run_id"), query("run_uuid"))


def test_proxied_artifacts_need_read_to_download_and_edit_to_upload() -> None:
    download = find("GET", "/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/model.pkl")
    upload = find("PUT", "/ajax-api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/x.txt")
    delete = find("DELETE", "/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/x.txt")
    assert download is not None and upload is not None and delete is not None
    assert (download[0].permission, download[0].resource) == (P.READ, R.ARTIFACT)
    assert download[1] == {"artifact_path": "1/abc/artifacts/model.pkl"}
    assert (upload[0].permission, upload[0].resource) == (P.EDIT, R.ARTIFACT)
    assert upload[0].where == (path("artifact_path"),)
    assert (delete[0].permission, delete[0].resource) == (P.MANAGE, R.ARTIFACT)


def test_health_is_the_only_public_route() -> None:
    assert [r.path for r in ROUTES if r.permission is P.PUBLIC] == ["/health"]


def test_webhooks_and_direct_storage_transfers_are_admin_only() -> None:
    admin_only = [
        r for r in ROUTES
        if "/webhooks" in r.path or "/mlflow-artifacts/mpu/" in r.path or "presigned" in r.path
    ]
    assert len(admin_only) == 6 + 3 + 3
    assert {(r.permission, r.resource) for r in admin_only} == {(P.ADMIN, R.SERVER)}


def test_unscoped_searches_are_filtered_by_the_server_not_refused() -> None:
    for method, route_path in [
        ("POST", "/api/2.0/mlflow/experiments/search"),
        ("GET", "/api/2.0/mlflow/experiments/search"),
        ("GET", "/api/2.0/mlflow/registered-models/search"),
        ("GET", "/api/2.0/mlflow/model-versions/search"),
    ]:
        entry = _entry(method, route_path)
        assert (entry.permission, entry.resource) == (P.AUTHENTICATED, R.NONE)
        assert entry.action.split(".")[-1] in ("search", "via_get")


def test_creating_an_experiment_or_registered_model_needs_only_create() -> None:
    created = {(r.method, r.path) for r in ROUTES if r.permission is P.CREATE}
    assert created == {
        ("POST", "/api/2.0/mlflow/experiments/create"),
        ("POST", "/api/2.0/mlflow/registered-models/create"),
    }
    assert {r.resource for r in ROUTES if r.permission is P.CREATE} == {R.NONE}


def test_finalizing_a_logged_model_resolves_the_model_mlflow_acts_on() -> None:
    # MLflow's handler finalizes the body's model_id, whatever the path says.
    found = find("PATCH", "/api/2.0/mlflow/logged-models/m-123")
    assert found is not None
    assert found[0].where[0] == body("model_id")


def test_server_wide_features_are_read_for_auditors_and_written_by_admins() -> None:
    wrong = []
    for r in ROUTES:
        if r.resource is not R.SERVER or r.path.startswith((OWN_PREFIX, PAGES_PREFIX)):
            continue
        writes = (r.method != "GET" and (r.method, r.path) not in READ_ONLY_WRITES) or (
            (r.method, r.path) in WRITING_GETS
        )
        if r.permission is not (P.ADMIN if writes else P.READ) and not (
            r.permission is P.ADMIN and ("/webhooks" in r.path or "presigned" in r.path)
        ):
            wrong.append(f"{r.method} {r.path}: {r.permission.name}")
    assert wrong == []


def test_core_writes_never_need_less_than_edit() -> None:
    # A non-GET route on an experiment, run, model or artifact that only needs READ is a
    # search; anything else that writes must need EDIT or MANAGE.
    searches = {
        ("POST", "/api/2.0/mlflow/runs/search"),
        ("POST", "/api/2.0/mlflow/logged-models/search"),
        ("POST", "/api/2.0/mlflow/experiments/search-datasets"),
        ("POST", "/api/2.0mlflow/experiments/search-datasets"),
        ("POST", "/api/2.0/mlflow/registered-models/get-latest-versions"),
        ("POST", "/api/3.0/mlflow/traces/batchGetInfos"),
        ("POST", "/api/3.0/mlflow/traces/search"),
        ("POST", "/api/3.0/mlflow/traces/calculate-filter-correlation"),
        ("POST", "/api/3.0/mlflow/traces/metrics"),
        ("POST", "/api/3.0/mlflow/datasets/search"),
        # A sign-off is a reviewer's act, not an edit of the model: read on the model
        # plus the approver clearance, which the promotion gate itself checks.
        ("POST", "/api/2.0/compliance/model-versions/approve"),
        ("POST", "/compliance/version/sign-off"),  # the same, from the browser
    }
    wrong = [
        f"{r.method} {r.path}"
        for r in ROUTES
        if r.resource in RESOLVED and r.method != "GET" and r.permission is P.READ
        and (r.method, r.path) not in searches
    ]
    assert wrong == []
    gets = [f"{r.path}" for r in ROUTES if r.resource in RESOLVED and r.method == "GET"
            and r.permission is not P.READ]
    assert gets == []
