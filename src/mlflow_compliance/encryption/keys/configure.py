"""The keyring a process uses, from its settings: one per process, shared by every repository."""

from __future__ import annotations

import functools
import os

from mlflow_compliance.encryption.keys.errors import KeyringError
from mlflow_compliance.encryption.keys.keyring import Keyring
from mlflow_compliance.encryption.keys.local import LocalKeyFile
from mlflow_compliance.encryption.keys.provider import KeyProvider
from mlflow_compliance.encryption.keys.store import DataKeyStore
from mlflow_compliance.settings import Settings, keyring_provider


def open_keyring(settings: Settings, provider_for_new_keys: str | None = None) -> Keyring:
    """The keyring of ``settings``: data keys in its tracking database; the local key
    file, and AWS KMS once it is chosen (MLFLOW_COMPLIANCE_KEYRING=aws-kms) or a key
    there is in use."""
    chosen = provider_for_new_keys or keyring_provider()

    def make_provider(name: str) -> KeyProvider:
        if name == "local":
            return LocalKeyFile(settings.key_file)
        if name == "aws-kms":
            from mlflow_compliance.encryption.keys.aws_kms import AwsKmsProvider

            return AwsKmsProvider.from_environment()
        raise KeyringError(f"keyring provider {name!r} is unknown; known: local, aws-kms")

    store = DataKeyStore.connect(settings.store_uri)
    return Keyring(store, {}, chosen, make_provider)


@functools.cache
def server_keyring() -> Keyring:
    """The keyring of this server process (its settings come from the environment that
    ``mlflow-compliance server`` hands to every worker)."""
    from mlflow.server import BACKEND_STORE_URI_ENV_VAR

    uri = os.environ.get(BACKEND_STORE_URI_ENV_VAR)
    return open_keyring(Settings.from_env(backend_store_uri=uri))
