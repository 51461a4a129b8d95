"""Project defaults on every run, through MLflow's ``mlflow.run_context_provider`` hook.

MLflow asks each provider for tags at ``start_run``; tags the caller passes win. So a
plain ``mlflow.start_run()`` in a project with a ``compliance.toml`` is tagged, and the
seed's "common mistake 1" (runs without compliance tags) cannot happen.

A broken ``compliance.toml`` stops the run before it is created, naming the file, the
line and the field (:class:`~mlflow_compliance.project.ProjectConfigStopsRun`: MLflow
turns any ``Exception`` from a provider into a warning). Other askers of context tags
(dataset sources, trace metadata) get a plain ProjectConfigError, which MLflow logs as
a warning: a broken file must not crash a traced function in production.
"""

from __future__ import annotations

import sys

from mlflow.tracking.context.abstract_context import RunContextProvider

from mlflow_compliance.project import (
    ProjectConfigError,
    ProjectConfigStopsRun,
    find_project_file,
    load_project,
)
from mlflow_compliance.record import record_to_tags

RUN_CREATORS = ("mlflow.tracking.fluent",)
"""Modules whose request for context tags creates a run (``start_run``) or a logged
model (``create_external_model``, ``initialize_logged_model``)."""


def _asked_by_run_creation() -> bool:
    """Whether MLflow's ``resolve_tags`` was called by the code that creates a run."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_globals.get("__name__") == "mlflow.tracking.context.registry":
            caller = frame.f_back
            return caller is not None and caller.f_globals.get("__name__") in RUN_CREATORS
        frame = frame.f_back  # type: ignore[assignment]
    return False


class ProjectDefaultsContext(RunContextProvider):
    def in_context(self) -> bool:
        return True  # whether a compliance.toml applies is decided (and reported) in tags()

    def tags(self) -> dict[str, str]:
        try:
            path = find_project_file()
            return record_to_tags(load_project(path).record) if path else {}
        except ProjectConfigError as e:
            if _asked_by_run_creation():
                raise ProjectConfigStopsRun(e) from e
            raise
