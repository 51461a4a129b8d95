"""Model versions trained on a person's erased data, and the tag that says so.

A model trained on personal data may retain it (memorisation, membership inference;
EDPB Opinion 28/2024 on AI models, section 3): erasing the rows of a dataset (GDPR Art.
17(1)) does not erase what a model learnt from them. Every model version whose source
run used an erased dataset, or that was registered from a logged model of such a run
(lineage/walk.py), is tagged ``compliance.gdpr.trained_on_erased_data`` with the erasure
certificate's id; the promotion gate refuses it until a version retrained without the
data replaces it. Only the server sets the tag (server/claims.py refuses it from clients).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from mlflow_compliance.record.tags import TRAINED_ON_ERASED_DATA_TAG

__all__ = ["TRAINED_ON_ERASED_DATA_TAG", "downstream_versions", "flag"]
DELETED_STAGE = "Deleted_Internal"  # MLflow's soft-deleted model versions

_versions = sa.table("model_versions", sa.column("name"), sa.column("version"),
                     sa.column("run_id"), sa.column("source"), sa.column("current_stage"))
_logged = sa.table("logged_models", sa.column("model_id"), sa.column("source_run_id"))


def downstream_versions(engine: Engine, run_ids: Iterable[str]) -> list[tuple[str, str]]:
    """(name, version) of every live model version made from one of ``run_ids``: its
    run is one of them, or its source is a logged model one of them logged."""
    runs = sorted(set(run_ids))
    if not runs:
        return []
    v = _versions.c
    with engine.connect() as c:
        models = [r.model_id for r in c.execute(
            sa.select(_logged.c.model_id).where(_logged.c.source_run_id.in_(runs)))]
        sources: list[Any] = [v.run_id.in_(runs)]
        for model_id in models:
            sources += [v.source == f"models:/{model_id}",
                        v.source.startswith(f"models:/{model_id}/", autoescape=True)]
        rows = c.execute(sa.select(v.name, v.version).where(
            sa.or_(*sources), sa.or_(v.current_stage.is_(None),
                                     v.current_stage != DELETED_STAGE))
            .order_by(v.name, v.version)).all()
    return [(str(name), str(version)) for name, version in rows]


def flag(registry: Any, versions: Sequence[tuple[str, str]], certificate_id: str) -> list[str]:
    """Tag each version with the certificate id, through MLflow's registry store (the
    server's own write: no layer sees it); ``name/version`` of each flagged."""
    from mlflow.entities.model_registry import ModelVersionTag

    done = []
    for name, version in versions:
        registry.set_model_version_tag(
            name, version, ModelVersionTag(TRAINED_ON_ERASED_DATA_TAG, certificate_id))
        done.append(f"{name}/{version}")
    return done
