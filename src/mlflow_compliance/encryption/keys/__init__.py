"""Envelope keys: a data key per run or dataset, stored only wrapped by a key-encryption key.

A keyring provider holds the key-encryption keys (a local key file, AWS KMS); the data
key store keeps each wrapped data key in the tracking database; the keyring joins the two.
"""
