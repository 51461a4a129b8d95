"""Checking the credentials a request presents: HTTP Basic, API tokens, OIDC tokens.

Basic authentication must not run the (deliberately slow) Argon2 hash on every request:
a verified credential is remembered in a bounded, expiring, per-process cache keyed by
an HMAC of the credential under a random per-process key (so the cache never holds a
password or anything that could be tested offline against one). A hit is still checked
against the user's current credential version, one indexed lookup, so a password
change or a deleted user takes effect on the very next request in every worker.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict

from mlflow_compliance.identity.passwords import verify_password
from mlflow_compliance.identity.principal import Principal
from mlflow_compliance.identity.store import TOKEN_PREFIX, IdentityStore, User
from mlflow_compliance.server.authentication.oidc import InvalidToken, OidcVerifier


class VerifiedCredentials:
    """Bounded LRU of verified Basic credentials -> (user name, credential version)."""

    def __init__(self, max_entries: int = 10_000, ttl_seconds: float = 300.0) -> None:
        self._key = secrets.token_bytes(32)
        self._entries: OrderedDict[bytes, tuple[str, int, float]] = OrderedDict()
        self._lock = threading.Lock()
        self.max_entries = max_entries
        self.ttl_seconds = ttl_seconds

    def key(self, credential: bytes) -> bytes:
        return hmac.new(self._key, credential, hashlib.sha256).digest()

    def get(self, key: bytes) -> tuple[str, int] | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[2] < time.monotonic():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry[0], entry[1]

    def put(self, key: bytes, name: str, version: int) -> None:
        with self._lock:
            self._entries[key] = (name, version, time.monotonic() + self.ttl_seconds)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


def _principal(user: User, method: str) -> Principal:
    return Principal(user.name, user.role, user.clearances, method)


class Authenticator:
    """Turns an Authorization header into a Principal, or None if it is not valid."""

    def __init__(
        self,
        store: IdentityStore,
        oidc: OidcVerifier | None = None,
        cache: VerifiedCredentials | None = None,
    ) -> None:
        self.store = store
        self.oidc = oidc
        self.cache = cache or VerifiedCredentials()

    def authenticate(self, header: str) -> Principal | None:
        scheme, _, value = header.strip().partition(" ")
        value = value.strip()
        if scheme.lower() == "basic":
            return self._basic(value)
        if scheme.lower() == "bearer":
            return self._bearer(value)
        return None

    def _basic(self, value: str) -> Principal | None:
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        name, sep, password = decoded.partition(":")
        if not sep:
            return None
        key = self.cache.key(decoded.encode())
        user = self.store.find_user(name)
        if user is None or user.password_hash is None:
            return None
        cached = self.cache.get(key)
        if cached == (user.name, user.credential_version):
            return _principal(user, "basic")
        if not verify_password(user.password_hash, password):
            return None
        self.cache.put(key, user.name, user.credential_version)
        return _principal(user, "basic")

    def _bearer(self, token: str) -> Principal | None:
        if token.startswith(TOKEN_PREFIX):
            user = self.store.user_for_token(token)
            return _principal(user, "token") if user else None
        if self.oidc is not None and self.oidc.looks_like_jwt(token):
            try:
                identity = self.oidc.verify(token)
            except InvalidToken:
                return None
            # An SSO identity maps only to a local user created for SSO (no password), so
            # a name chosen at the identity provider cannot take over a password account.
            local = self.store.find_user(identity.username)
            if local is None or local.password_hash is not None:
                return None
            return _principal(local, "oidc")
        return None
