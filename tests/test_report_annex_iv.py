"""The AI Act Annex IV technical documentation of a model version (issue 16, item 1),
written by `mlflow-compliance report annex-iv` from a real compliance server: a high-risk
model with two datasets, per-group metrics, a metric logged at several steps and a
sign-off. The nine points of Annex IV with declared values and named gaps (Markdown),
markup in a record value escaped (HTML), a PDF that renders with its chart, and nothing
for a caller who may not read the model."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import requests
from pypdf import PdfReader
from sklearn.linear_model import LogisticRegression

from mlflow_compliance import compliance_run, log_dataset_with_compliance, log_model_with_compliance
from mlflow_compliance.testing import Server
from tests.test_high_risk_release import DATASET, GOOD, RECORD, sign_off
from tests.test_promotion_gate import cli, user

SCRIPT = "<script>alert(1)</script>"
AUTOMATED = f"No decision is made by the ranking alone {SCRIPT} a recruiter decides"
SECTIONS = (
    "## 1. General description of the AI system (Annex IV 1)",
    "## 2. Elements of the AI system and its development (Annex IV 2)",
    "## 3. Monitoring, functioning and control (Annex IV 3)",
    "## 4. Appropriateness of the performance metrics (Annex IV 4)",
    "## 5. Risk management system (Annex IV 5; AI Act Art. 9)",
    "## 6. Changes through the lifecycle (Annex IV 6)",
    "## 7. Harmonised standards applied (Annex IV 7)",
    "## 8. EU declaration of conformity (Annex IV 8; AI Act Art. 47)",
    "## 9. Post-market monitoring (Annex IV 9; AI Act Art. 72)",
)


def high_risk_version(name: str) -> str:
    """A high-risk version trained on one dataset and tested on another (each with its
    whole record but special categories), thresholds met overall and per group, a
    training loss logged at five steps, and markup in a record value."""
    rng = np.random.default_rng(11)
    frame = pd.DataFrame(rng.random((80, 3)), columns=["years", "degree", "skills"])
    frame["applicant_id"] = range(80)
    labels = (frame["years"] > 0.5).astype(int)
    fitted = LogisticRegression().fit(frame[["years", "degree", "skills"]][:60], labels[:60])
    gdpr = {**RECORD["gdpr"], "automated_decisions": AUTOMATED}  # type: ignore[dict-item]
    with compliance_run({**RECORD, "gdpr": gdpr}, data_description="Job applications of "
                        "three years, pseudonymised, with the hiring decision as label"):
        train = mlflow.data.from_pandas(frame[:60], source="s3://acme-hiring/train.csv",
                                        name="applications")
        held_out = mlflow.data.from_pandas(frame[60:], source="s3://acme-hiring/test.csv",
                                           name="applications-held-out")
        log_dataset_with_compliance(train, DATASET, context="training")
        log_dataset_with_compliance(held_out, DATASET, context="testing")
        for path in ("dpia.md", "risk-management.md", "bias-examination.md"):
            mlflow.log_text(f"# {path}\nThe assessment, signed and dated.", f"evidence/{path}")
        mlflow.log_params({"task": "classification", "approach": "supervised", "C": "1.0"})
        for step, loss in enumerate((0.69, 0.52, 0.41, 0.37, 0.35)):
            mlflow.log_metric("train_loss", loss, step=step)
        mlflow.log_metrics(GOOD)
        info = log_model_with_compliance(
            fitted, "Job applications of three years, pseudonymised, with the hiring "
            "decision as label", registered_model_name=name)
    return str(info.registered_model_version)


@pytest.fixture(scope="module")
def ranker(server: Server) -> tuple[str, str]:
    """The high-risk version, signed off by a cleared approver who is not its trainer."""
    mlflow.set_tracking_uri(server.url)
    name = f"ranker-{uuid.uuid4().hex[:6]}"
    version = high_risk_version(name)
    approver = user(server, "approver", "personal-data")
    granted = cli(server, "grant", approver[0], "--model", name, "--permission", "read")
    assert granted.returncode == 0, granted.stderr
    signed = sign_off(server, name, version, approver)
    assert signed.status_code == 200, signed.text
    return name, version


def annex_iv(server: Server, name: str, version: str, *args: str) -> str:
    done = cli(server, "report", "annex-iv", name, version, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_markdown_has_the_nine_points_with_values_and_named_gaps(
    server: Server, ranker: tuple[str, str]
) -> None:
    name, version = ranker
    text = annex_iv(server, name, version)
    assert text.startswith(f"# Technical documentation (AI Act Annex IV): {name} version "
                           f"{version}\n")
    positions = [text.index(f"\n{s}\n") for s in SECTIONS]
    assert positions == sorted(positions)
    # declared values, with their tag and the Annex IV point and article
    assert ("- **Intended purpose** (AI Act Art. 3(12), 13(3)(b)(i), Annex IV 1(a)): Suggest an "
            "order in which a recruiter reads job applications "
            "(`compliance.ai_act.intended_purpose`)") in text
    assert ("- **Human oversight measures** (Annex IV 2(e); AI Act Art. 14(3), 13(3)(d)): "
            "A recruiter reads every application") in text
    assert "| test_accuracy | women | 0.88 |" in text
    assert "| test_accuracy | 0.9 | test_accuracy>=0.8 | yes |" in text
    assert ("- **Metric histories** (Annex IV 2(g); AI Act Art. 11(1)): train_loss") in text
    # a gap of the record, named with its tag and article
    held_out = text.split("#### Dataset applications-held-out@")[1].split("###")[0]
    assert ("- **Data gaps** (Annex IV 2(d); AI Act Art. 10(2)(h)): Few applications for "
            "part-time roles; flagged in the instructions for use "
            "(`compliance.dataset.gaps`)") in held_out
    assert ("- **Special categories** (Annex IV 2(d); GDPR Art. 9(1)): not declared: "
            "`compliance.gdpr.special_categories`") in held_out
    # what the record has no field for: a gap for the provider, never invented text
    assert ("- **Harmonised standards applied** (Annex IV 7; AI Act Art. 40(1)): not "
            "recorded: the compliance record has no field for the harmonised standards "
            "applied; to be completed by the provider") in text
    assert ("- **EU declaration of conformity** (Annex IV 8; AI Act Art. 47(1)): not "
            "recorded") in text
    assert ("- **Post-market monitoring plan** (Annex IV 9; AI Act Art. 72(1)-(3)): not "
            "recorded") in text
    # point 6: the version, and its sign-off with who and the evidence digest
    changes = text.split(SECTIONS[5])[1].split(SECTIONS[6])[0]
    assert f"| {version} (this one) | " in changes
    (signed,) = requests.get(f"{server.url}/api/2.0/compliance/model-versions/approvals",
                             params={"name": name, "version": version}, auth=server.auth,
                             timeout=60).json()["approvals"]
    assert (f"| {signed['approver']} | {signed['approved_at']} | {signed['record_digest']} "
            "| valid | Reviewed the DPIA, the bias examination and the per-group accuracy "
            "|") in changes
    assert "Sign-offs of this version" in changes
    # the markup is shown as text in the Markdown, not as a tag
    assert SCRIPT not in text and "&lt;script>alert(1)&lt;/script>" in text


def test_the_html_escapes_markup_in_a_record_value(
    server: Server, ranker: tuple[str, str], tmp_path: Path
) -> None:
    name, version = ranker
    target = tmp_path / "annex-iv.html"
    done = cli(server, "report", "annex-iv", name, version, "--format", "html",
               "-o", str(target))
    assert done.returncode == 0 and done.stdout == "", done.stderr
    page = target.read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert SCRIPT not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert '<section id="point-9">' in page
    assert "to be completed by the provider" in page


def test_the_pdf_renders_with_its_text_tables_and_chart(
    server: Server, ranker: tuple[str, str], tmp_path: Path
) -> None:
    name, version = ranker
    target = tmp_path / "annex-iv.pdf"
    done = cli(server, "report", "annex-iv", name, version, "--format", "pdf",
               "-o", str(target))
    assert done.returncode == 0 and done.stdout == "", done.stderr
    reader = PdfReader(io.BytesIO(target.read_bytes()))
    assert len(reader.pages) > 1
    words = " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)
    assert name in words
    assert "Harmonised standards applied" in words
    assert "test_accuracy" in words and "train_loss" in words
    images = [image for page in reader.pages for image in page.images]
    assert len(images) >= 1  # the train_loss chart
    # the same state gives the same bytes (creation date = the version's last update)
    again = tmp_path / "again.pdf"
    assert cli(server, "report", "annex-iv", name, version, "--format", "pdf",
               "-o", str(again)).returncode == 0
    assert again.read_bytes() == target.read_bytes()


def test_a_pdf_needs_an_output_file(server: Server, ranker: tuple[str, str]) -> None:
    done = cli(server, "report", "annex-iv", *ranker, "--format", "pdf")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == ("Error: --output: a PDF is not written to standard output; "
                           "give -o FILE\n")


def test_a_user_without_read_gets_exit_2_and_learns_nothing(
    server: Server, ranker: tuple[str, str]
) -> None:
    name, version = ranker
    outsider = user(server)
    for form in ("md", "html"):
        refused = cli(server, "report", "annex-iv", name, version, "--format", form,
                      auth=outsider)
        assert refused.returncode == 2, refused.stdout
        assert refused.stdout == ""
        assert refused.stderr == (f"Error: MODEL VERSION: model {name!r} version "
                                  f"{version!r} does not exist (or you may not read it)\n")
    absent = cli(server, "report", "annex-iv", "no-such-model", "1")
    assert absent.returncode == 2 and "does not exist (or you may not read it)" in absent.stderr
