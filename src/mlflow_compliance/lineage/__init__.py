"""Lineage (GDPR Art. 15 and 17, AI Act Art. 10 and 11): dataset -> the runs that used it
-> the logged models they logged -> the model versions registered from them -> the
aliases pointing at those, read from MLflow's own records as the caller may read them.

``graph`` holds the immutable graph and its walks, ``walk`` reads it from a tracking
server, ``render`` shows it (table, JSON, Mermaid, DOT).
"""
