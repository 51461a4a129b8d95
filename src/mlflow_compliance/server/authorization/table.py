"""The one place that maps every MLflow route to an action and the resource it touches.

Deny by default: a request whose route is not in this table is refused (403), and a
test enumerates the installed MLflow's routes so a route a new release adds fails the
suite instead of being served unchecked. ``/ajax-api/`` twins share their ``/api/``
entry. The audit log names requests by the same ``action``.

Permissions, lowest first:

- ``PUBLIC``: no identity needed (only ``/health``).
- ``AUTHENTICATED``: any authenticated principal (the UI shell, server info).
- ``READ`` / ``EDIT`` / ``MANAGE``: the principal needs at least this grant on the
  resource (``Resource.EXPERIMENT`` or ``Resource.REGISTERED_MODEL`` after resolution);
  on ``Resource.SERVER`` only ``admin`` (and ``auditor`` for ``READ``) passes.
- ``CREATE``: any principal who may write (not an auditor); the creator then manages
  what it created.
- ``PRIVACY``: ``admin`` or ``privacy`` (the data-subject routes, GDPR Art. 15-21).
- ``ADMIN``: only ``admin``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum


class Permission(IntEnum):
    PUBLIC = 0
    AUTHENTICATED = 1
    READ = 2
    EDIT = 3
    MANAGE = 4
    CREATE = 5
    PRIVACY = 6
    ADMIN = 7


class Resource(StrEnum):
    """What the request names; resolved to an experiment or a registered model."""

    NONE = "none"  # nothing to check beyond the permission itself
    SERVER = "server"  # server-wide features: admin (and auditor for READ) only
    EXPERIMENT = "experiment"  # experiment_id -> experiment
    EXPERIMENT_NAME = "experiment_name"  # experiment name -> experiment
    RUN = "run"  # run_id -> its experiment
    LOGGED_MODEL = "logged_model"  # model_id -> its experiment
    ARTIFACT = "artifact"  # mlflow-artifacts path "<experiment_id>/<run_id>/..." -> experiment
    REGISTERED_MODEL = "registered_model"  # name -> registered model
    MODEL_VERSION = "model_version"  # name (+ version) -> registered model
    GRAPHQL = "graphql"  # every object the query reads (graphql_query)
    TRACE = "trace"  # trace id -> its experiment
    DATASET = "dataset"  # evaluation dataset id -> every experiment it is linked to
    TRACE_EXPORT = "trace_export"  # OTLP spans: the header's experiment, their traces (otlp)


class Source(StrEnum):
    QUERY = "query"  # URL query string
    JSON = "json"  # JSON body; a dotted name walks into objects, "[]" into a list's items
    PATH = "path"  # path parameter of the route
    HEADER = "header"  # an HTTP header (lowercase name)


@dataclass(frozen=True)
class Where:
    """Where a request names its resource: a field in the query, body or path.

    ``many`` marks a field that is a list (``run_ids``, ``experiment_ids``): every
    element must pass.
    """

    source: Source
    name: str
    many: bool = False


def query(name: str, many: bool = False) -> Where:
    return Where(Source.QUERY, name, many)


def body(name: str, many: bool = False) -> Where:
    return Where(Source.JSON, name, many)


def path(name: str) -> Where:
    return Where(Source.PATH, name)


def header(name: str) -> Where:
    return Where(Source.HEADER, name)


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # MLflow's route under /api/ (or at the root), path parameters as {name}
    action: str  # semantic action, e.g. "run.read", "artifact.download"
    permission: Permission
    resource: Resource = Resource.NONE
    where: tuple[Where, ...] = ()  # alternatives: the first one present in the request
    pattern: re.Pattern[str] | None = field(default=None, compare=False, repr=False)


def route(
    method: str,
    route_path: str,
    action: str,
    permission: Permission,
    resource: Resource = Resource.NONE,
    *where: Where,
) -> Route:
    pattern = None
    if "{" in route_path:
        regex = re.sub(
            r"\{(\w+)(:path)?\}",
            lambda m: f"(?P<{m[1]}>.+)" if m[2] else f"(?P<{m[1]}>[^/]+)",
            route_path,
        )
        pattern = re.compile(f"^{regex}$")
    return Route(method, route_path, action, permission, resource, tuple(where), pattern)


P = Permission
R = Resource

ROUTES: list[Route] = [
    # --- server and UI shell -------------------------------------------------------
    route("GET", "/health", "server.health", P.PUBLIC),
    route("GET", "/version", "server.version.read", P.AUTHENTICATED),
    route("GET", "/api/3.0/mlflow/server-info", "server.info.read", P.AUTHENTICATED),
    route("GET", "/", "ui.page.read", P.AUTHENTICATED),
    route("GET", "/static-files/{path:path}", "ui.static_file.read", P.AUTHENTICATED),
    # --- the compliance web pages (server/pages/): lists narrowed to what the caller
    # may read; a version's page needs read on the model and its source run (named.py)
    route("GET", "/compliance", "page.inventory.redirect", P.AUTHENTICATED),
    route("GET", "/compliance/", "page.inventory.read", P.AUTHENTICATED),
    route("GET", "/compliance/runs", "page.runs.read", P.AUTHENTICATED),
    route("GET", "/compliance/static/{path:path}", "page.static.read", P.AUTHENTICATED),
    route("POST", "/compliance/recheck", "page.recheck", P.ADMIN, R.SERVER),
    route("GET", "/compliance/version", "page.version.read", P.READ, R.MODEL_VERSION,
          query("name")),
    # a sign-off from the browser: audited as the REST sign-off is; the gate checks the
    # approver clearance and four eyes, the page the CSRF token and the digest shown
    route("POST", "/compliance/version/sign-off", "model_version.approve.browser", P.READ,
          R.MODEL_VERSION, query("name")),
    route("GET", "/compliance/audit", "page.audit.read", P.READ, R.SERVER),
    route("GET", "/compliance/audit/export", "audit.export", P.READ, R.SERVER),
    route("GET", "/compliance/requests", "page.requests.read", P.PRIVACY, R.SERVER),
    route("GET", "/build/{filename:path}", "ui.build_file.read", P.AUTHENTICATED),
    # UI only (/ajax-api/): usage telemetry the UI sends to MLflow's telemetry service.
    route("GET", "/api/3.0/mlflow/ui-telemetry", "ui.telemetry.config.read", P.READ, R.SERVER),
    route("POST", "/api/3.0/mlflow/ui-telemetry", "ui.telemetry.send", P.ADMIN, R.SERVER),
    # MLflow's basic-auth routes the UI asks on every page (who is signed in) and in its
    # "change password" dialog: answered by mlflow-compliance itself (server/account.py),
    # for the caller only.
    route("GET", "/api/2.0/mlflow/users/current", "account.read", P.AUTHENTICATED),
    route("GET", "/api/3.0/mlflow/users/current/permissions", "account.permissions.read",
          P.AUTHENTICATED),
    route("PATCH", "/api/2.0/mlflow/users/update-password", "account.password.change",
          P.AUTHENTICATED),
    # GraphQL: the UI's run page and charts; its "mutations" only search. Authorized per
    # object the query reads (graphql_query).
    route("POST", "/graphql", "graphql.query", P.READ, R.GRAPHQL),
    route("GET", "/graphql", "graphql.query.via_get", P.READ, R.GRAPHQL),
    # --- experiments ---------------------------------------------------------------
    route("POST", "/api/2.0/mlflow/experiments/create", "experiment.create", P.CREATE),
    route("GET", "/api/2.0/mlflow/experiments/get", "experiment.read", P.READ, R.EXPERIMENT,
          query("experiment_id")),
    route("GET", "/api/2.0/mlflow/experiments/get-by-name", "experiment.read_by_name", P.READ,
          R.EXPERIMENT_NAME, query("experiment_name")),
    route("POST", "/api/2.0/mlflow/experiments/search", "experiment.search", P.AUTHENTICATED),
    route("GET", "/api/2.0/mlflow/experiments/search", "experiment.search.via_get",
          P.AUTHENTICATED),
    # UpdateExperiment only renames.
    route("POST", "/api/2.0/mlflow/experiments/update", "experiment.rename", P.MANAGE,
          R.EXPERIMENT, body("experiment_id")),
    route("POST", "/api/2.0/mlflow/experiments/delete", "experiment.delete", P.MANAGE,
          R.EXPERIMENT, body("experiment_id")),
    route("POST", "/api/2.0/mlflow/experiments/restore", "experiment.restore", P.MANAGE,
          R.EXPERIMENT, body("experiment_id")),
    route("POST", "/api/2.0/mlflow/experiments/set-experiment-tag", "experiment.tag.set",
          P.EDIT, R.EXPERIMENT, body("experiment_id")),
    route("POST", "/api/2.0/mlflow/experiments/delete-experiment-tag", "experiment.tag.delete",
          P.EDIT, R.EXPERIMENT, body("experiment_id")),
    # UI only (/ajax-api/): the datasets logged as run inputs in these experiments.
    route("POST", "/api/2.0/mlflow/experiments/search-datasets", "experiment.dataset.search",
          P.READ, R.EXPERIMENT, body("experiment_ids", many=True)),
    # MLflow really spells this one without the slash; it answers 404 (not implemented).
    route("POST", "/api/2.0mlflow/experiments/search-datasets",
          "experiment.dataset.search.via_misspelled_route", P.READ, R.EXPERIMENT,
          body("experiment_ids", many=True)),
    # --- runs ----------------------------------------------------------------------
    route("POST", "/api/2.0/mlflow/runs/create", "run.create", P.EDIT, R.EXPERIMENT,
          body("experiment_id")),
    # UI only (/ajax-api/): a run logged by the prompt lab (no model is called).
    route("POST", "/api/2.0/mlflow/runs/create-promptlab-run", "run.promptlab.create", P.EDIT,
          R.EXPERIMENT, body("experiment_id")),
    route("GET", "/api/2.0/mlflow/runs/get", "run.read", P.READ, R.RUN,
          query("run_id"), query("run_uuid")),
    route("POST", "/api/2.0/mlflow/runs/search", "run.search", P.READ, R.EXPERIMENT,
          body("experiment_ids", many=True)),
    route("POST", "/api/2.0/mlflow/runs/update", "run.update", P.EDIT, R.RUN,
          body("run_id"), body("run_uuid")),
    route("POST", "/api/2.0/mlflow/runs/delete", "run.delete", P.MANAGE, R.RUN,
          body("run_id")),
    route("POST", "/api/2.0/mlflow/runs/restore", "run.restore", P.MANAGE, R.RUN,
          body("run_id")),
    route("POST", "/api/2.0/mlflow/runs/set-tag", "run.tag.set", P.EDIT, R.RUN,
          body("run_id"), body("run_uuid")),
    route("POST", "/api/2.0/mlflow/runs/delete-tag", "run.tag.delete", P.EDIT, R.RUN,
          body("run_id")),
    route("POST", "/api/2.0/mlflow/runs/log-metric", "run.metric.log", P.EDIT, R.RUN,
          body("run_id"), body("run_uuid")),
    route("POST", "/api/2.0/mlflow/runs/log-parameter", "run.param.log", P.EDIT, R.RUN,
          body("run_id"), body("run_uuid")),
    route("POST", "/api/2.0/mlflow/runs/log-batch", "run.batch.log", P.EDIT, R.RUN,
          body("run_id")),
    route("POST", "/api/2.0/mlflow/runs/log-model", "run.model.log", P.EDIT, R.RUN,
          body("run_id")),
    route("POST", "/api/2.0/mlflow/runs/log-inputs", "run.inputs.log", P.EDIT, R.RUN,
          body("run_id")),
    route("POST", "/api/2.0/mlflow/runs/outputs", "run.outputs.log", P.EDIT, R.RUN,
          body("run_id")),
    # --- metric history --------------------------------------------------------------
    route("GET", "/api/2.0/mlflow/metrics/get-history", "run.metric.history.read", P.READ,
          R.RUN, query("run_id"), query("run_uuid")),
    # UI only (/ajax-api/): repeated ?run_id=...
    route("GET", "/api/2.0/mlflow/metrics/get-history-bulk", "run.metric.history.read_bulk",
          P.READ, R.RUN, query("run_id", many=True)),
    route("GET", "/api/2.0/mlflow/metrics/get-history-bulk-interval",
          "run.metric.history.read_bulk_interval", P.READ, R.RUN, query("run_ids", many=True)),
    # --- run artifacts (by run id) ---------------------------------------------------
    route("GET", "/api/2.0/mlflow/artifacts/list", "run.artifact.list", P.READ, R.RUN,
          query("run_id"), query("run_uuid")),
    route("GET", "/get-artifact", "run.artifact.download", P.READ, R.RUN,
          query("run_id"), query("run_uuid")),
    # UI only (/ajax-api/): the body is the file, the run is in the query string.
    route("POST", "/api/2.0/mlflow/upload-artifact", "run.artifact.upload", P.EDIT, R.RUN,
          query("run_uuid")),
    # --- artifacts through the proxy (path "<experiment_id>/<run_id>/artifacts/...") ---
    route("GET", "/api/2.0/mlflow-artifacts/artifacts", "artifact.list", P.READ, R.ARTIFACT,
          query("path")),
    route("GET", "/api/2.0/mlflow-artifacts/artifacts/{artifact_path:path}",
          "artifact.download", P.READ, R.ARTIFACT, path("artifact_path")),
    route("PUT", "/api/2.0/mlflow-artifacts/artifacts/{artifact_path:path}",
          "artifact.upload", P.EDIT, R.ARTIFACT, path("artifact_path")),
    route("DELETE", "/api/2.0/mlflow-artifacts/artifacts/{artifact_path:path}",
          "artifact.delete", P.MANAGE, R.ARTIFACT, path("artifact_path")),
    # --- direct-to-storage transfers (to be switched off: admin only) ---------------
    route("POST", "/api/2.0/mlflow-artifacts/mpu/create/{artifact_path:path}",
          "artifact.multipart_upload.create", P.ADMIN, R.SERVER),
    route("POST", "/api/2.0/mlflow-artifacts/mpu/complete/{artifact_path:path}",
          "artifact.multipart_upload.complete", P.ADMIN, R.SERVER),
    route("POST", "/api/2.0/mlflow-artifacts/mpu/abort/{artifact_path:path}",
          "artifact.multipart_upload.abort", P.ADMIN, R.SERVER),
    route("GET", "/api/2.0/mlflow-artifacts/presigned/{artifact_path:path}",
          "artifact.presigned_download_url.get", P.ADMIN, R.SERVER),
    route("POST", "/api/2.0/mlflow/artifacts/presigned-download-url",
          "artifact.presigned_download_url.create", P.ADMIN, R.SERVER),
    route("POST", "/api/2.0/mlflow/artifacts/presigned-upload-url",
          "artifact.presigned_upload_url.create", P.ADMIN, R.SERVER),
    # --- logged models ---------------------------------------------------------------
    route("POST", "/api/2.0/mlflow/logged-models", "logged_model.create", P.EDIT,
          R.EXPERIMENT, body("experiment_id")),
    route("POST", "/api/2.0/mlflow/logged-models/search", "logged_model.search", P.READ,
          R.EXPERIMENT, body("experiment_ids", many=True)),
    route("GET", "/api/2.0/mlflow/logged-models/{model_id}", "logged_model.read", P.READ,
          R.LOGGED_MODEL, path("model_id")),
    # MLflow finalizes the model named in the body (a required field), not the one in
    # the path: resolve the body's first.
    route("PATCH", "/api/2.0/mlflow/logged-models/{model_id}", "logged_model.finalize",
          P.EDIT, R.LOGGED_MODEL, body("model_id"), path("model_id")),
    route("DELETE", "/api/2.0/mlflow/logged-models/{model_id}", "logged_model.delete",
          P.MANAGE, R.LOGGED_MODEL, path("model_id")),
    route("POST", "/api/2.0/mlflow/logged-models/{model_id}/params", "logged_model.params.log",
          P.EDIT, R.LOGGED_MODEL, path("model_id")),
    route("PATCH", "/api/2.0/mlflow/logged-models/{model_id}/tags", "logged_model.tag.set",
          P.EDIT, R.LOGGED_MODEL, path("model_id")),
    route("DELETE", "/api/2.0/mlflow/logged-models/{model_id}/tags/{tag_key}",
          "logged_model.tag.delete", P.EDIT, R.LOGGED_MODEL, path("model_id")),
    route("GET", "/api/2.0/mlflow/logged-models/{model_id}/artifacts/directories",
          "logged_model.artifact.list", P.READ, R.LOGGED_MODEL, path("model_id")),
    # UI only (/ajax-api/).
    route("GET", "/api/2.0/mlflow/logged-models/{model_id}/artifacts/files",
          "logged_model.artifact.download", P.READ, R.LOGGED_MODEL, path("model_id")),
    # --- registered models -----------------------------------------------------------
    route("POST", "/api/2.0/mlflow/registered-models/create", "registered_model.create",
          P.CREATE),
    route("GET", "/api/2.0/mlflow/registered-models/get", "registered_model.read", P.READ,
          R.REGISTERED_MODEL, query("name")),
    route("GET", "/api/2.0/mlflow/registered-models/search", "registered_model.search",
          P.AUTHENTICATED),
    route("PATCH", "/api/2.0/mlflow/registered-models/update", "registered_model.update",
          P.EDIT, R.REGISTERED_MODEL, body("name")),
    route("POST", "/api/2.0/mlflow/registered-models/rename", "registered_model.rename",
          P.MANAGE, R.REGISTERED_MODEL, body("name")),
    route("DELETE", "/api/2.0/mlflow/registered-models/delete", "registered_model.delete",
          P.MANAGE, R.REGISTERED_MODEL, body("name")),
    route("POST", "/api/2.0/mlflow/registered-models/set-tag", "registered_model.tag.set",
          P.EDIT, R.REGISTERED_MODEL, body("name")),
    route("DELETE", "/api/2.0/mlflow/registered-models/delete-tag",
          "registered_model.tag.delete", P.EDIT, R.REGISTERED_MODEL, body("name")),
    route("POST", "/api/2.0/mlflow/registered-models/get-latest-versions",
          "registered_model.latest_versions.read", P.READ, R.REGISTERED_MODEL, body("name")),
    route("GET", "/api/2.0/mlflow/registered-models/get-latest-versions",
          "registered_model.latest_versions.read.via_get", P.READ, R.REGISTERED_MODEL,
          query("name")),
    # An alias points at one version of the model: setting it acts on that version.
    route("POST", "/api/2.0/mlflow/registered-models/alias", "model_version.alias.set",
          P.EDIT, R.REGISTERED_MODEL, body("name")),
    route("DELETE", "/api/2.0/mlflow/registered-models/alias", "model_version.alias.delete",
          P.EDIT, R.REGISTERED_MODEL, body("name")),
    # Reading an alias reads the version it points at (need-to-know follows the version).
    route("GET", "/api/2.0/mlflow/registered-models/alias", "registered_model.alias.read",
          P.READ, R.MODEL_VERSION, query("name")),
    # --- model versions --------------------------------------------------------------
    route("POST", "/api/2.0/mlflow/model-versions/create", "model_version.create", P.EDIT,
          R.MODEL_VERSION, body("name")),
    route("GET", "/api/2.0/mlflow/model-versions/get", "model_version.read", P.READ,
          R.MODEL_VERSION, query("name")),
    route("GET", "/api/2.0/mlflow/model-versions/get-download-uri",
          "model_version.download_uri.read", P.READ, R.MODEL_VERSION, query("name")),
    route("GET", "/api/2.0/mlflow/model-versions/search", "model_version.search",
          P.AUTHENTICATED),
    route("PATCH", "/api/2.0/mlflow/model-versions/update", "model_version.update", P.EDIT,
          R.MODEL_VERSION, body("name")),
    route("POST", "/api/2.0/mlflow/model-versions/transition-stage",
          "model_version.stage.transition", P.EDIT, R.MODEL_VERSION, body("name")),
    route("DELETE", "/api/2.0/mlflow/model-versions/delete", "model_version.delete", P.MANAGE,
          R.MODEL_VERSION, body("name")),
    route("POST", "/api/2.0/mlflow/model-versions/set-tag", "model_version.tag.set", P.EDIT,
          R.MODEL_VERSION, body("name")),
    route("DELETE", "/api/2.0/mlflow/model-versions/delete-tag", "model_version.tag.delete",
          P.EDIT, R.MODEL_VERSION, body("name")),
    route("GET", "/model-versions/get-artifact", "model_version.artifact.download", P.READ,
          R.MODEL_VERSION, query("name")),
    # --- webhooks (admin only) -------------------------------------------------------
    route("POST", "/api/2.0/mlflow/webhooks", "webhook.create", P.ADMIN, R.SERVER),
    route("GET", "/api/2.0/mlflow/webhooks", "webhook.list", P.ADMIN, R.SERVER),
    route("GET", "/api/2.0/mlflow/webhooks/{webhook_id}", "webhook.read", P.ADMIN, R.SERVER),
    route("PATCH", "/api/2.0/mlflow/webhooks/{webhook_id}", "webhook.update", P.ADMIN,
          R.SERVER),
    route("DELETE", "/api/2.0/mlflow/webhooks/{webhook_id}", "webhook.delete", P.ADMIN,
          R.SERVER),
    route("POST", "/api/2.0/mlflow/webhooks/{webhook_id}/test", "webhook.test", P.ADMIN,
          R.SERVER),
    # --- traces, API 3.0: each trace belongs to its experiment ------------------------
    route("POST", "/api/3.0/mlflow/traces", "trace.start", P.EDIT, R.EXPERIMENT,
          body("trace.trace_info.trace_location.mlflow_experiment.experiment_id")),
    route("GET", "/api/3.0/mlflow/traces/{trace_id}", "trace.info.read", P.READ, R.TRACE,
          path("trace_id")),
    route("GET", "/api/3.0/mlflow/traces/get", "trace.read", P.READ, R.TRACE,
          query("trace_id")),
    route("GET", "/api/3.0/mlflow/traces/batchGet", "trace.batch.read", P.READ, R.TRACE,
          query("trace_ids", many=True)),
    route("POST", "/api/3.0/mlflow/traces/batchGetInfos", "trace.info.batch.read", P.READ,
          R.TRACE, body("trace_ids", many=True)),
    route("POST", "/api/3.0/mlflow/traces/search", "trace.search", P.READ, R.EXPERIMENT,
          body("locations[].mlflow_experiment.experiment_id", many=True)),
    route("POST", "/api/3.0/mlflow/traces/calculate-filter-correlation",
          "trace.filter_correlation.calculate", P.READ, R.EXPERIMENT,
          body("experiment_ids", many=True)),
    route("POST", "/api/3.0/mlflow/traces/metrics", "trace.metrics.query", P.READ,
          R.EXPERIMENT, body("experiment_ids", many=True)),
    # MLflow deletes only the experiment's traces: deleting is managing it.
    route("POST", "/api/3.0/mlflow/traces/delete-traces", "trace.delete", P.MANAGE,
          R.EXPERIMENT, body("experiment_id")),
    route("PATCH", "/api/3.0/mlflow/traces/{trace_id}/tags", "trace.tag.set", P.EDIT,
          R.TRACE, path("trace_id")),
    route("DELETE", "/api/3.0/mlflow/traces/{trace_id}/tags", "trace.tag.delete", P.EDIT,
          R.TRACE, path("trace_id")),
    # UI only (/ajax-api/).
    route("GET", "/api/3.0/mlflow/get-trace-artifact", "trace.artifact.download", P.READ,
          R.TRACE, query("request_id")),
    # OpenTelemetry (OTLP) span export: into the experiment its header names, and into
    # every existing trace its spans name (otlp).
    route("POST", "/v1/traces", "trace.otel.export", P.EDIT, R.TRACE_EXPORT,
          header("x-mlflow-experiment-id")),
    # --- traces, API 2.0 (deprecated) -----------------------------------------------
    route("POST", "/api/2.0/mlflow/traces", "trace.legacy.start", P.EDIT, R.EXPERIMENT,
          body("experiment_id")),
    route("GET", "/api/2.0/mlflow/traces", "trace.legacy.search", P.READ, R.EXPERIMENT,
          query("experiment_ids", many=True)),
    route("PATCH", "/api/2.0/mlflow/traces/{request_id}", "trace.legacy.end", P.EDIT,
          R.TRACE, path("request_id")),
    route("GET", "/api/2.0/mlflow/traces/{request_id}/info", "trace.legacy.info.read", P.READ,
          R.TRACE, path("request_id")),
    route("PATCH", "/api/2.0/mlflow/traces/{request_id}/tags", "trace.legacy.tag.set",
          P.EDIT, R.TRACE, path("request_id")),
    route("DELETE", "/api/2.0/mlflow/traces/{request_id}/tags", "trace.legacy.tag.delete",
          P.EDIT, R.TRACE, path("request_id")),
    route("POST", "/api/2.0/mlflow/traces/delete-traces", "trace.legacy.delete", P.MANAGE,
          R.EXPERIMENT, body("experiment_id")),
    # Links traces (each: edit, named) to the run (edit).
    route("POST", "/api/2.0/mlflow/traces/link-to-run", "trace.run.link", P.EDIT, R.RUN,
          body("run_id")),
    # Links prompt versions (each: read, named) to the trace (edit).
    route("POST", "/api/2.0/mlflow/traces/link-prompts", "trace.prompts.link", P.EDIT,
          R.TRACE, body("trace_id")),
    # UI only (/ajax-api/).
    route("GET", "/api/2.0/mlflow/get-trace-artifact", "trace.legacy.artifact.download",
          P.READ, R.TRACE, query("request_id")),
    # Databricks-only; MLflow answers 404 (not implemented).
    route("GET", "/api/2.0/mlflow/unified-traces", "trace.unified.search", P.READ, R.SERVER),
    route("GET", "/api/2.0/mlflow/get-online-trace-details", "trace.online_details.read",
          P.READ, R.SERVER),
    # --- assessments (of a trace: its experiment) --------------------------------------
    route("POST", "/api/3.0/mlflow/traces/{trace_id}/assessments", "assessment.create",
          P.EDIT, R.TRACE, path("trace_id")),
    route("GET", "/api/3.0/mlflow/traces/{trace_id}/assessments/{assessment_id}",
          "assessment.read", P.READ, R.TRACE, path("trace_id")),
    route("PATCH", "/api/3.0/mlflow/traces/{trace_id}/assessments/{assessment_id}",
          "assessment.update", P.EDIT, R.TRACE, path("trace_id")),
    route("DELETE", "/api/3.0/mlflow/traces/{trace_id}/assessments/{assessment_id}",
          "assessment.delete", P.EDIT, R.TRACE, path("trace_id")),
    # --- evaluation datasets: of every experiment they are linked to --------------------
    route("POST", "/api/3.0/mlflow/datasets/create", "evaluation_dataset.create", P.EDIT,
          R.EXPERIMENT, body("experiment_ids", many=True)),
    route("POST", "/api/3.0/mlflow/datasets/search", "evaluation_dataset.search", P.READ,
          R.EXPERIMENT, body("experiment_ids", many=True)),
    route("GET", "/api/3.0/mlflow/datasets/search", "evaluation_dataset.search.via_get",
          P.READ, R.EXPERIMENT, query("experiment_ids", many=True)),
    route("GET", "/api/3.0/mlflow/datasets/{dataset_id}", "evaluation_dataset.read", P.READ,
          R.DATASET, path("dataset_id")),
    route("DELETE", "/api/3.0/mlflow/datasets/{dataset_id}", "evaluation_dataset.delete",
          P.MANAGE, R.DATASET, path("dataset_id")),
    route("GET", "/api/3.0/mlflow/datasets/{dataset_id}/experiment-ids",
          "evaluation_dataset.experiments.read", P.READ, R.DATASET, path("dataset_id")),
    # Linking needs edit on the dataset and on each experiment linked (named).
    route("POST", "/api/3.0/mlflow/datasets/{dataset_id}/add-experiments",
          "evaluation_dataset.experiments.add", P.EDIT, R.DATASET, path("dataset_id")),
    route("POST", "/api/3.0/mlflow/datasets/{dataset_id}/remove-experiments",
          "evaluation_dataset.experiments.remove", P.MANAGE, R.DATASET, path("dataset_id")),
    route("GET", "/api/3.0/mlflow/datasets/{dataset_id}/records",
          "evaluation_dataset.records.read", P.READ, R.DATASET, path("dataset_id")),
    route("POST", "/api/3.0/mlflow/datasets/{dataset_id}/records",
          "evaluation_dataset.records.upsert", P.EDIT, R.DATASET, path("dataset_id")),
    route("DELETE", "/api/3.0/mlflow/datasets/{dataset_id}/records",
          "evaluation_dataset.records.delete", P.EDIT, R.DATASET, path("dataset_id")),
    route("PATCH", "/api/3.0/mlflow/datasets/{dataset_id}/tags", "evaluation_dataset.tag.set",
          P.EDIT, R.DATASET, path("dataset_id")),
    route("DELETE", "/api/3.0/mlflow/datasets/{dataset_id}/tags/{key}",
          "evaluation_dataset.tag.delete", P.EDIT, R.DATASET, path("dataset_id")),
    # --- scorers (judges) of an experiment ------------------------------------------
    route("POST", "/api/3.0/mlflow/scorers/register", "scorer.register", P.EDIT,
          R.EXPERIMENT, body("experiment_id")),
    # Without an experiment MLflow lists every experiment's: names no resource (admin).
    route("GET", "/api/3.0/mlflow/scorers/list", "scorer.list", P.READ, R.EXPERIMENT,
          query("experiment_id"), query("experiment_ids", many=True)),
    route("GET", "/api/3.0/mlflow/scorers/versions", "scorer.version.list", P.READ,
          R.EXPERIMENT, query("experiment_id")),
    route("GET", "/api/3.0/mlflow/scorers/get", "scorer.read", P.READ, R.EXPERIMENT,
          query("experiment_id")),
    route("DELETE", "/api/3.0/mlflow/scorers/delete", "scorer.delete", P.EDIT, R.EXPERIMENT,
          body("experiment_id")),
    # By scorer id, server-wide: admins and auditors (a decision: access-control.md).
    route("GET", "/api/3.0/mlflow/scorers/online-configs", "scorer.online_config.list",
          P.READ, R.SERVER),
    route("PUT", "/api/3.0/mlflow/scorers/online-config", "scorer.online_config.set",
          P.ADMIN, R.SERVER),
    # UI only (/ajax-api/): these run scorers / judges (LLM calls, jobs, new runs).
    route("POST", "/api/3.0/mlflow/scorer/invoke", "scorer.invoke", P.ADMIN, R.SERVER),
    route("POST", "/api/3.0/mlflow/genai/evaluate/invoke", "genai.evaluation.invoke",
          P.ADMIN, R.SERVER),
    # --- issues ----------------------------------------------------------------------
    route("POST", "/api/3.0/mlflow/issues", "issue.create", P.ADMIN, R.SERVER),
    route("POST", "/api/3.0/mlflow/issues/search", "issue.search", P.READ, R.SERVER),
    route("GET", "/api/3.0/mlflow/issues/{issue_id}", "issue.read", P.READ, R.SERVER),
    route("PATCH", "/api/3.0/mlflow/issues/{issue_id}", "issue.update", P.ADMIN, R.SERVER),
    # UI only (/ajax-api/): runs issue detection (LLM calls, a job, a new run).
    route("POST", "/api/3.0/mlflow/issues/invoke", "issue.detection.invoke", P.ADMIN,
          R.SERVER),
    # --- label schemas ---------------------------------------------------------------
    route("POST", "/api/3.0/mlflow/label-schemas/create", "label_schema.create", P.ADMIN,
          R.SERVER),
    route("GET", "/api/3.0/mlflow/label-schemas/get", "label_schema.read", P.READ, R.SERVER),
    route("GET", "/api/3.0/mlflow/label-schemas/get-by-name", "label_schema.read_by_name",
          P.READ, R.SERVER),
    route("GET", "/api/3.0/mlflow/label-schemas/list", "label_schema.list", P.READ, R.SERVER),
    route("PATCH", "/api/3.0/mlflow/label-schemas/update", "label_schema.update", P.ADMIN,
          R.SERVER),
    route("DELETE", "/api/3.0/mlflow/label-schemas/delete", "label_schema.delete", P.ADMIN,
          R.SERVER),
    # --- review queues ---------------------------------------------------------------
    route("POST", "/api/3.0/mlflow/review-queues/create", "review_queue.create", P.ADMIN,
          R.SERVER),
    # Creates the user's queue when it does not exist yet: a write.
    route("POST", "/api/3.0/mlflow/review-queues/get-or-create-user",
          "review_queue.user_queue.get_or_create", P.ADMIN, R.SERVER),
    route("GET", "/api/3.0/mlflow/review-queues/get", "review_queue.read", P.READ, R.SERVER),
    route("GET", "/api/3.0/mlflow/review-queues/get-by-name", "review_queue.read_by_name",
          P.READ, R.SERVER),
    route("GET", "/api/3.0/mlflow/review-queues/list", "review_queue.list", P.READ, R.SERVER),
    route("POST", "/api/3.0/mlflow/review-queues/update", "review_queue.update", P.ADMIN,
          R.SERVER),
    route("POST", "/api/3.0/mlflow/review-queues/delete", "review_queue.delete", P.ADMIN,
          R.SERVER),
    route("POST", "/api/3.0/mlflow/review-queues/items/add", "review_queue.item.add",
          P.ADMIN, R.SERVER),
    route("POST", "/api/3.0/mlflow/review-queues/items/remove", "review_queue.item.remove",
          P.ADMIN, R.SERVER),
    route("GET", "/api/3.0/mlflow/review-queues/items/list", "review_queue.item.list",
          P.READ, R.SERVER),
    route("POST", "/api/3.0/mlflow/review-queues/items/set-status",
          "review_queue.item.status.set", P.ADMIN, R.SERVER),
    # --- prompt optimization ---------------------------------------------------------
    route("POST", "/api/3.0/mlflow/prompt-optimization/jobs", "prompt_optimization.job.create",
          P.ADMIN, R.SERVER),
    route("POST", "/api/3.0/mlflow/prompt-optimization/jobs/search",
          "prompt_optimization.job.search", P.READ, R.SERVER),
    route("GET", "/api/3.0/mlflow/prompt-optimization/jobs/search",
          "prompt_optimization.job.search.via_get", P.READ, R.SERVER),
    route("GET", "/api/3.0/mlflow/prompt-optimization/jobs/{job_id}",
          "prompt_optimization.job.read", P.READ, R.SERVER),
    route("POST", "/api/3.0/mlflow/prompt-optimization/jobs/{job_id}/cancel",
          "prompt_optimization.job.cancel", P.ADMIN, R.SERVER),
    route("DELETE", "/api/3.0/mlflow/prompt-optimization/jobs/{job_id}",
          "prompt_optimization.job.delete", P.ADMIN, R.SERVER),
    # --- background jobs (UI only: /ajax-api/) --------------------------------------
    route("POST", "/api/3.0/jobs/", "job.submit", P.ADMIN, R.SERVER),
    route("POST", "/api/3.0/jobs/search", "job.search", P.READ, R.SERVER),
    route("GET", "/api/3.0/jobs/{job_id}", "job.read", P.READ, R.SERVER),
    route("PATCH", "/api/3.0/jobs/cancel/{job_id}", "job.cancel", P.ADMIN, R.SERVER),
    route("GET", "/api/3.0/mlflow/jobs/{job_id}", "job.read.via_mlflow_route", P.READ,
          R.SERVER),
    route("PATCH", "/api/3.0/mlflow/jobs/cancel/{job_id}", "job.cancel.via_mlflow_route",
          P.ADMIN, R.SERVER),
    # --- workspaces ------------------------------------------------------------------
    route("GET", "/api/3.0/mlflow/workspaces", "workspace.list", P.READ, R.SERVER),
    route("POST", "/api/3.0/mlflow/workspaces", "workspace.create", P.ADMIN, R.SERVER),
    route("GET", "/api/3.0/mlflow/workspaces/{workspace_name}", "workspace.read", P.READ,
          R.SERVER),
    route("PATCH", "/api/3.0/mlflow/workspaces/{workspace_name}", "workspace.update", P.ADMIN,
          R.SERVER),
    route("DELETE", "/api/3.0/mlflow/workspaces/{workspace_name}", "workspace.delete",
          P.ADMIN, R.SERVER),
    # --- demo data (UI only: /ajax-api/) ----------------------------------------------
    route("POST", "/api/3.0/mlflow/demo/generate", "demo.generate", P.ADMIN, R.SERVER),
    route("POST", "/api/3.0/mlflow/demo/delete", "demo.delete", P.ADMIN, R.SERVER),
    # --- AI gateway: secrets ---------------------------------------------------------
    route("POST", "/api/3.0/mlflow/gateway/secrets/create", "gateway.secret.create", P.ADMIN,
          R.SERVER),
    route("GET", "/api/3.0/mlflow/gateway/secrets/get", "gateway.secret.read", P.READ,
          R.SERVER),
    route("GET", "/api/3.0/mlflow/gateway/secrets/list", "gateway.secret.list", P.READ,
          R.SERVER),
    route("POST", "/api/3.0/mlflow/gateway/secrets/update", "gateway.secret.update", P.ADMIN,
          R.SERVER),
    route("DELETE", "/api/3.0/mlflow/gateway/secrets/delete", "gateway.secret.delete",
          P.ADMIN, R.SERVER),
    # UI only (/ajax-api/).
    route("GET", "/api/3.0/mlflow/gateway/secrets/config", "gateway.secret.config.read",
          P.READ, R.SERVER),
    # --- AI gateway: endpoints -------------------------------------------------------
    route("POST", "/api/3.0/mlflow/gateway/endpoints/create", "gateway.endpoint.create",
          P.ADMIN, R.SERVER),
    route("GET", "/api/3.0/mlflow/gateway/endpoints/get", "gateway.endpoint.read", P.READ,
          R.SERVER),
    route("GET", "/api/3.0/mlflow/gateway/endpoints/list", "gateway.endpoint.list", P.READ,
          R.SERVER),
    route("POST", "/api/3.0/mlflow/gateway/endpoints/update", "gateway.endpoint.update",
          P.ADMIN, R.SERVER),
    route("DELETE", "/api/3.0/mlflow/gateway/endpoints/delete", "gateway.endpoint.delete",
          P.ADMIN, R.SERVER),
    route("POST", "/api/3.0/mlflow/gateway/endpoints/set-tag", "gateway.endpoint.tag.set",
          P.ADMIN, R.SERVER),
    route("DELETE", "/api/3.0/mlflow/gateway/endpoints/delete-tag",
          "gateway.endpoint.tag.delete", P.ADMIN, R.SERVER),
    route("POST", "/api/3.0/mlflow/gateway/endpoints/models/attach",
          "gateway.endpoint.model.attach", P.ADMIN, R.SERVER),
    route("POST", "/api/3.0/mlflow/gateway/endpoints/models/detach",
          "gateway.endpoint.model.detach", P.ADMIN, R.SERVER),
    route("POST", "/api/3.0/mlflow/gateway/endpoints/bindings/create",
          "gateway.endpoint.binding.create", P.ADMIN, R.SERVER),
    route("DELETE", "/api/3.0/mlflow/gateway/endpoints/bindings/delete",
          "gateway.endpoint.binding.delete", P.ADMIN, R.SERVER),
    route("GET", "/api/3.0/mlflow/gateway/endpoints/bindings/list",
          "gateway.endpoint.binding.list", P.READ, R.SERVER),
    # --- AI gateway: model definitions -----------------------------------------------
    route("POST", "/api/3.0/mlflow/gateway/model-definitions/create",
          "gateway.model_definition.create", P.ADMIN, R.SERVER),
    route("GET", "/api/3.0/mlflow/gateway/model-definitions/get",
          "gateway.model_definition.read", P.READ, R.SERVER),
    route("GET", "/api/3.0/mlflow/gateway/model-definitions/list",
          "gateway.model_definition.list", P.READ, R.SERVER),
    route("POST", "/api/3.0/mlflow/gateway/model-definitions/update",
          "gateway.model_definition.update", P.ADMIN, R.SERVER),
    route("DELETE", "/api/3.0/mlflow/gateway/model-definitions/delete",
          "gateway.model_definition.delete", P.ADMIN, R.SERVER),
    # --- AI gateway: budgets ---------------------------------------------------------
    route("POST", "/api/3.0/mlflow/gateway/budgets/create", "gateway.budget.create", P.ADMIN,
          R.SERVER),
    route("GET", "/api/3.0/mlflow/gateway/budgets/get", "gateway.budget.read", P.READ,
          R.SERVER),
    route("GET", "/api/3.0/mlflow/gateway/budgets/list", "gateway.budget.list", P.READ,
          R.SERVER),
    route("GET", "/api/3.0/mlflow/gateway/budgets/windows", "gateway.budget.window.list",
          P.READ, R.SERVER),
    route("POST", "/api/3.0/mlflow/gateway/budgets/update", "gateway.budget.update", P.ADMIN,
          R.SERVER),
    route("DELETE", "/api/3.0/mlflow/gateway/budgets/delete", "gateway.budget.delete",
          P.ADMIN, R.SERVER),
    # --- AI gateway: guardrails ------------------------------------------------------
    route("POST", "/api/3.0/mlflow/gateway/guardrails/create", "gateway.guardrail.create",
          P.ADMIN, R.SERVER),
    route("GET", "/api/3.0/mlflow/gateway/guardrails/get", "gateway.guardrail.read", P.READ,
          R.SERVER),
    route("GET", "/api/3.0/mlflow/gateway/guardrails/list", "gateway.guardrail.list", P.READ,
          R.SERVER),
    route("DELETE", "/api/3.0/mlflow/gateway/guardrails/delete", "gateway.guardrail.delete",
          P.ADMIN, R.SERVER),
    route("POST", "/api/3.0/mlflow/gateway/guardrails/add-to-endpoint",
          "gateway.guardrail.endpoint.add", P.ADMIN, R.SERVER),
    route("DELETE", "/api/3.0/mlflow/gateway/guardrails/remove-from-endpoint",
          "gateway.guardrail.endpoint.remove", P.ADMIN, R.SERVER),
    route("GET", "/api/3.0/mlflow/gateway/guardrails/list-for-endpoint",
          "gateway.guardrail.endpoint.list", P.READ, R.SERVER),
    route("PATCH", "/api/3.0/mlflow/gateway/guardrails/update-config",
          "gateway.guardrail.endpoint.update", P.ADMIN, R.SERVER),
    # --- AI gateway: provider discovery (UI only: /ajax-api/) --------------------------
    route("GET", "/api/3.0/mlflow/gateway/supported-providers",
          "gateway.supported_provider.list", P.READ, R.SERVER),
    route("GET", "/api/3.0/mlflow/gateway/supported-models", "gateway.supported_model.list",
          P.READ, R.SERVER),
    route("GET", "/api/3.0/mlflow/gateway/provider-config", "gateway.provider_config.read",
          P.READ, R.SERVER),
    # UI only (/ajax-api/): the deployments-server proxy; GET lists, POST invokes.
    # The UI's runs page lists the gateway's endpoints; MLflow takes no other GET path
    # (handlers._validate_gateway_path), so any signed-in user, as in MLflow's basic-auth.
    route("GET", "/api/2.0/mlflow/gateway-proxy", "gateway.proxy.endpoint.list",
          P.AUTHENTICATED),
    route("POST", "/api/2.0/mlflow/gateway-proxy", "gateway.proxy.invoke", P.ADMIN, R.SERVER),
    # --- AI gateway: serving (calls the providers with the stored secrets) ------------
    route("GET", "/gateway/mlflow/v1/models", "gateway.serving.model.list", P.READ, R.SERVER),
    route("POST", "/gateway/{endpoint_name}/mlflow/invocations", "gateway.serving.invoke",
          P.ADMIN, R.SERVER),
    route("POST", "/gateway/mlflow/v1/chat/completions", "gateway.serving.chat.invoke",
          P.ADMIN, R.SERVER),
    route("POST", "/gateway/openai/v1/chat/completions", "gateway.serving.openai_chat.invoke",
          P.ADMIN, R.SERVER),
    route("POST", "/gateway/openai/v1/embeddings", "gateway.serving.openai_embeddings.invoke",
          P.ADMIN, R.SERVER),
    route("POST", "/gateway/openai/v1/responses", "gateway.serving.openai_responses.invoke",
          P.ADMIN, R.SERVER),
    route("POST", "/gateway/openai/v1/responses/compact",
          "gateway.serving.openai_responses.compact", P.ADMIN, R.SERVER),
    route("POST", "/gateway/anthropic/v1/messages",
          "gateway.serving.anthropic_messages.invoke", P.ADMIN, R.SERVER),
    route("POST", "/gateway/gemini/v1beta/models/{endpoint_name}:generateContent",
          "gateway.serving.gemini_generate.invoke", P.ADMIN, R.SERVER),
    route("POST", "/gateway/gemini/v1beta/models/{endpoint_name}:streamGenerateContent",
          "gateway.serving.gemini_stream_generate.invoke", P.ADMIN, R.SERVER),
    route("POST", "/gateway/typesafe/v1/systemone", "gateway.serving.typesafe_system_one.invoke",
          P.ADMIN, R.SERVER),
    route("POST", "/gateway/proxy/{endpoint_name}/{path:path}", "gateway.serving.raw_proxy",
          P.ADMIN, R.SERVER),
    # --- MCP server registry (in FastAPI's matching order: {name:path} takes slashes) --
    route("POST", "/api/3.0/mlflow/mcp-servers", "mcp_server.create", P.ADMIN, R.SERVER),
    route("GET", "/api/3.0/mlflow/mcp-servers", "mcp_server.search", P.READ, R.SERVER),
    route("GET", "/api/3.0/mlflow/mcp-servers/endpoints", "mcp_server.endpoint.search_all",
          P.READ, R.SERVER),
    route("POST", "/api/3.0/mlflow/mcp-servers/{name:path}/versions/{version:path}/tags",
          "mcp_server.version.tag.set", P.ADMIN, R.SERVER),
    route("DELETE",
          "/api/3.0/mlflow/mcp-servers/{name:path}/versions/{version:path}/tags/{key:path}",
          "mcp_server.version.tag.delete", P.ADMIN, R.SERVER),
    route("GET", "/api/3.0/mlflow/mcp-servers/{name:path}/versions/{version:path}",
          "mcp_server.version.read", P.READ, R.SERVER),
    route("PATCH", "/api/3.0/mlflow/mcp-servers/{name:path}/versions/{version:path}",
          "mcp_server.version.update", P.ADMIN, R.SERVER),
    route("DELETE", "/api/3.0/mlflow/mcp-servers/{name:path}/versions/{version:path}",
          "mcp_server.version.delete", P.ADMIN, R.SERVER),
    route("POST", "/api/3.0/mlflow/mcp-servers/{name:path}/versions",
          "mcp_server.version.create", P.ADMIN, R.SERVER),
    route("GET", "/api/3.0/mlflow/mcp-servers/{name:path}/versions",
          "mcp_server.version.search", P.READ, R.SERVER),
    route("POST", "/api/3.0/mlflow/mcp-servers/{name:path}/endpoints",
          "mcp_server.endpoint.create", P.ADMIN, R.SERVER),
    route("GET", "/api/3.0/mlflow/mcp-servers/{name:path}/endpoints/{endpoint_id}",
          "mcp_server.endpoint.read", P.READ, R.SERVER),
    route("PATCH", "/api/3.0/mlflow/mcp-servers/{name:path}/endpoints/{endpoint_id}",
          "mcp_server.endpoint.update", P.ADMIN, R.SERVER),
    route("DELETE", "/api/3.0/mlflow/mcp-servers/{name:path}/endpoints/{endpoint_id}",
          "mcp_server.endpoint.delete", P.ADMIN, R.SERVER),
    route("GET", "/api/3.0/mlflow/mcp-servers/{name:path}/endpoints",
          "mcp_server.endpoint.search", P.READ, R.SERVER),
    route("POST", "/api/3.0/mlflow/mcp-servers/{name:path}/tags", "mcp_server.tag.set",
          P.ADMIN, R.SERVER),
    route("DELETE", "/api/3.0/mlflow/mcp-servers/{name:path}/tags/{key:path}",
          "mcp_server.tag.delete", P.ADMIN, R.SERVER),
    route("POST", "/api/3.0/mlflow/mcp-servers/{name:path}/aliases", "mcp_server.alias.set",
          P.ADMIN, R.SERVER),
    route("GET", "/api/3.0/mlflow/mcp-servers/{name:path}/aliases/{alias:path}",
          "mcp_server.alias.read", P.READ, R.SERVER),
    route("DELETE", "/api/3.0/mlflow/mcp-servers/{name:path}/aliases/{alias:path}",
          "mcp_server.alias.delete", P.ADMIN, R.SERVER),
    route("GET", "/api/3.0/mlflow/mcp-servers/{name:path}", "mcp_server.read", P.READ,
          R.SERVER),
    route("PATCH", "/api/3.0/mlflow/mcp-servers/{name:path}", "mcp_server.update", P.ADMIN,
          R.SERVER),
    route("DELETE", "/api/3.0/mlflow/mcp-servers/{name:path}", "mcp_server.delete", P.ADMIN,
          R.SERVER),
    # --- assistant (UI only: /ajax-api/) ----------------------------------------------
    route("POST", "/api/3.0/mlflow/assistant/message", "assistant.message.send", P.ADMIN,
          R.SERVER),
    # A GET, but it runs the pending assistant turn (an agent with tools): a write.
    route("GET", "/api/3.0/mlflow/assistant/sessions/{session_id}/stream",
          "assistant.session.run", P.ADMIN, R.SERVER),
    route("PATCH", "/api/3.0/mlflow/assistant/sessions/{session_id}",
          "assistant.session.update", P.ADMIN, R.SERVER),
    route("POST", "/api/3.0/mlflow/assistant/sessions/{session_id}/permission",
          "assistant.session.permission.resolve", P.ADMIN, R.SERVER),
    route("POST", "/api/3.0/mlflow/assistant/sessions/{session_id}/tool-result",
          "assistant.session.tool_result.send", P.ADMIN, R.SERVER),
    # Asked by the UI on every page: any signed-in user, as MLflow's basic-auth allows
    # (the config's API keys are removed by MLflow itself).
    route("GET", "/api/3.0/mlflow/assistant/providers", "assistant.provider.list",
          P.AUTHENTICATED),
    route("GET", "/api/3.0/mlflow/assistant/providers/{provider}/health",
          "assistant.provider.health.read", P.READ, R.SERVER),
    route("GET", "/api/3.0/mlflow/assistant/providers/{provider}/models",
          "assistant.provider.model.list", P.READ, R.SERVER),
    route("GET", "/api/3.0/mlflow/assistant/config", "assistant.config.read",
          P.AUTHENTICATED),
    route("PUT", "/api/3.0/mlflow/assistant/config", "assistant.config.update", P.ADMIN,
          R.SERVER),
    route("POST", "/api/3.0/mlflow/assistant/skills/install", "assistant.skill.install",
          P.ADMIN, R.SERVER),
    # --- mlflow-compliance's own administration API (server/administration.py) -------
    # The fields named here are what the audit log records (never a password).
    route("POST", "/api/2.0/compliance/users/create", "user.create", P.ADMIN, R.SERVER,
          body("name")),
    route("GET", "/api/2.0/compliance/users/list", "user.list", P.ADMIN, R.SERVER),
    route("POST", "/api/2.0/compliance/users/delete", "user.delete", P.ADMIN, R.SERVER,
          body("name")),
    route("POST", "/api/2.0/compliance/users/set-password", "user.password.set", P.ADMIN,
          R.SERVER, body("name")),
    route("POST", "/api/2.0/compliance/grants/set", "grant.set", P.ADMIN, R.SERVER,
          body("name")),
    route("POST", "/api/2.0/compliance/grants/delete", "grant.delete", P.ADMIN, R.SERVER,
          body("name")),
    route("GET", "/api/2.0/compliance/grants/list", "grant.list", P.ADMIN, R.SERVER,
          query("name")),
    route("POST", "/api/2.0/compliance/tokens/create", "token.create", P.ADMIN, R.SERVER,
          body("name")),
    route("GET", "/api/2.0/compliance/tokens/list", "token.list", P.ADMIN, R.SERVER,
          query("name")),
    route("POST", "/api/2.0/compliance/tokens/revoke", "token.revoke", P.ADMIN, R.SERVER,
          body("id")),
    # Admins and auditors read the audit log; reading it is itself an entry.
    route("GET", "/api/2.0/compliance/audit/search", "audit.search", P.READ, R.SERVER),
    # What the server enforces (encryption, logging, gate): any signed-in principal.
    route("GET", "/api/2.0/compliance/server-info", "compliance.info.read", P.AUTHENTICATED),
    # Sign-offs (server/promotion_gate.py): read access to the model, and the approver
    # clearance, which the gate itself checks.
    route("POST", "/api/2.0/compliance/model-versions/approve", "model_version.approve",
          P.READ, R.MODEL_VERSION, body("name")),
    route("GET", "/api/2.0/compliance/model-versions/approvals",
          "model_version.approval.list", P.READ, R.MODEL_VERSION, query("name")),
    # Whether the gate admits a version now, and why not: read access to the model.
    route("GET", "/api/2.0/compliance/model-versions/gate-status",
          "model_version.gate_status.read", P.READ, R.MODEL_VERSION, query("name")),
    # A version's documents and its signed bundle (server/documents.py): read access to
    # the model here, and to the version's source run (authorization/named.py).
    route("GET", "/api/2.0/compliance/model-versions/documents",
          "model_version.document.read", P.READ, R.MODEL_VERSION, query("name")),
    route("GET", "/api/2.0/compliance/model-versions/bundle",
          "model_version.bundle.read", P.READ, R.MODEL_VERSION, query("name")),
    # Every version holding a gated alias or stage Production judged again (and, when
    # configured, lapsed ones demoted): admins only.
    route("POST", "/api/2.0/compliance/model-versions/recheck", "model_version.recheck",
          P.ADMIN, R.SERVER),
    # The data-subject routes (server/subjects.py and its neighbours): pseudonymised
    # personal data, admins and the privacy role only (GDPR Art. 4(5), 32(1)(a), 37-39).
    # The run is named for the audit log; a subject id never is (no field here).
    route("POST", "/api/2.0/compliance/subjects/index", "subject.index", P.PRIVACY, R.SERVER,
          body("run_id")),
    route("POST", "/api/2.0/compliance/subjects/find", "subject.find", P.PRIVACY, R.SERVER),
    # Art. 15(1)-(3): where the person is, the record's answers, their own rows.
    route("POST", "/api/2.0/compliance/subjects/report", "subject.report", P.PRIVACY,
          R.SERVER),
    # Art. 17: the person's rows removed everywhere, a signed certificate (request "id").
    route("POST", "/api/2.0/compliance/subjects/erase", "subject.erase", P.PRIVACY, R.SERVER,
          body("request_id")),
    route("GET", "/api/2.0/compliance/subjects/certificates/get", "subject.certificate.read",
          P.PRIVACY, R.SERVER, query("id")),
    # The request register (server/subject_requests.py, GDPR Art. 12(3), 15-18, 21).
    # The audit log names the request by its own id (a uuid, body "id") and the kind;
    # the subject_id of a create is never named here.
    route("POST", "/api/2.0/compliance/subjects/requests/create", "subject.request.create",
          P.PRIVACY, R.SERVER),
    route("POST", "/api/2.0/compliance/subjects/requests/update", "subject.request.update",
          P.PRIVACY, R.SERVER, body("id")),
    route("GET", "/api/2.0/compliance/subjects/requests/list", "subject.request.list",
          P.PRIVACY, R.SERVER),
    # Retention (server/retention_routes.py): legal holds (GDPR Art. 17(3)(e)) by admins
    # and the privacy role; applying retention (shredding, targeted hard delete) and
    # purging runs by admins only.
    route("POST", "/api/2.0/compliance/retention/holds/create", "retention.hold.create",
          P.PRIVACY, R.SERVER),
    route("POST", "/api/2.0/compliance/retention/holds/release", "retention.hold.release",
          P.PRIVACY, R.SERVER, body("id")),
    route("GET", "/api/2.0/compliance/retention/holds/list", "retention.hold.list",
          P.PRIVACY, R.SERVER),
    route("POST", "/api/2.0/compliance/retention/apply", "retention.apply", P.ADMIN,
          R.SERVER, body("run_id")),
    route("POST", "/api/2.0/compliance/runs/purge", "run.purge", P.ADMIN, R.SERVER,
          body("run_id")),
    # Self-service (server/administration.py): any signed-in principal, auditors too, on
    # its own account only (who acts comes from authentication, never from the request).
    # A password field is never named here: the audit log records the principal and id.
    route("POST", "/api/2.0/compliance/account/set-password", "account.password.set",
          P.AUTHENTICATED),
    route("POST", "/api/2.0/compliance/account/tokens/create", "account.token.create",
          P.AUTHENTICATED),
    route("GET", "/api/2.0/compliance/account/tokens/list", "account.token.list",
          P.AUTHENTICATED),
    route("POST", "/api/2.0/compliance/account/tokens/revoke", "account.token.revoke",
          P.AUTHENTICATED, R.NONE, body("id")),
]

ANSWERED_HERE = frozenset(
    {
        "/api/2.0/mlflow/users/current",
        "/api/3.0/mlflow/users/current/permissions",
        "/api/2.0/mlflow/users/update-password",
    }
)
"""MLflow's basic-auth routes (not served by plain ``mlflow server``) that
mlflow-compliance answers itself, for MLflow's UI."""

