"""The tamper-evident audit log: who did what, when, to which resource, and the answer.

Every request the compliance server answers becomes one entry (``entry``), appended to
one hash chain (``log``) whose heads the server signs with its own Ed25519 key
(``signing``); ``verify`` checks the chain and the signatures, ``export`` streams it.
The scheme is written down in ``docs/audit-log.md``.
"""

from mlflow_compliance.audit.entry import Entry
from mlflow_compliance.audit.log import AuditLog
from mlflow_compliance.audit.verify import Report, verify

__all__ = ["AuditLog", "Entry", "Report", "verify"]
