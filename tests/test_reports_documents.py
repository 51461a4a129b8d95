"""The documents of a model version (issue 16: model card, dataset cards, CycloneDX 1.6
ML-BOM, SPDX 3.0.1), written by `mlflow-compliance report` from a real compliance server:
for the seed example's model and for a high-risk model with two datasets and per-group
metrics. The BOM validates against CycloneDX's 1.6 schema, the SPDX document against the
SPDX 3.0.1 schema kept in tests/schemas; gaps are shown with their articles; the same
state gives the same bytes; a caller who may not read the model learns nothing."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import jsonschema
import mlflow
import numpy as np
import pandas as pd
import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from sklearn.linear_model import LogisticRegression

from mlflow_compliance import compliance_run, log_dataset_with_compliance, log_model_with_compliance
from mlflow_compliance.testing import Server
from tests.conftest import ROOT
from tests.test_high_risk_release import DATASET, GOOD, RECORD
from tests.test_promotion_gate import cli, user
from tests.test_seed import run_script

SPDX_SCHEMA = ROOT / "tests" / "schemas" / "spdx-3.0.1.schema.json"
KINDS = ("model-card", "dataset-card", "cyclonedx", "spdx")
# The held-out data: its record leaves the gaps (Art. 10(2)(h)) undeclared on purpose.
TEST_DATASET = {key: value for key, value in DATASET.items() if key != "gaps"}


def high_risk_version(name: str) -> str:
    """A high-risk version trained on one dataset and tested on another, with its
    thresholds met overall and per group, and its whole record."""
    rng = np.random.default_rng(11)
    frame = pd.DataFrame(rng.random((80, 3)), columns=["years", "degree", "skills"])
    frame["applicant_id"] = range(80)
    labels = (frame["years"] > 0.5).astype(int)
    fitted = LogisticRegression().fit(frame[["years", "degree", "skills"]][:60], labels[:60])
    with compliance_run(RECORD, data_description="Job applications of three years, "
                        "pseudonymised, with the hiring decision as label"):
        train = mlflow.data.from_pandas(frame[:60], source="s3://acme-hiring/train.csv",
                                        name="applications")
        held_out = mlflow.data.from_pandas(frame[60:], source="s3://acme-hiring/test.csv",
                                           name="applications-held-out")
        log_dataset_with_compliance(train, DATASET, context="training")
        log_dataset_with_compliance(held_out, TEST_DATASET, context="testing")
        for path in ("dpia.md", "risk-management.md", "bias-examination.md"):
            mlflow.log_text(f"# {path}\nThe assessment, signed and dated.", f"evidence/{path}")
        mlflow.log_params({"task": "classification", "approach": "supervised", "C": "1.0"})
        mlflow.log_metrics(GOOD)
        info = log_model_with_compliance(
            fitted, "Job applications of three years, pseudonymised, with the hiring "
            "decision as label", registered_model_name=name)
    return str(info.registered_model_version)


def seed_version(server: Server, name: str) -> str:
    """The seed's example script as it is, its logged model then registered."""
    experiment = f"seed-report-{uuid.uuid4().hex[:6]}"
    done = run_script(server, "seed_example.py", experiment)
    assert done.returncode == 0, done.stderr[-3000:]
    client = mlflow.MlflowClient(server.url)
    (run,) = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    registered = mlflow.register_model(f"runs:/{run.info.run_id}/model", name)
    return str(registered.version)


@pytest.fixture(scope="module")
def versions(server: Server) -> dict[str, tuple[str, str]]:
    """"seed" and "high-risk" -> (model name, version)."""
    mlflow.set_tracking_uri(server.url)
    seed = f"iris-{uuid.uuid4().hex[:6]}"
    ranker = f"ranker-{uuid.uuid4().hex[:6]}"
    found = {"seed": (seed, seed_version(server, seed)),
             "high-risk": (ranker, high_risk_version(ranker))}
    mlflow.set_tracking_uri(server.url)
    # A high-risk version's every alias is gated (release.md); the seed's is not.
    mlflow.MlflowClient().set_registered_model_alias(seed, "candidate", found["seed"][1])
    return found


