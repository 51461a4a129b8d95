"""Which data key encrypts an artifact: its scope, from where it lives.

The server keeps artifacts at ``<experiment>/<run>/artifacts/...`` and logged models at
``<experiment>/models/<model id>/artifacts/...``. One data key per run, one per dataset
folder of a run (``<run>/artifacts/datasets/<name>/...``) and one per logged model, so
that shredding one run or one dataset leaves every other readable.
"""

from __future__ import annotations

import posixpath

DATASETS_FOLDER = "datasets"
# ``encrypted+file:///...``, ``encrypted+s3://...``: the encrypting repository's schemes
SCHEME_PREFIX = "encrypted+"


def scope_of(path: str) -> str:
    """The data-key scope of the artifact at ``path`` (relative to the artifact root)."""
    parts = [p for p in posixpath.normpath(path).split("/") if p not in ("", ".")]
    if len(parts) >= 3 and parts[2] == "artifacts" and parts[1] != "models":
        run = f"run:{parts[1]}"
        if len(parts) >= 6 and parts[3] == DATASETS_FOLDER:
            return f"{run}/dataset:{parts[4]}"
        return run
    if len(parts) >= 4 and parts[1] == "models":
        return f"model:{parts[2]}"
    folder = "/".join(parts[:-1]) if len(parts) > 1 else ""
    return f"path:{folder}"


def run_scope(run_id: str) -> str:
    return f"run:{run_id}"


def dataset_scope(run_id: str, name: str) -> str:
    return f"run:{run_id}/dataset:{name}"


def model_scope(model_id: str) -> str:
    return f"model:{model_id}"
