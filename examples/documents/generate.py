"""Generate docs/examples/credit-scoring/: every document of a high-risk model version and
its signed bundle, from a real compliance server started for the purpose.

A credit-scoring model (AI Act Annex III 5(b): creditworthiness) is trained on synthetic
loan applications with the whole compliance record, a training and a test dataset each
with its record, per-group accuracy, a loss logged at 20 steps and its evidence files;
a cleared approver who did not train it signs it off. Then the command line writes the
model card, the dataset cards, CycloneDX, SPDX, Annex IV (Markdown, HTML, PDF) and the
bundle, and the server's public key is copied beside them, so anyone can check it:

    mlflow-compliance report verify docs/examples/credit-scoring/bundle.zip \\
        --public-key docs/examples/credit-scoring/audit-signing.pub

Every name and number is invented; the server, its key and its data are thrown away.

    python examples/documents/generate.py [--out docs/examples/credit-scoring]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
from datetime import date, timedelta
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import requests
from sklearn.linear_model import LogisticRegression

from mlflow_compliance import compliance_run, log_dataset_with_compliance, log_model_with_compliance
from mlflow_compliance.testing import ADMIN_PASSWORD, BIN, Server, start_compliance_server

MODEL = "credit-scoring"
RECORD = {
    "regulations": ["GDPR", "AI Act"],
    "data_privacy": "enabled",
    "gdpr": {
        "personal_data": True,
        "data_categories": ["income", "loan history"],
        "data_subject_categories": ["loan applicants"],
        "lawful_basis": "contract",
        "purpose": "Score loan applications for a credit officer to decide on",
        "retention_period": "P5Y",
        "dpia_reference": "artifact:evidence/dpia.md",
        "dpia_status": "completed",
        "dpia_completed_on": (date.today() - timedelta(days=14)).isoformat(),
        "controller_contact": "Example Bank AG, privacy@bank.example",
        "dpo_contact": "Data protection officer, dpo@bank.example",
        "transfers_outside_eu": False,
        "recipients": ["credit officers of the bank"],
        "automated_decisions": "No decision is made by the score alone; a credit officer "
                               "decides and the applicant may ask for a review",
    },
    "ai_act": {
        "risk_class": "high",
        "annex_iii_area": "essential_services",
        "transparency_obligations": False,
        "intended_purpose": "Estimate the probability that a loan is repaid, as advice to "
                            "a credit officer",
        "human_overseer": "Head of credit risk (role)",
        "oversight_measures": "A credit officer reviews every application; the score is "
                              "advice that the officer can override, with a reason",
        "risk_management_reference": "artifact:evidence/risk-management.md",
        "instructions_for_use": "https://docs.bank.example/credit-scoring/instructions",
        "metric_thresholds": ["test_accuracy>=0.8"],
        "evaluation_groups": ["under_30", "over_30"],
        "event_log_retention": "P1Y",
    },
}
DATASET = {
    "personal_data": True,
    "data_categories": ["income", "loan history"],
    "design_choices": "Applications of the last five years, one row per application",
    "origin": "Collected by the loan system when people applied (synthetic here)",
    "preparation": "Duplicates removed, free text dropped, labels from repayment",
    "assumptions": "A repaid loan stands for an application that should be approved",
    "suitability": "Applications of every branch and loan product",
    "bias_examination": "artifact:evidence/bias-examination.md",
    "bias_measures": "Reweighting by age group, and per-group accuracy monitored",
    "gaps": "Few applications for loans above 100,000; flagged in the instructions",
    "representativeness": "Applicants of every region in the last five years",
    "minimisation": "Names, addresses and account numbers removed before training",
    "subject_id_columns": ["applicant_id"],
}


def cli(server: Server, *args: str, auth: tuple[str, str] | None = None) -> str:
    user, password = auth or ("admin", ADMIN_PASSWORD)
    env = {**os.environ, "MLFLOW_TRACKING_URI": server.url,
           "MLFLOW_TRACKING_USERNAME": user, "MLFLOW_TRACKING_PASSWORD": password}
    done = subprocess.run([str(BIN / "mlflow-compliance"), *args], env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise SystemExit(f"mlflow-compliance {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def train(server: Server) -> str:
    """The version, trained and registered as the admin; its number."""
    mlflow.set_tracking_uri(server.url)
    os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"] = (
        "admin", ADMIN_PASSWORD)
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(rng.random((400, 3)), columns=["income", "debt", "years_client"])
    frame["applicant_id"] = [f"A{i:05d}" for i in range(400)]
    labels = (frame["income"] - frame["debt"] > -0.1).astype(int)
    features = frame[["income", "debt", "years_client"]]
    fitted = LogisticRegression().fit(features[:300], labels[:300])
    accuracy = float((fitted.predict(features[300:]) == labels[300:]).mean())
    description = "Loan applications of five years, pseudonymised, with repayment as label"
    mlflow.set_experiment("credit-scoring")
    with compliance_run(RECORD, data_description=description):
        train_set = mlflow.data.from_pandas(frame[:300], source="s3://bank-data/train.csv",
                                            name="loan-applications")
        test_set = mlflow.data.from_pandas(frame[300:], source="s3://bank-data/test.csv",
                                           name="loan-applications-held-out")
        log_dataset_with_compliance(train_set, DATASET, context="training")
        log_dataset_with_compliance(test_set, DATASET, context="testing")
        for path in ("dpia.md", "risk-management.md", "bias-examination.md"):
            mlflow.log_text(f"# {path}\nThe assessment, signed and dated.", f"evidence/{path}")
        mlflow.log_params({"task": "classification", "approach": "supervised", "C": "1.0"})
        for step in range(20):
            mlflow.log_metric("train_loss", 0.7 * 0.9 ** step + 0.2, step=step)
        mlflow.log_metrics({"test_accuracy": accuracy, "test_accuracy/under_30": accuracy
                            - 0.02, "test_accuracy/over_30": accuracy + 0.01})
        info = log_model_with_compliance(fitted, description, registered_model_name=MODEL)
    return str(info.registered_model_version)


def sign_off(server: Server, version: str) -> None:
    approver = ("credit-risk-reviewer", "a long enough password")
    cli(server, "users", "create", approver[0], "--password", approver[1],
        "--clearance", "approver", "--clearance", "personal-data")
    cli(server, "grants", "add", approver[0], "--model", MODEL, "--permission", "read")
    answer = requests.post(f"{server.url}/api/2.0/compliance/model-versions/approve",
                           json={"name": MODEL, "version": version,
                                 "note": "Reviewed the DPIA, the bias examination and the "
                                         "per-group accuracy"}, auth=approver, timeout=120)
    answer.raise_for_status()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs/examples/credit-scoring"))
    args = parser.parse_args(argv)
    out: Path = args.out
    with tempfile.TemporaryDirectory(prefix="mlflow-compliance-example-") as home:
        server = start_compliance_server(Path(home) / "home")
        try:
            version = train(server)
            sign_off(server, version)
            if out.exists():
                shutil.rmtree(out)
            out.mkdir(parents=True)
            for kind, file in (("model-card", "model-card.md"),
                               ("cyclonedx", "cyclonedx.json"), ("spdx", "spdx.json")):
                cli(server, "report", kind, MODEL, version, "-o", str(out / file))
            cli(server, "report", "dataset-card", MODEL, version, "-o", str(out / "datasets"))
            for form in ("md", "html", "pdf"):
                cli(server, "report", "annex-iv", MODEL, version, "--format", form,
                    "-o", str(out / f"annex-iv.{form}"))
            cli(server, "report", "bundle", MODEL, version, "-o", str(out / "bundle.zip"))
            shutil.copy(server.home / "audit-signing.pub", out / "audit-signing.pub")
        finally:
            server.stop()
    print(f"written: {', '.join(sorted(p.name for p in out.iterdir()))}")


if __name__ == "__main__":
    main()
