"""The seed's code example, fixed.

The original calls `mlflow.set_tag` before `mlflow.start_run()`. Outside a run,
`mlflow.set_tag` starts one, so the later `mlflow.start_run()` fails with
"Run ... is already active", and the tags would have landed on a different run than the
model anyway. Here the tags are set inside the run. With compliance.toml beside this
file the two `set_tag` lines are not even needed: every run gets those tags.

    MLFLOW_TRACKING_URI=http://127.0.0.1:5000 python seed_example.py
"""

import os

import mlflow
import mlflow.sklearn
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

# Load sample data
iris = load_iris()
X, y = iris.data, iris.target

# Train a simple model
model = LogisticRegression(max_iter=200)
model.fit(X, y)

mlflow.set_tracking_uri(os.environ.get("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000"))

# Log model with data description, tags set inside the run
with mlflow.start_run():
    mlflow.set_tag("compliance", "GDPR")
    mlflow.set_tag("data_privacy", "enabled")
    # Which laws apply is decided per project: the experiment says so too.
    mlflow.set_experiment_tag("compliance", "GDPR")
    mlflow.log_param("data_description", "Iris dataset with no personal data")
    mlflow.sklearn.log_model(model, name="model")
    print("Model logged with compliance tags and data description")
