"""The SPDX 3.0.1 JSON-LD of a model version, with the AI and Dataset profiles.

The model is an ``ai_AIPackage``; each dataset input a ``dataset_DatasetPackage`` the
model is ``trainedOn`` or ``testedOn`` (by its context; AI Act Art. 10(1), Annex IV
2(d)); the Python environment ``software_Package`` elements the model ``dependsOn``
(Annex IV 2(a)). One ``CreationInfo`` (a blank node) for every element, made by the
mlflow-compliance tool.

The AI Act risk class goes into ``ai_safetyRiskAssessment``, whose four values the SPDX
AI profile took from the AI Act's drafts: prohibited -> serious, high -> high, minimal ->
low. Element ids are IRIs under ``urn:mlflow-compliance:<uuid5 of the version>``, so the
same state gives the same bytes.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from mlflow_compliance.record.schema import RiskClass
from mlflow_compliance.reports.cyclonedx import purl, tool_version
from mlflow_compliance.reports.facts import DatasetFacts, Package, VersionFacts
from mlflow_compliance.reports.markdown import shown, value_of, when

CONTEXT = "https://spdx.org/rdf/3.0.1/spdx-context.jsonld"
CREATION = "_:creationinfo"
SAFETY = {RiskClass.PROHIBITED: "serious", RiskClass.HIGH: "high", RiskClass.MINIMAL: "low"}


def namespace(facts: VersionFacts) -> str:
    name = f"mlflow-compliance:model-version:{facts.name}/{facts.version}@{facts.created}"
    return f"urn:mlflow-compliance:{uuid.uuid5(uuid.NAMESPACE_URL, name)}"


def spdx(facts: VersionFacts) -> dict[str, Any]:
    """The SPDX 3.0.1 document as a JSON-LD dict."""
    base = namespace(facts)
    tool = f"{base}/tool/mlflow-compliance"
    model = f"{base}/model"
    datasets = [(f"{base}/dataset/{i}", d) for i, d in enumerate(facts.datasets)]
    packages = [(f"{base}/package/{i}", p) for i, p in enumerate(facts.environment)]
    relationships = []
    for kind in ("trainedOn", "testedOn"):
        targets = [i for i, d in datasets if d.tested_on == (kind == "testedOn")]
        if targets:
            relationships.append(_relationship(f"{base}/relationship/{kind}", model, kind,
                                               targets))
    if packages:
        relationships.append(_relationship(f"{base}/relationship/dependsOn", model,
                                           "dependsOn", [i for i, _ in packages]))
    elements = [
        {"type": "SoftwareAgent", "spdxId": tool, "creationInfo": CREATION,
         "name": f"mlflow-compliance {tool_version()}"},
        _model(model, facts),
        *(_dataset(i, d) for i, d in datasets),
        *(_package(i, p) for i, p in packages),
        *relationships,
    ]
    document = {
        "type": "SpdxDocument", "spdxId": f"{base}/document", "creationInfo": CREATION,
        "name": f"{facts.name} version {facts.version}",
        "profileConformance": ["ai", "core", "dataset", "software"],
        "rootElement": [model],
        "element": [e["spdxId"] for e in elements],
    }
    creation = {"type": "CreationInfo", "@id": CREATION, "specVersion": "3.0.1",
                "created": when(facts.updated) or "1970-01-01T00:00:00Z",
                "createdBy": [tool],
                "comment": "Written by mlflow-compliance from what MLflow and the "
                           "compliance record hold; not legal advice."}
    return {"@context": CONTEXT, "@graph": [creation, document, *elements]}


def spdx_json(facts: VersionFacts) -> str:
    return json.dumps(spdx(facts), indent=2, ensure_ascii=False) + "\n"


def _entries(pairs: dict[str, str]) -> list[dict[str, str]]:
    return [{"type": "DictionaryEntry", "key": k, "value": v} for k, v in pairs.items()]


def _presence(value: bool | None) -> str:
    return "noAssertion" if value is None else "yes" if value else "no"


def _relationship(spdx_id: str, source: str, kind: str, targets: list[str]) -> dict[str, Any]:
    return {"type": "Relationship", "spdxId": spdx_id, "creationInfo": CREATION,
            "from": source, "relationshipType": kind, "to": targets}


def _model(spdx_id: str, facts: VersionFacts) -> dict[str, Any]:
    record = facts.record
    element: dict[str, Any] = {
        "type": "ai_AIPackage", "spdxId": spdx_id, "creationInfo": CREATION,
        "name": facts.name, "software_packageVersion": facts.version,
        "software_primaryPurpose": "model",
    }
    if facts.source:
        element["software_downloadLocation"] = facts.source
    if facts.created:
        element["releaseTime"] = when(facts.created)
    if facts.description or facts.model_description:
        element["description"] = facts.description or facts.model_description
    purpose = value_of(record, "compliance.ai_act.intended_purpose")
    if purpose:
        element["ai_informationAboutApplication"] = str(purpose)
    if facts.data_description:
        element["ai_informationAboutTraining"] = facts.data_description
    limits = [f"{d.ref}: {d.record.gaps}" for d in facts.datasets if d.record and d.record.gaps]
    if limits:
        element["ai_limitation"] = "; ".join(limits)
    if facts.hyperparameters:
        element["ai_hyperparameter"] = _entries(facts.hyperparameters)
    metrics = {k: repr(v) for k, v in sorted(facts.metrics.items())}
    if metrics:
        element["ai_metric"] = _entries(metrics)
    if facts.thresholds:
        element["ai_metricDecisionThreshold"] = _entries(
            {t.metric: f"{t.op}{t.value!r}" for t in facts.thresholds})
    preprocessing = [f"{d.ref}: {d.record.preparation}" for d in facts.datasets
                     if d.record and d.record.preparation]
    if preprocessing:
        element["ai_modelDataPreprocessing"] = preprocessing
    risk = value_of(record, "compliance.ai_act.risk_class")
    if risk in SAFETY:
        element["ai_safetyRiskAssessment"] = SAFETY[risk]
    element["ai_useSensitivePersonalInformation"] = _presence(
        value_of(record, "compliance.gdpr.personal_data"))
    if facts.flavors:
        element["ai_typeOfModel"] = list(facts.flavors)
    return element


def _dataset(spdx_id: str, d: DatasetFacts) -> dict[str, Any]:
    record = d.record
    element: dict[str, Any] = {
        "type": "dataset_DatasetPackage", "spdxId": spdx_id, "creationInfo": CREATION,
        "name": d.name, "software_packageVersion": d.digest, "software_primaryPurpose": "data",
        # MLflow's schema of columns makes it structured data; otherwise it does not say.
        "dataset_datasetType": ["structured"] if d.columns else ["noAssertion"],
    }
    if d.uri:
        element["software_downloadLocation"] = d.uri
    if d.context:
        element["dataset_intendedUse"] = d.context
    if record is None:
        element["dataset_hasSensitivePersonalInformation"] = "noAssertion"
        return element
    if record.design_choices:
        element["description"] = record.design_choices
    if record.origin:
        element["dataset_dataCollectionProcess"] = record.origin
    if record.preparation:
        element["dataset_dataPreprocessing"] = [record.preparation]
    if record.gaps:  # Art. 10(2)(h): the shortcomings found in the data
        element["dataset_knownBias"] = [record.gaps]
    element["dataset_hasSensitivePersonalInformation"] = _presence(record.personal_data)
    if record.personal_data and record.data_categories:
        element["comment"] = "personal data categories: " + shown(record.data_categories)
    return element


def _package(spdx_id: str, p: Package) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "software_Package", "spdxId": spdx_id, "creationInfo": CREATION,
        "name": p.name, "software_packageUrl": purl(p), "software_primaryPurpose": "library",
    }
    if p.version:
        element["software_packageVersion"] = p.version
    return element
