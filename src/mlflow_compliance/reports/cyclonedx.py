"""The CycloneDX 1.6 ML-BOM (JSON) of a model version.

The model is a ``machine-learning-model`` component with its ``modelCard``; each dataset
input is a ``data`` component with its governance and sensitive data from the dataset
record (AI Act Art. 10(2), GDPR Art. 30(1)(c)); the model's Python environment is a set of
``library`` components with ``pkg:pypi`` purls (AI Act Annex IV 2(a)). The compliance
record is kept whole as properties named after its tags.

The same state gives the same bytes: the serial number is a UUID5 of the version (name,
number and creation time), the timestamp the version's last update, every list sorted.
cyclonedx-python-lib's own model-card support is incomplete, so the dict is written here
against the 1.6 schema (the tests validate it with that library's strict validator).
"""

from __future__ import annotations

import json
import uuid
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as installed_version
from typing import Any

from mlflow_compliance.record.tags import is_compliance_tag
from mlflow_compliance.reports.facts import DatasetFacts, Package, VersionFacts
from mlflow_compliance.reports.markdown import shown, value_of, when

SCHEMA = "http://cyclonedx.org/schema/bom-1.6.schema.json"
APPROACHES = ("supervised", "unsupervised", "reinforcement-learning", "semi-supervised",
              "self-supervised")
# Run params read into modelParameters when a team logs them under these names.
APPROACH_PARAMS = ("approach", "learning_type")
TASK_PARAMS = ("task",)
FAMILY_PARAMS = ("architecture_family",)
ARCHITECTURE_PARAMS = ("model_architecture", "architecture")
PROPERTY_PREFIX = "mlflow-compliance:"


def serial_number(facts: VersionFacts) -> str:
    """The BOM's serial: the same for the same version, another for a version deleted
    and registered again under the same number."""
    name = f"mlflow-compliance:model-version:{facts.name}/{facts.version}@{facts.created}"
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, name)}"


def tool_version() -> str:
    try:
        return installed_version("mlflow-compliance")
    except PackageNotFoundError:
        return "unknown"


def purl(package: Package) -> str:
    name = package.name.lower().replace("_", "-")
    return f"pkg:pypi/{name}@{package.version}" if package.version else f"pkg:pypi/{name}"


def dataset_ref(d: DatasetFacts) -> str:
    return f"dataset:{d.name}@{d.digest}" + (f":{d.context}" if d.context else "")


def model_ref(facts: VersionFacts) -> str:
    return f"model:{facts.name}/{facts.version}"


def cyclonedx(facts: VersionFacts) -> dict[str, Any]:
    """The BOM as a dict, in the order it is written."""
    model = model_ref(facts)
    libraries = [_library(p) for p in facts.environment]
    return {
        "$schema": SCHEMA,
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": serial_number(facts),
        "version": 1,
        "metadata": {
            **({"timestamp": when(facts.updated)} if facts.updated else {}),
            "tools": {"components": [{"type": "application", "name": "mlflow-compliance",
                                      "version": tool_version()}]},
            "component": _model(facts),
        },
        "components": [*(_dataset(d, facts) for d in facts.datasets), *libraries],
        "dependencies": [
            {"ref": model, "dependsOn": sorted({c["bom-ref"] for c in libraries})},
            *({"ref": c["bom-ref"]} for c in libraries),
        ],
    }


def cyclonedx_json(facts: VersionFacts) -> str:
    return json.dumps(cyclonedx(facts), indent=2, ensure_ascii=False) + "\n"


def _properties(pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"name": k, "value": v} for k, v in pairs if v != ""]


def _param(facts: VersionFacts, names: tuple[str, ...]) -> str:
    return next((facts.params[n] for n in names if facts.params.get(n)), "")


def _model(facts: VersionFacts) -> dict[str, Any]:
    record = facts.record
    component: dict[str, Any] = {
        "type": "machine-learning-model",
        "bom-ref": model_ref(facts),
        "name": facts.name,
        "version": facts.version,
    }
    description = facts.description or facts.model_description
    if description:
        component["description"] = description
    references = [("documentation", "compliance.ai_act.instructions_for_use"),
                  ("risk-assessment", "compliance.ai_act.risk_management_reference"),
                  ("risk-assessment", "compliance.gdpr.dpia_reference")]
    external = [{"type": kind, "url": str(value), "comment": tag}
                for kind, tag in references
                if str(value := value_of(record, tag) or "").startswith("https://")]
    if external:
        component["externalReferences"] = external
    component["modelCard"] = _model_card(facts)
    component["properties"] = _properties([
        ("mlflow:source", facts.source), ("mlflow:model_id", facts.model_id),
        ("mlflow:run_id", facts.run_id), ("mlflow:status", facts.status),
        ("mlflow:created", when(facts.created)),
        *(("mlflow:alias", a) for a in facts.aliases),
        *((PROPERTY_PREFIX + k, v) for k, v in sorted(facts.tags.items())
          if is_compliance_tag(k)),
        *((PROPERTY_PREFIX + "record_problem", p) for p in facts.record_problems),
        *((PROPERTY_PREFIX + "not_readable", str(m)) for m in facts.missing),
    ])
    return component


