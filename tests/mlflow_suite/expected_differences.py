"""The one reviewed list of where our server answers MLflow's own tests differently.

``EXPECTED_DIFFERENCES``: ``(role, test name) -> reason`` for every test that passes
against plain ``mlflow server`` and fails against the compliance server. conftest.py marks
each ``xfail(strict=True)``: when a difference disappears the test XPASSes, the suite
fails, and the entry must go. A reason says what the server does and why:

- a deliberate refusal by the compliance server (access control, encryption, audit)
  names the rule;
- a reason starting ``BUG:`` is a bug or incompatibility in our server that should be
  fixed; remove the entry with the fix.

The test name is pytest's name without the role id (``test_x`` or ``test_x[param]``).

``EXCLUDED``: tests that fail against plain ``mlflow server`` too in this environment, or
that never talk to the server under test; they are skipped, with the reason.
"""

from __future__ import annotations

_OWN_SERVER = "starts a plain MLflow server of its own; never talks to the server under test"
_FILE_ROOT = (
    "MLflow's fixture gave its in-process server a file:// artifact root; plain MLflow is "
    "run as our server is, with proxied artifacts (mlflow-artifacts:/), and fails it too"
)
EXCLUDED: dict[str, str] = {
    # Not tests of the server under test.
    "test_gateway_proxy_handler_rejects_invalid_requests": _OWN_SERVER,
    "test_create_model_version_with_validation_regex": _OWN_SERVER,
    "test_get_secrets_config_with_default_passphrase": _OWN_SERVER,
    # Assume MLflow's per-test in-process server (same working directory, file:// root).
    "test_create_get_search_experiment": (
        "asserts a relative artifact_location resolves against the test process's working "
        "directory, true only for MLflow's in-process server; fails on plain MLflow too"
    ),
    "test_artifacts": _FILE_ROOT,
    "test_create_model_version_with_path_source": _FILE_ROOT,
    "test_create_model_version_with_non_local_source": _FILE_ROOT,
    "test_create_model_version_with_file_uri": _FILE_ROOT,
    # The vendored file predates MLflow 3.17.2; these fail on plain 3.17.2.
    "test_path_validation": (
        "fails on plain MLflow 3.17.2: its errors also carry error_class and sqlstate, the "
        "test compares the whole error body"
    ),
    "test_get_metric_history_bulk_interval_respects_max_results": (
        "fails on plain MLflow 3.17.2: its step sampling for get-history-bulk-interval "
        "returns other steps than the test expects"
    ),
    "test_scorer_CRUD": (
        "fails on plain MLflow 3.17.2: custom scorer registration is disabled outside "
        "Databricks (arbitrary code on deserialization)"
    ),
}

# --- (A) deliberate: the compliance server refuses or answers differently on purpose ---

_ARTIFACT_LOCATION = (
    "deliberate: experiments/create refuses any artifact_location (400 'artifact_location: "
    "not allowed; the server stores every experiment's artifacts itself "
    "(mlflow-artifacts:/)'), before MLflow's own type checks: a direct location would let "
    "clients write past encryption and the audit log"
)
_USER_ID = (
    "deliberate: a run's user_id is the authenticated user, not the mlflow.user tag the "
    "client sends nor 'unknown': the record says who really did it"
)
_NAMES_NO_RESOURCE = (
    "deliberate: deny by default; an ordinary user's request that names none of the objects "
    "its route is authorized on (run_id, experiment_ids... missing) is refused before "
    "MLflow sees it, with 400 INVALID_PARAMETER_VALUE \"Missing value for required parameter "
    "'<field>'\" (MLflow's wording for a missing field) instead of the handler's own message"
)
_NOT_FOUND = (
    "deliberate: an object an ordinary user's request names and the server cannot resolve "
    "(missing, deleted, or of the wrong type) is answered 404 '<kind> <id> does not exist "
    "(or you may not read it)', the same whether it exists or not, instead of MLflow's own "
    "message or 400"
)
_GATEWAY = (
    "deliberate: the AI gateway (secrets, model definitions, endpoints, its provider catalog "
    "and secrets config) is server-wide: admin only, reads admin and auditor (403 'needs the "
    "admin role')"
)
_GRAPHQL_SEARCH_RUNS = (
    "deliberate: need-to-know; without the personal-data clearance, GraphQL mlflowSearchRuns "
    "searches by run id only (403 'runs are searched here by id only')"
)

