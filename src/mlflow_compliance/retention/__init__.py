"""Retention: which runs and model versions are past the retention their record declares
(GDPR Art. 5(1)(e), storage limitation), and what keeps them anyway (AI Act Art. 18,
GDPR Art. 17(3)). Only the read-only status is built; see docs/retention.md."""
