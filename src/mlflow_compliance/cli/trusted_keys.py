"""The server's public key(s) an offline check trusts: ``--public-key FILE`` (PEM), else
``audit-signing.pub`` in the server's home (``--home``, MLFLOW_COMPLIANCE_HOME or
./.mlflow-compliance). Used by ``subjects certificate verify`` and ``report verify``."""

from __future__ import annotations

from pathlib import Path

import click
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from mlflow_compliance.audit.signing import KeyProblem, Verifier, key_id_of
from mlflow_compliance.cli.errors import InputError
from mlflow_compliance.settings import Settings

HOME = click.option("--home", type=click.Path(file_okay=False),
                    help="The server's home, holding its public key audit-signing.pub "
                    "[default: ./.mlflow-compliance, or MLFLOW_COMPLIANCE_HOME].")
PUBLIC_KEY = click.option("--public-key", type=click.Path(dir_okay=False),
                          help="The server's public key (PEM) instead of the home's.")


def trusted_keys(home: str | None, public_key: str | None) -> dict[str, Ed25519PublicKey]:
    try:
        if public_key:
            key = serialization.load_pem_public_key(Path(public_key).read_bytes())
            if not isinstance(key, Ed25519PublicKey):
                raise InputError(f"--public-key: {public_key} is not an Ed25519 public key")
            return {key_id_of(key): key}
        return Verifier.load(Settings.from_env(home).home).keys
    except KeyProblem as e:
        raise InputError(str(e)) from None
    except (OSError, ValueError) as e:
        raise InputError(f"--public-key: {public_key} cannot be read ({e})") from None
