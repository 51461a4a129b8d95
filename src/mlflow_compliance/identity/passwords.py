"""Password hashing: Argon2id (memory-hard), from argon2-cffi."""

from __future__ import annotations

import functools
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()

MIN_LENGTH = 12


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def decoy_hash() -> str:
    """A hash of a secret nobody knows, made once per process with the real parameters.

    Verified in place of a hash that does not exist (unknown name, account without a
    password), so that refusing those costs what refusing a wrong password costs and a
    401's delay does not tell which names exist.
    """
    return _hasher.hash(secrets.token_urlsafe(32))


def password_problem(password: str, field: str = "password") -> str | None:
    """Why a new password is refused, or None; the message names ``field``."""
    if len(password) < MIN_LENGTH:
        return f"{field}: shorter than {MIN_LENGTH} characters"
    return None
