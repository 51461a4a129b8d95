"""Checking the credentials a request presents: HTTP Basic, API tokens, OIDC tokens.

Basic authentication must not run the (deliberately slow) Argon2 hash on every request:
a verified credential is remembered in a bounded, expiring, per-process cache keyed by
an HMAC of the credential under a random per-process key (so the cache never holds a
password or anything that could be tested offline against one). An entry is bound to
the stored hash it was verified against, by a keyed digest of that hash (each hash has
its own random salt), not to the user's name: a hit is checked against the hash the
database holds now, one indexed lookup, so a password change, a deleted user or a user
re-created under the same name takes effect on the very next request in every worker.

A credential is verified once at a time per process: requests that present it while its
verification runs wait for that one and take its answer, so a burst of new clients costs
one Argon2 run instead of one each. A name without a password hash (unknown, or SSO only)
is verified against a decoy hash, so a refusal costs the same whether the name exists.
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
from collections.abc import Callable, Hashable

from mlflow_compliance.identity.passwords import decoy_hash, verify_password
from mlflow_compliance.identity.principal import Principal
from mlflow_compliance.identity.store import TOKEN_PREFIX, IdentityStore, User
from mlflow_compliance.server.authentication.oidc import InvalidToken, OidcVerifier


class VerifiedCredentials:
    """Bounded LRU of verified Basic credentials -> (user name, digest of the stored hash)."""

    def __init__(self, max_entries: int = 10_000, ttl_seconds: float = 300.0) -> None:
        self._key = secrets.token_bytes(32)
        self._entries: OrderedDict[bytes, tuple[str, bytes, float]] = OrderedDict()
        self._lock = threading.Lock()
        self.max_entries = max_entries
        self.ttl_seconds = ttl_seconds

    def key(self, credential: bytes) -> bytes:
        return hmac.new(self._key, credential, hashlib.sha256).digest()

    def bound(self, password_hash: str) -> bytes:
        """What an entry is bound to: a keyed digest of the stored hash (not the hash,
        which could be tested offline)."""
        return hmac.new(self._key, b"hash:" + password_hash.encode(), hashlib.sha256).digest()

    def get(self, key: bytes) -> tuple[str, bytes] | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[2] < time.monotonic():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry[0], entry[1]

    def put(self, key: bytes, name: str, bound: bytes) -> None:
        with self._lock:
            self._entries[key] = (name, bound, time.monotonic() + self.ttl_seconds)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


class _Verification:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.valid = False
        self.waiting = 0


class InFlight:
    """At most one verification per credential at a time.

    A request presenting a credential whose verification is running waits for it and
    takes its answer. The answer is kept for that moment only: a success lives on in
    VerifiedCredentials, a failure nowhere, so the next wrong password is verified again.
    """

    def __init__(self) -> None:
        self._running: dict[Hashable, _Verification] = {}
        self._lock = threading.Lock()

    def run(self, key: Hashable, verify: Callable[[], bool]) -> bool:
        with self._lock:
            running = self._running.get(key)
            first = running is None
            if running is None:
                running = self._running[key] = _Verification()
            else:
                running.waiting += 1
        if not first:
            running.done.wait()
            return running.valid
        try:
            running.valid = verify()
        finally:
            with self._lock:
                del self._running[key]
            running.done.set()
        return running.valid

    def waiting(self) -> int:
        """How many requests are waiting for another's verification right now."""
        with self._lock:
            return sum(v.waiting for v in self._running.values())


def _principal(user: User, method: str) -> Principal:
    return Principal(user.name, user.role, user.clearances, method)


class Authenticator:
    """Turns an Authorization header into a Principal, or None if it is not valid.

    ``verify(stored_hash, password)`` checks a password against its hash; replaceable so
    that tests can count verifications.
    """

    def __init__(
        self,
        store: IdentityStore,
        oidc: OidcVerifier | None = None,
        cache: VerifiedCredentials | None = None,
        verify: Callable[[str, str], bool] = verify_password,
    ) -> None:
        self.store = store
        self.oidc = oidc
        self.cache = cache or VerifiedCredentials()
        self.verify = verify
        self.in_flight = InFlight()
        self.decoy = decoy_hash()  # made now, so that no request pays for making it

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
            # Unknown names and SSO-only users cost one verification too, and always fail.
            def refuse() -> bool:
                self.verify(self.decoy, password)
                return False

            self.in_flight.run((key, None), refuse)
            return None
        stored, bound = user.password_hash, self.cache.bound(user.password_hash)
        if self.cache.get(key) == (user.name, bound):
            return _principal(user, "basic")

        def verify() -> bool:
            # Whoever verified this credential just before may have cached it meanwhile.
            if self.cache.get(key) == (user.name, bound):
                return True
            if not self.verify(stored, password):
                return False
            self.cache.put(key, user.name, bound)  # before the others stop waiting
            return True

        return _principal(user, "basic") if self.in_flight.run((key, bound), verify) else None

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
