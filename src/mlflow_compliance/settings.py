"""The one settings object: where a compliance server keeps its data.

Embedded default: everything under one home folder (``./.mlflow-compliance``, or
``MLFLOW_COMPLIANCE_HOME``): the SQLite database for tracking and registry, and the
artifact folder. A backend store URI or artifacts destination given explicitly (for
PostgreSQL and S3 at scale) replaces the home's default.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

HOME_ENV = "MLFLOW_COMPLIANCE_HOME"
DEFAULT_HOME = ".mlflow-compliance"


@dataclass(frozen=True)
class Settings:
    home: Path
    backend_store_uri: str | None = None
    artifacts_destination: str | None = None

    @classmethod
    def from_env(
        cls, home: str | os.PathLike[str] | None = None, **overrides: str | None
    ) -> Settings:
        chosen = home or os.environ.get(HOME_ENV) or DEFAULT_HOME
        return cls(home=Path(chosen).expanduser().resolve(), **overrides)

    @property
    def database_path(self) -> Path:
        return self.home / "mlflow.db"

    @property
    def store_uri(self) -> str:
        return self.backend_store_uri or f"sqlite:///{self.database_path}"

    @property
    def artifacts_uri(self) -> str:
        return self.artifacts_destination or str(self.home / "artifacts")

    def create_home(self) -> None:
        """Create the home folder, readable by its owner only."""
        self.home.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not self.artifacts_destination:
            (self.home / "artifacts").mkdir(mode=0o700, exist_ok=True)
