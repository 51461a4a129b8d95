"""The promotion gate's decisions (decisions.py), the files it hashes (model_files.py)
and its re-check of admitted versions (recheck.py); the HTTP layer is
server/promotion_gate.py."""