OWN_PREFIX = "/api/2.0/compliance/"
"""Routes of mlflow-compliance itself, not of MLflow."""
PAGES_PREFIX = "/compliance"
"""The compliance web pages (server/pages/): mlflow-compliance's too."""
"""Every route MLflow serves. Filled in route by route; see the module docstring."""


def _api_path(request_path: str) -> str:
    # The UI's /ajax-api/ twins are the same routes as /api/.
    if request_path.startswith("/ajax-api/"):
        return "/api/" + request_path[len("/ajax-api/") :]
    return request_path


_STATIC: dict[tuple[str, str], Route] = {
    (r.method, r.path): r for r in ROUTES if r.pattern is None
}
# Routes with path parameters, by method, in table order (the first match wins).
_PATTERNS: dict[str, list[tuple[re.Pattern[str], Route]]] = {}
for _r in ROUTES:
    if _r.pattern is not None:
        _PATTERNS.setdefault(_r.method, []).append((_r.pattern, _r))


def find(method: str, request_path: str) -> tuple[Route, dict[str, str]] | None:
    """The route a request is for, and its path parameters; None if it is not listed."""
    api_path = _api_path(request_path)
    found = _STATIC.get((method, api_path))
    if found is not None:
        return found, {}
    for pattern, candidate in _PATTERNS.get(method, ()):
        match = pattern.match(api_path)
        if match:
            return candidate, match.groupdict()
    return None
