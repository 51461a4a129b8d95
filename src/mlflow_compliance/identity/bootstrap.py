"""The first administrator: user ``admin``, created at first start.

Its password comes from MLFLOW_COMPLIANCE_ADMIN_PASSWORD, or is generated, written to
``<home>/admin-password`` (mode 0600) and printed once. No default password exists.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from mlflow_compliance.identity.principal import Role
from mlflow_compliance.identity.store import IdentityStore

ADMIN = "admin"
PASSWORD_ENV = "MLFLOW_COMPLIANCE_ADMIN_PASSWORD"


def bootstrap_admin(store: IdentityStore, home: Path) -> str | None:
    """Create ``admin`` if no administrator exists; the generated password, if any."""
    if store.has_admin():
        return None
    given = os.environ.get(PASSWORD_ENV)
    password = given or secrets.token_urlsafe(18)
    store.create_user(ADMIN, password, Role.ADMIN)
    if given:
        return None
    path = home / "admin-password"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(password + "\n")
    return password
