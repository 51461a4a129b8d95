"""The seed's config script, made real.

Run it in this folder against a compliance server (`make serve`):

    MLFLOW_TRACKING_URI=http://127.0.0.1:5000 python mlflow_tracking_config.py

What changed from the seed, and why:
- The tracking URI comes from MLflow's own MLFLOW_TRACKING_URI.
- MLFLOW_ARTIFACT_ENCRYPTION and MLFLOW_ACCESS_LOGGING were set here, in the client,
  where MLflow never reads them. They are settings of the *server*; setting them in
  a client script does nothing, so this script does not pretend to.
- The tags `compliance=GDPR` and `data_privacy=enabled` come from compliance.toml
  beside this file, validated, on every run; `mlflow.set_tag` outside a run would have
  started a stray run of its own.
- log_model_with_compliance is the seed's function, real: it logs the model with its
  flavor, the data description, and the compliance record on the run and the model.
"""

import os

import mlflow
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from mlflow_compliance import log_model_with_compliance

mlflow.set_tracking_uri(os.environ.get("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000"))


def main() -> None:
    features, labels = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=200).fit(features, labels)
    info = log_model_with_compliance(model, "Iris dataset with no personal data")
    # Which laws apply is decided per project: the experiment says so too.
    mlflow.MlflowClient().set_experiment_tag(
        mlflow.get_run(info.run_id).info.experiment_id, "compliance", "GDPR")
    print("Model logged with compliance tags and data description")


if __name__ == "__main__":
    main()
