"""Key-encryption keys in AWS KMS: they never leave it, data keys go there to be wrapped.

A data key is wrapped with KMS ``Encrypt`` and unwrapped with ``Decrypt``, its id bound
as the encryption context ``mlflow-compliance:data-key=<id>``, so a wrapped key copied
to another data key's row does not open. Region, endpoint and credentials come from
boto3's own configuration (AWS_REGION / AWS_DEFAULT_REGION, AWS_ENDPOINT_URL_KMS,
the usual credential chain), as for every other AWS tool on the machine.

Timeouts are short and retries few: a download waiting on an unreachable KMS should
fail in seconds with a 503, not hold a server worker for a minute.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    CredentialRetrievalError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
)

from mlflow_compliance.encryption.keys.errors import (
    KeyringError,
    KeyServiceUnreachable,
    UnknownKey,
    WrongKey,
)

KEY_ID_ENV = "MLFLOW_COMPLIANCE_KMS_KEY_ID"
CONTEXT_KEY = "mlflow-compliance:data-key"
DATA_KEY_SIZE = 32
# KMS allows no shorter waiting period before a key is deleted.
DELETION_WINDOW_DAYS = 7

_CLIENT_CONFIG = Config(
    connect_timeout=5, read_timeout=5, retries={"max_attempts": 2, "mode": "standard"}
)
_NO_ANSWER = (ConnectionError, HTTPClientError)
_NO_CREDENTIALS = (NoCredentialsError, PartialCredentialsError, CredentialRetrievalError)
_ALTERED = {"InvalidCiphertextException", "IncorrectKeyException"}
_NOT_USABLE = {"NotFoundException", "KMSInvalidStateException", "DisabledException"}
_REFUSED = {
    "AccessDeniedException",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "ExpiredTokenException",
}


class AwsKmsProvider:
    """Key-encryption keys as symmetric KMS keys, addressed by their ARN."""

    name = "aws-kms"

    def __init__(self, key_id: str | None = None, client: Any | None = None) -> None:
        """``key_id``: an existing KMS key (id, ARN or alias) that the first ``create_key``
        adopts instead of creating one. ``client``: a boto3 KMS client, else one from
        boto3's configuration."""
        self._key_to_adopt = key_id
        if client is None:
            try:
                # A session of its own: boto3's default one is not thread-safe and keeps
                # the credentials it found first.
                client = boto3.Session().client("kms", config=_CLIENT_CONFIG)
            except BotoCoreError as error:  # no region, a broken profile
                raise KeyringError(f"AWS KMS cannot be configured: {_one_line(error)}") from error
        self._kms = client

    @classmethod
    def from_environment(cls) -> AwsKmsProvider:
        """The provider for MLFLOW_COMPLIANCE_KMS_KEY_ID (optional) and boto3's settings."""
        return cls(os.environ.get(KEY_ID_ENV, "").strip() or None)

    def create_key(self) -> str:
        """The configured key's ARN the first time (after checking it can wrap data
        keys); otherwise a new symmetric KMS key's ARN. ARNs, not aliases, because an
        alias can be pointed at another key later and the wrapped keys would not open."""
        if self._key_to_adopt is not None:
            arn = self._adopt(self._key_to_adopt)
            self._key_to_adopt = None
            return arn
        created = self._call(
            "create_key",
            "a new KMS key",
            Description="mlflow-compliance key-encryption key",
            KeySpec="SYMMETRIC_DEFAULT",
            KeyUsage="ENCRYPT_DECRYPT",
            Tags=[{"TagKey": "mlflow-compliance", "TagValue": "key-encryption-key"}],
        )
        return str(created["KeyMetadata"]["Arn"])

    def wrap(self, kek_id: str, data_key: bytes, context: str) -> bytes:
        answer = self._call(
            "encrypt",
            f"data key {context} under KMS key {kek_id}",
            KeyId=kek_id,
            Plaintext=data_key,
            EncryptionContext={CONTEXT_KEY: context},
        )
        return bytes(answer["CiphertextBlob"])

    def unwrap(self, kek_id: str, wrapped: bytes, context: str) -> bytes:
        answer = self._call(
            "decrypt",
            f"data key {context} under KMS key {kek_id}",
            KeyId=kek_id,
            CiphertextBlob=wrapped,
            EncryptionContext={CONTEXT_KEY: context},
        )
        data_key = bytes(answer["Plaintext"])
        if len(data_key) != DATA_KEY_SIZE:
            raise WrongKey(
                f"data key {context} unwrapped by KMS key {kek_id} is {len(data_key)} bytes, "
                f"not {DATA_KEY_SIZE}: the wrapped value is not one of our data keys"
            )
        return data_key

    def destroy_key(self, kek_id: str) -> None:
        """Disable the key now and schedule its deletion in 7 days, the shortest waiting
        period KMS allows: from now on nothing it wrapped opens, and until the deletion
        date an AWS administrator can still cancel it. A key already pending deletion
        (a rotation run again) or already gone is left as it is."""
        try:
            metadata = self._call("describe_key", f"KMS key {kek_id}", KeyId=kek_id)["KeyMetadata"]
        except UnknownKey:
            return
        if metadata["KeyState"] == "PendingDeletion":
            return
        # The bare key id, which KMS takes as well as the ARN (moto 5.2 fails on an ARN
        # here); neither call works across accounts or regions, so it names the same key.
        key_id = metadata["KeyId"]
        subject = f"KMS key {kek_id}"
        self._call("disable_key", subject, KeyId=key_id)
        self._call(
            "schedule_key_deletion", subject, KeyId=key_id, PendingWindowInDays=DELETION_WINDOW_DAYS
        )

    def _adopt(self, key_id: str) -> str:
        """The ARN of the existing key ``key_id``, if it is an enabled symmetric
        encryption key; KeyringError otherwise."""
        metadata = self._call("describe_key", f"KMS key {key_id}", KeyId=key_id)["KeyMetadata"]
        arn = str(metadata["Arn"])
        # KMS's default usage for a symmetric key, which some KMS emulators leave out
        usage = metadata.get("KeyUsage", "ENCRYPT_DECRYPT")
        spec = metadata.get("KeySpec", metadata.get("CustomerMasterKeySpec"))
        problem = None
        if metadata["KeyState"] != "Enabled":
            problem = f"its state is {metadata['KeyState']}, not Enabled"
        elif spec != "SYMMETRIC_DEFAULT" or usage != "ENCRYPT_DECRYPT":
            problem = f"it is a {spec} {usage} key, not SYMMETRIC_DEFAULT ENCRYPT_DECRYPT"
        if problem:
            raise KeyringError(
                f"KMS key {key_id} ({arn}) cannot be a key-encryption key: {problem}"
            )
        return arn

    def _call(self, operation: str, subject: str, **params: Any) -> Any:
        """KMS ``operation``; its failure as one of our errors, naming ``subject`` (the
        key, and the data key) and the cause, never the parameters (key material)."""
        try:
            return getattr(self._kms, operation)(**params)
        except ClientError as error:
            raise _translate(error, operation, subject) from error
        except _NO_ANSWER as error:
            raise KeyServiceUnreachable(
                f"AWS KMS did not answer for {subject}: {_one_line(error)}"
            ) from error
        except _NO_CREDENTIALS as error:
            raise KeyServiceUnreachable(
                f"AWS KMS cannot be called for {subject}: {_one_line(error)}"
            ) from error


