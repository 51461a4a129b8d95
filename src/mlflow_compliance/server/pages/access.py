"""What the signed-in principal may see on a page: the search filters' own rules.

The authorization layer decides on the page's route; lists on a page (models, versions,
experiments, runs) are narrowed here with the same views that narrow MLflow's searches
(authorization/filters.py): a user sees the experiments and registered models they hold
a grant on, and no run or version whose record declares personal data unless cleared
for it; admins, auditors and the privacy role see everything.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlflow_compliance.identity.principal import Principal, Role
from mlflow_compliance.server.authorization import filters
from mlflow_compliance.server.authorization.defaults import Grants
from mlflow_compliance.server.authorization.resources import Resolver


def _tag_list(tags: Mapping[str, str] | None) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in (tags or {}).items()]


class Seen:
    """One principal's view, for one page (the grants are read once)."""

    def __init__(self, grants: Grants, resolver: Resolver, who: Principal) -> None:
        self.who = who
        self.everything = who.role is not Role.USER
        if not self.everything:
            self._experiments = filters.experiments(grants, who, resolver)
            self._models = filters.registered_models(grants, who, resolver)
            self._versions = filters.model_versions(grants, who, resolver)
            self._runs = filters.runs(grants, who, resolver)

    def model(self, name: str) -> bool:
        return self.everything or self._models({"name": name}) is not None

    def version(self, name: str, run_id: str | None, model_id: str | None,
                tags: Mapping[str, str] | None) -> bool:
        if self.everything:
            return True
        shown: dict[str, Any] = {"name": name, "run_id": run_id, "model_id": model_id,
                                 "tags": _tag_list(tags)}
        return self._versions(shown) is not None

    def experiment(self, experiment_id: str) -> bool:
        return self.everything or self._experiments(
            {"experiment_id": str(experiment_id)}) is not None

    def run(self, experiment_id: str, tags: Mapping[str, str] | None) -> bool:
        if self.everything:
            return True
        if not self.experiment(experiment_id):
            return False
        return self.who.cleared_for_personal_data or self._runs(
            {"data": {"tags": _tag_list(tags)}}) is not None
