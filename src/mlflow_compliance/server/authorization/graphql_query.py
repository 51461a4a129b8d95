"""MLflow's ``/graphql``, authorized per object: what a query reads, before it runs.

MLflow's UI loads a run's page, its metric charts and its experiment through GraphQL.
A query is parsed with graphql-core (MLflow's own GraphQL library) and allowed when
every root field is one this module knows and every object it names may be read:

- ``mlflowGetRun`` and ``mlflowListArtifacts``: the run (``runId`` and ``runUuid``);
- ``mlflowGetMetricHistoryBulkInterval``: every run in ``runIds``;
- ``mlflowGetExperiment``: the experiment;
- ``mlflowSearchRuns`` and ``mlflowSearchDatasets``: every experiment in
  ``experimentIds`` (none named: refused). A caller without the personal-data clearance
  searches runs only by id (``attributes.run_id = "..."`` or ``IN (...)``, what the UI
  sends), each id checked like a run read: filtering a search's answer afterwards would
  tell by its paging whether a hidden run matched (``paging`` explains; the REST search
  is paged server-side for them);
- ``mlflowSearchModelVersions``: admins and auditors only, for the same reason;
- ``test`` / ``testMutation`` (echo) and ``__typename``.

A run's ``experiment`` is the run's own; its ``modelVersions`` are filtered like
MLflow's model-version search (``Plan.versions_under``, by the answer's keys, aliases
included). Anything else (another root field, introspection, a subscription, a query
that does not parse) is refused: unknown shapes stay refused. Input
values are read the way graphql-core reads them, variables included; what cannot be read
is refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    parse,
    value_from_ast_untyped,
)

from mlflow_compliance.server.authorization.table import Resource


@dataclass(frozen=True)
class Read:
    """One object a root field reads: a run or an experiment, by id."""

    resource: Resource
    ids: tuple[str, ...]
    field: str  # the root field and input, for the refusal's message
    key: str = ""  # the root field's key in the answer (its alias, or its name)
    selected: tuple[tuple[str, str], ...] = ()  # (answer key, field) selected on the root
    mutation: bool = False  # the root is a mutation's field


@dataclass
class Plan:
    """What a GraphQL request reads, and where its answer nests model versions."""

    reads: list[Read] = field(default_factory=list)
    # answer keys of model-version lists under runs: (root key, run(s) key, versions key)
    versions_under: list[tuple[str, str, str]] = field(default_factory=list)


class Refused(ValueError):
    """The query is not one this server runs for this caller; the message says why."""


class Malformed(Refused):
    """The request cannot be read: a 400, not a refusal of what it asks."""


RUN_FIELDS = {"mlflowGetRun", "mlflowListArtifacts"}
SEARCHES = {"mlflowSearchRuns", "mlflowSearchDatasets"}
ECHO = {"test", "testMutation", "__typename"}


def plan(body: Any, searches_by_id_only: bool = True, admin_searches: bool = False) -> Plan:
    """What this request's query reads (``{"query", "variables", "operationName"}``).

    ``searches_by_id_only``: the caller lacks the personal-data clearance;
    ``admin_searches``: the caller may search model versions server-wide."""
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        raise Malformed("query: required, a GraphQL document as a string")
    variables = body.get("variables") or {}
    if not isinstance(variables, dict):
        raise Malformed("variables: must be a JSON object")
    try:
        document = parse(body["query"])
    except GraphQLError as e:
        raise Malformed(f"query: does not parse ({e.message})") from None
    from mlflow.server.graphql.graphql_no_batching import check_query_safety

    if check_query_safety(document) is not None:
        # MLflow answers its own limit's error and executes nothing (handlers._graphql)
        return Plan()
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    result = Plan()
    # Every operation in the document is checked, whichever one operationName picks.
    for operation in _operations(document):
        if operation.operation is OperationType.SUBSCRIPTION:
            raise Refused("query: subscriptions are not served")
        for node in _fields(operation.selection_set, fragments):
            _root(node, fragments, variables, result, searches_by_id_only, admin_searches,
                  operation.operation is OperationType.MUTATION)
    return result


def _operations(document: DocumentNode) -> list[OperationDefinitionNode]:
    found = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if not found:
        raise Malformed("query: no operation")
    return found


def _fields(
    selection_set: SelectionSetNode | None, fragments: dict[str, FragmentDefinitionNode],
    depth: int = 0,
) -> Iterable[FieldNode]:
    """The fields of a selection set, through fragments (spread and inline)."""
    if selection_set is None:
        return
    if depth > 10:
        raise Malformed("query: fragments nest too deeply")
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            yield selection
        elif isinstance(selection, InlineFragmentNode):
            yield from _fields(selection.selection_set, fragments, depth + 1)
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments.get(selection.name.value)
            if fragment is None:
                raise Malformed(f"query: unknown fragment {selection.name.value}")
            yield from _fields(fragment.selection_set, fragments, depth + 1)


def _input(node: FieldNode, variables: dict[str, Any]) -> dict[str, Any]:
    for argument in node.arguments:
        if argument.name.value == "input":
            value = value_from_ast_untyped(argument.value, variables)
            if not isinstance(value, dict):
                raise Malformed(f"{node.name.value}: input must be an object")
            return value
    return {}


def _ids(value: Any, where: str) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(i, str) and i for i in items):
        raise Malformed(f"{where}: required, non-empty string ids")
    return tuple(items)


def _root(
    node: FieldNode,
    fragments: dict[str, FragmentDefinitionNode],
    variables: dict[str, Any],
    result: Plan,
    searches_by_id_only: bool,
    admin_searches: bool,
    mutation: bool,
) -> None:
    name = node.name.value
    if name in ECHO:
        return
    given = _input(node, variables)
    added = len(result.reads)
    if name in RUN_FIELDS:
        named = [given[k] for k in ("runId", "runUuid") if given.get(k) is not None]
        result.reads.append(Read(Resource.RUN, _ids(named, f"{name}.input.runId"),
                                 f"{name}.input.runId"))
    elif name == "mlflowGetMetricHistoryBulkInterval":
        where = f"{name}.input.runIds"
        result.reads.append(Read(Resource.RUN, _ids(given.get("runIds"), where), where))
    elif name == "mlflowGetExperiment":
        where = f"{name}.input.experimentId"
        result.reads.append(Read(Resource.EXPERIMENT, _ids(given.get("experimentId"), where),
                                 where))
    elif name in SEARCHES:
        where = f"{name}.input.experimentIds"
        result.reads.append(Read(Resource.EXPERIMENT, _ids(given.get("experimentIds"), where),
                                 where))
        if name == "mlflowSearchRuns" and searches_by_id_only:
            where = f"{name}.input.filter"
            result.reads.append(Read(Resource.RUN, run_ids_of(given.get("filter"), where),
                                     where))
    elif name == "mlflowSearchModelVersions" and admin_searches:
        pass
    else:
        raise Refused(f"query: {name} is not a query this server runs for you")
    key = _key(node)
    if name in ("mlflowGetRun", "mlflowSearchRuns"):
        result.versions_under += [(key, *pair) for pair in _versions(node, fragments)]
    selected = tuple((_key(f), f.name.value) for f in _fields(node.selection_set, fragments))
    result.reads[added:] = [
        replace(r, key=key, selected=selected, mutation=mutation)
        for r in result.reads[added:]
    ]


def run_ids_of(text: Any, where: str) -> tuple[str, ...]:
    """The run ids a search filter names when it names runs by id and nothing else."""
    from mlflow.utils.search_utils import SearchUtils

    refusal = (f"{where}: without the personal-data clearance, runs are searched here by "
               'id only (attributes.run_id = "..." or IN (...)); use runs/search otherwise')
    if not isinstance(text, str) or not text.strip():
        raise Refused(refusal)
    try:
        comparisons = SearchUtils.parse_search_filter(text)
    except Exception:  # MLflow's parser raises MlflowException (and others) on bad text
        raise Malformed(f"{where}: does not parse as an MLflow search filter") from None
    ids: list[str] = []
    for c in comparisons:
        if c.get("type") != "attribute" or c.get("key") not in ("run_id", "run_uuid"):
            raise Refused(refusal)
        value = c.get("value")
        if c.get("comparator") == "=" and isinstance(value, str):
            ids.append(value)
        elif c.get("comparator") == "IN" and isinstance(value, list | tuple):
            ids += [str(v) for v in value]
        else:
            raise Refused(refusal)
    return _ids(ids, where)


def _key(node: FieldNode) -> str:
    return node.alias.value if node.alias else node.name.value


def _versions(
    node: FieldNode, fragments: dict[str, FragmentDefinitionNode]
) -> list[tuple[str, str]]:
    """(run(s) key, model versions key) of every model-version list under the root."""
    return [
        (_key(child), _key(grandchild))
        for child in _fields(node.selection_set, fragments)
        if child.name.value in ("run", "runs")
        for grandchild in _fields(child.selection_set, fragments)
        if grandchild.name.value == "modelVersions"
    ]