def _translate(error: ClientError, operation: str, subject: str) -> KeyringError:
    details = error.response.get("Error", {})
    code = str(details.get("Code", "?"))
    message = details.get("Message")
    cause = _one_line(f"KMS answered {code}" + (f": {message}" if message else ""))
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    if code in _ALTERED:
        return WrongKey(
            f"{subject} does not open ({cause}): the wrapped key was altered, or belongs to "
            "another key or data key"
        )
    if code in _NOT_USABLE:
        return UnknownKey(
            f"{subject} cannot be used: the KMS key does not exist, is disabled or is "
            f"pending deletion ({cause})"
        )
    if code in _REFUSED:
        return KeyServiceUnreachable(
            f"AWS KMS refused access for {subject} (check the credentials and the key "
            f"policy): {cause}"
        )
    if status >= 500 or code == "ThrottlingException":
        return KeyServiceUnreachable(f"AWS KMS cannot serve {subject} now: {cause}")
    if code.isdigit():  # botocore found no KMS error in the body: not KMS answering
        return KeyServiceUnreachable(
            f"the endpoint for {subject} does not answer as AWS KMS (HTTP {code}): check "
            "AWS_ENDPOINT_URL_KMS / AWS_ENDPOINT_URL"
        )
    return KeyringError(f"AWS KMS {operation} failed for {subject}: {cause}")


def _one_line(text: object, limit: int = 300) -> str:
    """``text`` on one line and short (an error page can be a whole HTML document)."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
