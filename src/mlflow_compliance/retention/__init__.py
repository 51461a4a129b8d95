"""Retention: which runs and model versions are past the retention their record declares
(GDPR Art. 5(1)(e), storage limitation), what keeps them anyway (AI Act Art. 18 and legal
holds, GDPR Art. 17(3)), and erasing what is due (``apply``, ``purge``); see
docs/retention.md."""
