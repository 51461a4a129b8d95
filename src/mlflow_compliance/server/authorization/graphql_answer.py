"""A GraphQL answer as the caller may see it: the model versions it nests under runs.

A run the caller may read can have been registered as versions of models the caller
may not read, or whose lineage declares personal data; MLflow's GraphQL lists them under
``run.modelVersions``. They are removed like in a model-version search (``filters``):
only versions of registered models the caller may read, and none that is personal data
for a caller without the clearance. A version the answer does not name is removed too,
and for a caller without the clearance one it does not number (its lineage is checked
version by version): nothing says it may be shown.
"""

from __future__ import annotations

import functools
from collections.abc import Container
from dataclasses import dataclass
from typing import Any

from mlflow_compliance.identity.principal import Principal
from mlflow_compliance.identity.store import GrantKind
from mlflow_compliance.server.authorization.defaults import Grants
from mlflow_compliance.server.authorization.graphql_query import Plan, Read
from mlflow_compliance.server.authorization.ownership import Change
from mlflow_compliance.server.authorization.resources import Resolver
from mlflow_compliance.server.authorization.table import Resource


@dataclass(frozen=True)
class Hidden:
    """A query that reads an object the caller may not read (or that does not exist).

    Answered exactly as MLflow's GraphQL answers one that does not exist: 200, the root
    field null and MLflow's own message in ``errors``, or the empty answer where MLflow
    gives one (searches, metric history); so a denied run page looks like a missing
    run's, and nothing tells the two apart (a test compares with plain MLflow).
    """

    read: Read
    id: str

    def answer(self) -> dict[str, Any]:
        root = self.read.field.split(".", 1)[0]
        if root in EMPTY_WHEN_MISSING:
            # MLflow answers these with an empty list, not an error
            empty = _empty(root, self.read.mutation, self.read.selected)
            return {"data": {self.read.key: empty}, "errors": None}
        if self.read.resource is Resource.EXPERIMENT:
            message = f"No Experiment with id={self.id} exists"
        else:
            message = f"Run with id={self.id} not found"
        return {"data": {self.read.key: None}, "errors": [message]}


# Root fields MLflow answers with an empty answer (protobuf defaults), not an error.
EMPTY_WHEN_MISSING = frozenset(
    {"mlflowSearchRuns", "mlflowGetMetricHistoryBulkInterval", "mlflowSearchDatasets"}
)


def _empty(root: str, mutation: bool, selected: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    """An empty answer of a root field as MLflow writes it from an empty protobuf message:
    lists empty, strings "", nested messages null; the type name from MLflow's schema."""
    from graphql import GraphQLList, GraphQLNonNull, GraphQLObjectType, get_named_type
    from mlflow.server.graphql.graphql_schema_extensions import schema

    parent = schema.graphql_schema.mutation_type if mutation else \
        schema.graphql_schema.query_type
    assert parent is not None
    answer_type = get_named_type(parent.fields[root].type)
    assert isinstance(answer_type, GraphQLObjectType)
    empty: dict[str, Any] = {}
    for key, name in selected:
        if name == "__typename":
            empty[key] = answer_type.name
            continue
        field_type = answer_type.fields[name].type
        if isinstance(field_type, GraphQLNonNull):
            field_type = field_type.of_type
        if isinstance(field_type, GraphQLList):
            empty[key] = []
        elif getattr(field_type, "name", None) == "String":
            empty[key] = ""
        else:
            empty[key] = None
    return empty


def versions_filter(plan: Plan, who: Principal, grants: Grants, resolver: Resolver) -> Change:
    @functools.cache
    def readable() -> Container[str]:  # read once per answer, and only if needed
        return grants.readable(who.name, GrantKind.REGISTERED_MODEL)

    def visible(version: Any) -> bool:
        name = version.get("name") if isinstance(version, dict) else None
        if not isinstance(name, str) or name not in readable():
            return False
        if who.cleared_for_personal_data:
            return True
        # Lineage is checked version by version: without its number, nothing says it may
        # be shown (fail closed).
        number = version.get("version")
        if not number:
            return False
        target = resolver.resolve(Resource.MODEL_VERSION, [name], {"version": str(number)})
        return not (target.missing or target.personal_data)

    def runs_of(answer: Any, key: str) -> list[Any]:
        found = answer.get(key) if isinstance(answer, dict) else None
        if isinstance(found, dict):
            return [found]
        return [r for r in found or [] if isinstance(r, dict)] if isinstance(found, list) \
            else []

    def change(status: int, data: Any) -> Any:
        results = data.get("data") if isinstance(data, dict) else None
        if not isinstance(results, dict):
            return data
        for root, runs, versions in plan.versions_under:
            for run in runs_of(results.get(root), runs):
                if isinstance(run.get(versions), list):
                    run[versions] = [v for v in run[versions] if visible(v)]
        return data

    return change
