"""A GraphQL answer as the caller may see it: the model versions it nests under runs.

A run the caller may read can have been registered as versions of models the caller
may not read, or whose lineage declares personal data; MLflow's GraphQL lists them under
``run.modelVersions``. They are removed like in a model-version search (``filters``):
only versions of registered models the caller may read, and none that is personal data
for a caller without the clearance. A version the answer does not name and number is
removed too: nothing says it may be shown.
"""

from __future__ import annotations

from typing import Any

from mlflow_compliance.identity.principal import Principal
from mlflow_compliance.identity.store import GrantKind
from mlflow_compliance.server.authorization.defaults import Grants
from mlflow_compliance.server.authorization.graphql_query import Plan
from mlflow_compliance.server.authorization.ownership import Change
from mlflow_compliance.server.authorization.resources import Resolver
from mlflow_compliance.server.authorization.table import Resource


def versions_filter(plan: Plan, who: Principal, grants: Grants, resolver: Resolver) -> Change:
    def visible(version: Any) -> bool:
        if not isinstance(version, dict):
            return False
        name, number = version.get("name"), version.get("version")
        if not isinstance(name, str) or not number:
            return False
        if name not in grants.readable(who.name, GrantKind.REGISTERED_MODEL):
            return False
        if who.cleared_for_personal_data:
            return True
        target = resolver.resolve(Resource.MODEL_VERSION, [name], {"version": str(number)})
        return not (target.missing or target.personal_data)

    def runs_of(answer: Any) -> list[Any]:
        if not isinstance(answer, dict):
            return []
        if isinstance(answer.get("run"), dict):
            return [answer["run"]]
        return [r for r in answer.get("runs") or [] if isinstance(r, dict)]

    def change(status: int, data: Any) -> Any:
        results = data.get("data") if isinstance(data, dict) else None
        if not isinstance(results, dict):
            return data
        for root in plan.versions_under:
            for run in runs_of(results.get(root)):
                if isinstance(run.get("modelVersions"), list):
                    run["modelVersions"] = [v for v in run["modelVersions"] if visible(v)]
        return data

    return change
