"""Re-checking what the gate admitted: every version that holds a gated alias or stage
Production, judged again now (blocking: call in a thread).

Evidence lapses after admission: a retention period ends, a rule fails on a record
edited since, a metric or a model file changes under a sign-off. Each version is
answered ``admitted`` or ``lapsed`` with the reasons; with demotion on
(MLFLOW_COMPLIANCE_DEMOTE_LAPSED) a lapsed version's gated aliases are deleted through
the registry store. Its stage is left as it is (reported), since a stage change is a
decision about the other versions too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlflow_compliance.paging import model_versions, pages
from mlflow_compliance.server.gate.decisions import Gate, Refused

PAGE = 1000


@dataclass
class Held:
    aliases: list[str] = field(default_factory=list)
    production: bool = False


def _held(gate: Gate, patterns: frozenset[str]) -> dict[tuple[str, str], Held]:
    from mlflow.server.handlers import _get_model_registry_store

    from mlflow_compliance.settings import alias_is_protected

    registry = _get_model_registry_store()
    held: dict[tuple[str, str], Held] = {}
    high: dict[tuple[str, str], bool] = {}
    for model in pages(lambda token: registry.search_registered_models(
            max_results=PAGE, page_token=token)):
        for alias, version in sorted((model.aliases or {}).items()):
            key = (model.name, str(version))
            if not alias_is_protected(alias, patterns):
                if key not in high:
                    try:
                        high[key] = gate.load(*key).high_risk
                    except Refused:
                        high[key] = False
                if not high[key]:
                    continue
            held.setdefault(key, Held()).aliases.append(alias)
    for version in model_versions(registry, page_size=PAGE):
        if str(version.current_stage).lower() == "production":
            held.setdefault((version.name, str(version.version)), Held()).production = True
    return held


def recheck(gate: Gate, patterns: frozenset[str], demote: bool) -> list[dict[str, Any]]:
    """One row per gated version: name, version, aliases, stage, status, reasons and
    the aliases demoted."""
    from mlflow.server.handlers import _get_model_registry_store

    rows = []
    for (name, version), held in sorted(_held(gate, patterns).items()):
        try:
            found = gate.status(name, version)
            admitted, reasons = found.admitted, found.reasons
        except Refused as e:
            admitted, reasons = False, [str(e)]
        demoted: list[str] = []
        if not admitted and demote:
            registry = _get_model_registry_store()
            for alias in held.aliases:
                registry.delete_registered_model_alias(name, alias)
                demoted.append(alias)
        rows.append({
            "name": name, "version": version, "aliases": held.aliases,
            "stage": "Production" if held.production else "",
            "status": "admitted" if admitted else "lapsed", "admitted": admitted,
            "reasons": reasons, "demoted": demoted,
        })
    return rows
