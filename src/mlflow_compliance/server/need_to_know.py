"""Whether this server shows personal data only to principals cleared for it (GDPR
Art. 5(1)(f), 32(1)(b)): the ``need_to_know`` it reports in server-info and to the gate.

Derived from the configuration that decides it, not assumed: every search that lists
runs, logged models or traces must filter what an uncleared principal sees, and an
ordinary user must not be cleared by default. No setting switches this off today (the
default permissions, MLFLOW_COMPLIANCE_DEFAULT_*PERMISSION, grant read *under*
need-to-know, never around it), so the answer is true; it turns false the day a
configuration (or a code change) lets an uncleared principal list personal data.
Need-to-know reads the run's record; the record validation keeps a run that uses a
dataset declaring personal data from declaring otherwise (server/record_rules.py).
"""

from __future__ import annotations

from mlflow_compliance.identity.principal import Principal, Role
from mlflow_compliance.server.authorization.filters import BY_ROUTE

PERSONAL_DATA_SEARCHES = (
    ("POST", "/api/2.0/mlflow/runs/search"),
    ("POST", "/api/2.0/mlflow/logged-models/search"),
    ("GET", "/api/2.0/mlflow/model-versions/search"),
    ("POST", "/api/3.0/mlflow/traces/search"),
    ("GET", "/api/2.0/mlflow/traces"),
)


def need_to_know() -> bool:
    """True when personal data is shown only to cleared principals."""
    filtered = all(route in BY_ROUTE for route in PERSONAL_DATA_SEARCHES)
    ordinary = Principal("user", Role.USER, method="basic")
    return filtered and not ordinary.cleared_for_personal_data