EXPECTED_DIFFERENCES: dict[tuple[str, str], str] = {
    ("admin", "test_create_experiment_validation"): _ARTIFACT_LOCATION,
    ("user", "test_create_experiment_validation"): _ARTIFACT_LOCATION,
    ("admin", "test_create_run_all_args[None]"): _USER_ID,
    ("admin", "test_create_run_all_args[my-parent-id]"): _USER_ID,
    ("admin", "test_create_run_defaults"): _USER_ID,
    ("user", "test_create_run_all_args[None]"): _USER_ID,
    ("user", "test_create_run_all_args[my-parent-id]"): _USER_ID,
    ("user", "test_create_run_defaults"): _USER_ID,
    # Malformed or incomplete requests: authorization answers before MLflow validates.
    ("user", "test_log_metric_validation"): _NOT_FOUND,
    ("user", "test_log_param_validation"): _NOT_FOUND,
    ("user", "test_set_tag_validation"): _NOT_FOUND,
    ("user", "test_get_metric_history_bulk_rejects_invalid_requests"): _NAMES_NO_RESOURCE,
    ("user", "test_get_metric_history_bulk_interval_rejects_invalid_requests"): (
        _NAMES_NO_RESOURCE
    ),
    ("user", "test_search_dataset_handler_rejects_invalid_requests"): _NAMES_NO_RESOURCE,
    ("user", "test_create_promptlab_run_handler_rejects_invalid_requests"): _NAMES_NO_RESOURCE,
    ("user", "test_upload_artifact_handler_rejects_invalid_requests"): _NAMES_NO_RESOURCE,
    # Objects that are gone or never were: one not-found answer.
    ("user", "test_delete_tag"): _NOT_FOUND,
    ("user", "test_delete_logged_model"): _NOT_FOUND,
    ("user", "test_evaluation_dataset_delete"): _NOT_FOUND,
    ("user", "test_dataset_experiment_association_error_cases_rest_tracking"): _NOT_FOUND,
    ("user", "test_create_logged_model"): (
        "deliberate: a logged model's source_run_id must name a run the user may read; the "
        "test names a run '123' that does not exist (404 'source_run_id: ... run 123 does not "
        "exist (or you may not read it)')"
    ),
    # Evaluation datasets belong to the experiments they are linked to.
    ("user", "test_search_evaluation_datasets"): (
        "deliberate: an ordinary user's dataset search must name its experiment_ids; "
        "search_datasets() naming none (MLflow then lists every experiment's) is refused "
        "with 400 'Missing value for required parameter 'experiment_ids'', not filtered"
    ),
    ("user", "test_remove_dataset_from_experiments_rest_tracking"): (
        "deliberate: an evaluation dataset belongs to the experiments it is linked to; "
        "unlinked from all of them only admins reach it, so its creator then gets 404 "
        "reading its experiment ids"
    ),
    # GraphQL.
    ("user", "test_search_runs_graphql"): _GRAPHQL_SEARCH_RUNS,
    ("user", "test_get_run_and_experiment_graphql"): (
        "deliberate: need-to-know; a model version nested under a run is shown to a caller "
        "without the personal-data clearance only when the query selects its version number, "
        "so its lineage can be checked version by version; this query selects only the "
        "name, so the version is left out (fail closed)"
    ),
    # The AI gateway.
    ("user", "test_create_and_get_secret"): _GATEWAY,
    ("user", "test_update_secret"): _GATEWAY,
    ("user", "test_list_secret_infos"): _GATEWAY,
    ("user", "test_delete_secret"): _GATEWAY,
    ("user", "test_create_secret_with_dict_value"): _GATEWAY,
    ("user", "test_update_secret_with_dict_value"): _GATEWAY,
    ("user", "test_create_and_update_compound_secret_via_rest"): _GATEWAY,
    ("user", "test_model_definitions"): _GATEWAY,
    ("user", "test_update_model_definition_provider"): _GATEWAY,
    ("user", "test_list_providers"): _GATEWAY,
    ("user", "test_list_models"): _GATEWAY,
    ("user", "test_get_secrets_config_with_custom_passphrase"): _GATEWAY,
    ("user", "test_get_provider_config"): _GATEWAY,
    ("user", "test_create_and_get_endpoint"): _GATEWAY,
    ("user", "test_update_endpoint"): _GATEWAY,
    ("user", "test_list_endpoints"): _GATEWAY,
    ("user", "test_delete_endpoint"): _GATEWAY,
    ("user", "test_attach_detach_model_to_endpoint"): _GATEWAY,
    ("user", "test_endpoint_bindings"): _GATEWAY,
    ("user", "test_secrets_and_endpoints_integration"): _GATEWAY,
    ("user", "test_endpoint_with_orphaned_model_definition"): _GATEWAY,
    # --- (B) bugs: none open. A reason starting "BUG:" goes here; remove it with the fix.
}
