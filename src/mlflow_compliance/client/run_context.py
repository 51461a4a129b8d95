"""Project defaults on every run, through MLflow's ``mlflow.run_context_provider`` hook.

MLflow asks each provider for tags at ``start_run``; tags the caller passes win. So a
plain ``mlflow.start_run()`` in a project with a ``compliance.toml`` is tagged, and the
seed's "common mistake 1" (runs without compliance tags) cannot happen.
"""

from __future__ import annotations

from mlflow.tracking.context.abstract_context import RunContextProvider

from mlflow_compliance.project import find_project_file, load_project
from mlflow_compliance.record import record_to_tags


class ProjectDefaultsContext(RunContextProvider):
    def in_context(self) -> bool:
        return find_project_file() is not None

    def tags(self) -> dict[str, str]:
        # A broken compliance.toml raises here; MLflow logs it as a warning and goes on.
        path = find_project_file()
        return record_to_tags(load_project(path).record) if path else {}
