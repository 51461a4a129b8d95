"""Who is calling: the identity the authentication layer establishes for a request."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"  # everything, including user administration
    AUDITOR = "auditor"  # reads everything (audit log included), writes nothing
    USER = "user"  # what their grants allow
    # Data protection (GDPR Art. 37-39): reads like an auditor and answers data
    # subjects (index, find, report, erase, requests, legal holds); writes no MLflow data.
    PRIVACY = "privacy"


class Clearance(StrEnum):
    PERSONAL_DATA = "personal-data"  # may see runs whose record processes personal data
    APPROVER = "approver"  # may sign off versions for gated aliases (AI Act Art. 17(1)(b)-(d))


@dataclass(frozen=True)
class Principal:
    name: str
    role: Role
    clearances: frozenset[Clearance] = field(default_factory=frozenset)
    method: str = "anonymous"  # basic | token | oidc | anonymous

    @property
    def authenticated(self) -> bool:
        return self.method != "anonymous"

    @property
    def cleared_for_personal_data(self) -> bool:
        return self.role is not Role.USER or Clearance.PERSONAL_DATA in self.clearances


ANONYMOUS = Principal(name="anonymous", role=Role.USER)

SCOPE_KEY = "mlflow_compliance.principal"
"""Where the authentication layer leaves the Principal in the ASGI scope."""
