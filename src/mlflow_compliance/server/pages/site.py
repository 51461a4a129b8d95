"""What every page shares: the server's stores and keys, built once per worker."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from mlflow_compliance.audit.log import AuditLog
from mlflow_compliance.audit.signing import Signer, Verifier
from mlflow_compliance.identity.principal import ANONYMOUS, SCOPE_KEY, Principal
from mlflow_compliance.server.authorization.defaults import Grants
from mlflow_compliance.server.authorization.resources import Resolver
from mlflow_compliance.server.gate.decisions import Gate
from mlflow_compliance.server.pages.access import Seen
from mlflow_compliance.server.pages.csrf import Csrf


@dataclass
class Site:
    uri: str  # the backend store (the project's own tables live there too)
    gate: Gate  # the promotion gate: rules, sign-offs, admission
    audit: AuditLog  # the audit log, read by the audit page
    signer: Signer
    verifier: Verifier
    grants: Grants
    resolver: Resolver
    csrf: Csrf
    home: Any  # the server's home folder (Path)

    def who(self, request: Request) -> Principal:
        principal: Principal = request.scope.get(SCOPE_KEY, ANONYMOUS)
        return principal

    def seen(self, request: Request) -> Seen:
        """What the signed-in principal may see, for this request."""
        return Seen(self.grants, self.resolver, self.who(request))