def report(server: Server, kind: str, name: str, version: str, *args: str,
           auth: tuple[str, str] | None = None) -> str:
    done = cli(server, "report", kind, name, version, *args, auth=auth)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def documents(server: Server, versions: dict[str, tuple[str, str]]) -> dict[str, dict[str, str]]:
    """Each document of each version, as the command line writes it to standard output."""
    return {which: {kind: report(server, kind, *versions[which]) for kind in KINDS}
            for which in versions}


WHICH = ["seed", "high-risk"]


@pytest.mark.parametrize("which", WHICH)
def test_every_document_is_written_for_the_version(
    documents: dict[str, dict[str, str]], versions: dict[str, tuple[str, str]], which: str
) -> None:
    name, version = versions[which]
    written = documents[which]
    assert written["model-card"].startswith(f"# Model card: {name} version {version}\n")
    for section in ("## Model Details", "## Uses", "### Out-of-Scope Use",
                    "## Bias, Risks, and Limitations", "## Training Details",
                    "## Evaluation", "## Environmental Impact",
                    "## Technical Specifications", "## Model Card Contact"):
        assert f"\n{section}\n" in written["model-card"], section
    assert json.loads(written["cyclonedx"])["bomFormat"] == "CycloneDX"
    assert json.loads(written["spdx"])["@context"] == (
        "https://spdx.org/rdf/3.0.1/spdx-context.jsonld")
    # The model's own environment, read from its requirements.txt
    assert "| scikit-learn | " in written["model-card"]
    if which == "seed":  # the seed logs no dataset input: its card says so
        assert written["dataset-card"] == ""
        assert "no training dataset logged on the run" in written["model-card"]
    else:
        assert written["dataset-card"].count("# Dataset card: ") == 2


@pytest.mark.parametrize("which", WHICH)
def test_the_cyclonedx_bom_validates_against_the_1_6_schema(
    documents: dict[str, dict[str, str]], which: str
) -> None:
    text = documents[which]["cyclonedx"]
    validator = JsonStrictValidator(SchemaVersion.V1_6)
    assert validator.validate_str(text) is None
    bom = json.loads(text)
    model = bom["metadata"]["component"]
    assert model["type"] == "machine-learning-model" and "modelCard" in model
    libraries = {c["purl"] for c in bom["components"] if c["type"] == "library"}
    assert any(p.startswith("pkg:pypi/scikit-learn@") for p in libraries), libraries
    # The validator does catch a BOM that breaks the schema.
    broken = json.loads(text)
    broken["metadata"]["component"]["modelCard"]["considerations"] = {"users": "everyone"}
    assert validator.validate_str(json.dumps(broken)) is not None


def test_the_bom_of_the_high_risk_model_holds_its_datasets_slices_and_record(
    documents: dict[str, dict[str, str]],
) -> None:
    bom = json.loads(documents["high-risk"]["cyclonedx"])
    card = bom["metadata"]["component"]["modelCard"]
    data = {c["bom-ref"]: c for c in bom["components"] if c["type"] == "data"}
    assert len(data) == 2
    assert {d["ref"] for d in card["modelParameters"]["datasets"]} == set(data)
    assert card["modelParameters"]["approach"] == {"type": "supervised"}
    assert card["modelParameters"]["task"] == "classification"
    metrics = card["quantitativeAnalysis"]["performanceMetrics"]
    assert {"type": "test_accuracy", "value": "0.88", "slice": "women"} in metrics
    assert {"type": "test_accuracy", "value": "0.9"} in metrics
    considerations = card["considerations"]
    assert considerations["useCases"][0] == RECORD["ai_act"]["intended_purpose"]  # type: ignore[index]
    assert {f["groupAtRisk"] for f in considerations["fairnessAssessments"]} == {"women", "men"}
    training = data["dataset:applications@" + next(
        r.split("@")[1] for r in data if r.startswith("dataset:applications@"))]["data"][0]
    assert training["governance"]["owners"] == [
        {"organization": {"name": "Acme Hiring GmbH, privacy@acme.example"}}]
    assert training["sensitiveData"] == ["employment history", "education"]
    assert training["classification"] == "personal data"
    properties = {p["name"]: p["value"] for p in bom["metadata"]["component"]["properties"]}
    assert properties["mlflow-compliance:compliance.ai_act.risk_class"] == "high"
    seed = json.loads(documents["seed"]["cyclonedx"])["metadata"]["component"]
    assert {"name": "mlflow:alias", "value": "candidate"} in seed["properties"]


