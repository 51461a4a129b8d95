"""Erasure of one person, GDPR Art. 17(1): their rows out of every dataset file the
index finds them in, MLflow's own records of those datasets redacted, the index rows
deleted, the model versions trained on them flagged, and a signed certificate of what
was done and what was withheld (Art. 17(3)) and why.

One module per step: ``plan`` (where, and what a legal hold withholds), ``rewrite``
(the dataset files, under a new data key; the old one shredded), ``records`` (MLflow's
``datasets`` and ``input_tags`` rows, the index rows), ``flags`` (downstream model
versions), ``certificate`` (signed, stored, verified) and ``erase`` (the order of it
all, so that a failure changes nothing and a crash leaves everything readable).
"""
