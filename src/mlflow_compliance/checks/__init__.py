"""Automated compliance checks: rules with article references, grouped in packs, run
by ``mlflow-compliance check`` against a tracking server and by the promotion gate."""