@pytest.mark.parametrize("which", WHICH)
def test_the_spdx_document_validates_against_the_kept_3_0_1_schema(
    documents: dict[str, dict[str, str]], which: str
) -> None:
    validator = jsonschema.Draft202012Validator(json.loads(SPDX_SCHEMA.read_text()))
    document = json.loads(documents[which]["spdx"])
    errors = [e.message for e in validator.iter_errors(document)]
    assert errors == []
    graph = document["@graph"]
    (model,) = [e for e in graph if e["type"] == "ai_AIPackage"]
    assert model["software_primaryPurpose"] == "model"
    packages = [e for e in graph if e["type"] == "software_Package"]
    assert any(p["software_packageUrl"].startswith("pkg:pypi/scikit-learn@") for p in packages)
    # The schema does refuse what SPDX 3.0.1 does not allow.
    broken: dict[str, Any] = json.loads(documents[which]["spdx"])
    broken["@graph"][1]["profileConformance"] = ["machine-learning"]
    assert list(validator.iter_errors(broken))


def test_the_spdx_document_says_what_the_high_risk_model_was_trained_and_tested_on(
    documents: dict[str, dict[str, str]],
) -> None:
    graph = json.loads(documents["high-risk"]["spdx"])["@graph"]
    ids = {e.get("spdxId"): e for e in graph}
    links = {e["relationshipType"]: [ids[t]["name"] for t in e["to"]]
             for e in graph if e["type"] == "Relationship"}
    assert links["trainedOn"] == ["applications"]
    assert links["testedOn"] == ["applications-held-out"]
    (model,) = [e for e in graph if e["type"] == "ai_AIPackage"]
    assert model["ai_safetyRiskAssessment"] == "high"
    assert model["ai_useSensitivePersonalInformation"] == "yes"
    assert {"type": "DictionaryEntry", "key": "test_accuracy/women", "value": "0.88"} in (
        model["ai_metric"])
    assert model["ai_metricDecisionThreshold"] == [
        {"type": "DictionaryEntry", "key": "test_accuracy", "value": ">=0.8"}]
    datasets = [e for e in graph if e["type"] == "dataset_DatasetPackage"]
    assert {d["dataset_hasSensitivePersonalInformation"] for d in datasets} == {"yes"}
    assert all(d["dataset_datasetType"] == ["structured"] for d in datasets)


def test_the_model_card_shows_declared_values_and_gaps_with_their_articles(
    documents: dict[str, dict[str, str]],
) -> None:
    ranker = documents["high-risk"]["model-card"]
    assert ("- **Human overseer (deployer):** Maria Lopez "
            "(`compliance.ai_act.human_overseer`)") in ranker
    assert ("- **Recipients:** not declared: `compliance.gdpr.recipients` "
            "(GDPR Art. 13(1)(e), 15(1)(c), 30(1)(d))") in ranker
    assert "| test_accuracy | 0.9 | test_accuracy>=0.8 | yes |" in ranker
    assert "| test_accuracy | women | 0.88 |" in ranker
    assert "- **applications-held-out@" in ranker.split("#### Testing Data")[1]
    seed = documents["seed"]["model-card"]
    assert ("- **Intended purpose:** Teaching example: classify iris species from flower "
            "measurements (`compliance.ai_act.intended_purpose`)") in seed  # compliance.toml
    assert ("- **Instructions for use:** not declared: `compliance.ai_act.instructions_for_use`"
            " (AI Act Art. 13(1), 13(2))") in seed
    assert ("- **Lawful basis:** not applicable: the record declares no personal data "
            "(`compliance.gdpr.personal_data`)") in seed
    assert "- **AI Act risk class:** minimal (`compliance.ai_act.risk_class`)" in seed
    assert ("- **Data description:** Iris dataset with no personal data "
            "(run param data_description)") in seed