def _model_card(facts: VersionFacts) -> dict[str, Any]:
    parameters: dict[str, Any] = {}
    approach = _param(facts, APPROACH_PARAMS)
    if approach in APPROACHES:
        parameters["approach"] = {"type": approach}
    for key, names in (("task", TASK_PARAMS), ("architectureFamily", FAMILY_PARAMS),
                       ("modelArchitecture", ARCHITECTURE_PARAMS)):
        if value := _param(facts, names):
            parameters[key] = value
    if facts.datasets:
        parameters["datasets"] = [{"ref": dataset_ref(d)} for d in facts.datasets]
    card: dict[str, Any] = {"bom-ref": f"model-card:{facts.name}/{facts.version}"}
    if parameters:
        card["modelParameters"] = parameters
    metrics = [{"type": k, "value": repr(v)} for k, v in facts.overall_metrics.items()]
    metrics += [{"type": g.metric, "value": repr(g.value), "slice": g.group}
                for g in facts.group_metrics]
    if metrics:
        card["quantitativeAnalysis"] = {"performanceMetrics": metrics}
    considerations = _considerations(facts)
    if considerations:
        card["considerations"] = considerations
    card["properties"] = _properties(
        [(PROPERTY_PREFIX + "threshold", str(t)) for t in facts.thresholds])
    if not card["properties"]:
        del card["properties"]
    return card


def _considerations(facts: VersionFacts) -> dict[str, Any]:
    record = facts.record
    found: dict[str, Any] = {}
    overseer = value_of(record, "compliance.ai_act.human_overseer")
    if overseer:
        found["users"] = [f"human overseer assigned by the deployer: {overseer}"]
    uses = [str(v) for tag in ("compliance.ai_act.intended_purpose", "compliance.gdpr.purpose")
            if (v := value_of(record, tag))]
    if uses:
        found["useCases"] = uses
    limits = [f"{d.ref}: {d.record.gaps}" for d in facts.datasets if d.record and d.record.gaps]
    if limits:
        found["technicalLimitations"] = limits
    ethics = []
    decisions = value_of(record, "compliance.gdpr.automated_decisions")
    oversight = value_of(record, "compliance.ai_act.oversight_measures")
    if decisions or oversight:
        risk = {"name": f"automated decisions (GDPR Art. 22): {decisions}" if decisions
                else "human oversight (AI Act Art. 14)"}
        if oversight:
            risk["mitigationStrategy"] = str(oversight)
        ethics.append(risk)
    for d in facts.datasets:
        if d.record and (d.record.bias_examination or d.record.bias_measures):
            risk = {"name": f"bias in {d.ref} (AI Act Art. 10(2)(f))" + (
                f", examined in {d.record.bias_examination}" if d.record.bias_examination
                else "")}
            if d.record.bias_measures:
                risk["mitigationStrategy"] = d.record.bias_measures
            ethics.append(risk)
    if ethics:
        found["ethicalConsiderations"] = ethics
    groups = value_of(record, "compliance.ai_act.evaluation_groups") or []
    measures = "; ".join(d.record.bias_measures for d in facts.datasets
                         if d.record and d.record.bias_measures)
    if groups:
        found["fairnessAssessments"] = [
            {"groupAtRisk": str(g), **({"mitigationStrategy": measures} if measures else {})}
            for g in groups]
    return found


def _dataset(d: DatasetFacts, facts: VersionFacts) -> dict[str, Any]:
    record = d.record
    data: dict[str, Any] = {"type": "dataset", "name": d.name}
    contents: dict[str, Any] = {}
    if d.uri:
        contents["url"] = d.uri
    contents["properties"] = _properties([
        ("mlflow:digest", d.digest), ("mlflow:source_type", d.source_type),
        ("mlflow:context", d.context),
        ("mlflow:num_rows", "" if d.rows is None else str(d.rows)),
        *((f"mlflow:column:{n}", t) for n, t in d.columns),
    ])
    data["contents"] = contents
    personal = record.personal_data if record else None
    if personal is not None:
        data["classification"] = "personal data" if personal else "no personal data"
    if record and personal:  # GDPR Art. 30(1)(c), 9(1): the categories, never the data
        sensitive = [shown(c) for c in record.data_categories or []]
        sensitive += [f"special category: {shown(c)}" for c in record.special_categories or []]
        if sensitive:
            data["sensitiveData"] = sensitive
    if record and record.origin:
        data["description"] = record.origin
    controller = value_of(facts.record, "compliance.gdpr.controller_contact")
    if controller:
        data["governance"] = {"owners": [{"organization": {"name": str(controller)}}]}
    component: dict[str, Any] = {"type": "data", "bom-ref": dataset_ref(d), "name": d.name,
                                 "version": d.digest, "data": [data]}
    if record and record.design_choices:
        component["description"] = record.design_choices
    component["properties"] = _properties([
        *((PROPERTY_PREFIX + k, v) for k, v in sorted(d.tags.items()) if is_compliance_tag(k)),
        *((PROPERTY_PREFIX + "record_problem", p) for p in d.record_problems),
    ])
    if not component["properties"]:
        del component["properties"]
    return component


def _library(p: Package) -> dict[str, Any]:
    component: dict[str, Any] = {"type": "library", "bom-ref": purl(p), "name": p.name}
    if p.version:
        component["version"] = p.version
    component["purl"] = purl(p)
    component["properties"] = [{"name": "mlflow:environment_file", "value": p.source}]
    return component