def test_a_dataset_card_per_dataset_with_its_gaps(
    server: Server, versions: dict[str, tuple[str, str]], tmp_path: Path
) -> None:
    name, version = versions["high-risk"]
    report(server, "dataset-card", name, version, "-o", str(tmp_path / "cards"))
    cards = {p.name: p.read_text() for p in (tmp_path / "cards").iterdir()}
    assert len(cards) == 2, cards.keys()
    held_out = next(t for n, t in cards.items() if n.startswith("applications-held-out-"))
    assert ("- **Data gaps:** not declared: `compliance.dataset.gaps` "
            "(AI Act Art. 10(2)(h))") in held_out
    assert "- **Context:** testing (dataset input tag mlflow.data.context)" in held_out
    assert "| applicant_id | long |" in held_out  # the column's name, never its values
    one = report(server, "dataset-card", name, version, "--dataset", "applications")
    assert one.count("# Dataset card: ") == 1 and "# Dataset card: applications\n" in one
    unknown = cli(server, "report", "dataset-card", name, version, "--dataset", "nope")
    assert unknown.returncode == 2
    assert unknown.stderr.startswith("Error: --dataset: no dataset input named 'nope'")


def test_a_caller_who_may_not_read_the_model_gets_exit_2_and_learns_nothing(
    server: Server, versions: dict[str, tuple[str, str]]
) -> None:
    name, version = versions["seed"]
    outsider = user(server)
    for kind in KINDS:
        refused = cli(server, "report", kind, name, version, auth=outsider)
        assert refused.returncode == 2, refused.stdout
        assert refused.stdout == ""
        assert refused.stderr == (f"Error: MODEL VERSION: model {name!r} version "
                                  f"{version!r} does not exist (or you may not read it)\n")
    # The same answer as for a model that is not there at all.
    absent = cli(server, "report", "model-card", "no-such-model", "1")
    assert absent.returncode == 2
    assert "does not exist (or you may not read it)" in absent.stderr
    bad = cli(server, "report", "spdx", name, "latest")
    assert bad.returncode == 2 and bad.stderr.startswith("Error: VERSION: 'latest'")


def test_what_the_caller_may_not_read_is_missing_not_guessed(
    server: Server, versions: dict[str, tuple[str, str]]
) -> None:
    """Read on the model but not on its run's experiment: the card lists the run as not
    readable and shows no record rather than one made up."""
    name, version = versions["seed"]
    reader = user(server)
    granted = cli(server, "grants", "add", reader[0], "--model", name, "--permission", "read")
    assert granted.returncode == 0, granted.stderr
    card = report(server, "model-card", name, version, auth=reader)
    run_id = mlflow.MlflowClient(server.url).get_model_version(name, version).run_id
    assert f"- source run {run_id}: does not exist (or you may not read it)" in (
        card.split("\n## Not readable\n")[1])
    # The record on that run is unknown to the caller: not readable, not "not declared".
    assert ("- **Intended purpose:** not readable: `compliance.ai_act.intended_purpose` "
            "(AI Act Art. 3(12), 13(3)(b)(i), Annex IV 1(a)) may be on the source run "
            f"{run_id}, not readable") in card
    assert "Teaching example" not in card and "not declared" not in card


def test_the_same_state_gives_byte_identical_cyclonedx_and_spdx(
    server: Server, versions: dict[str, tuple[str, str]],
    documents: dict[str, dict[str, str]], tmp_path: Path,
) -> None:
    name, version = versions["high-risk"]
    for kind in ("cyclonedx", "spdx"):
        target = tmp_path / f"{kind}.json"
        written = cli(server, "report", kind, name, version, "-o", str(target))
        assert written.returncode == 0 and written.stdout == "", written.stderr
        assert target.read_bytes() == documents["high-risk"][kind].encode()
    bom = json.loads(documents["high-risk"]["cyclonedx"])
    assert bom["serialNumber"].startswith("urn:uuid:")
