"""Verify OIDC bearer tokens (JWTs) issued by a team's identity provider.

Teams with single sign-on call the server with ``Authorization: Bearer <JWT>``. A token
is accepted only if it is signed by a key the issuer publishes at its JWKS URL (matched
by ``kid``, with one of the configured asymmetric algorithms), is within its validity
window, names the configured issuer and audience, and carries a non-empty username
claim. Every refusal is the same :class:`InvalidToken`, so a caller learns nothing about
why; the reason goes to the debug log.

Keys come from :class:`jwt.PyJWKClient`, which caches the key set. An unknown ``kid``
forces a refresh (that is how a rotated-in key is picked up), but at most once a
minute, so a flood of tokens with made-up ``kid`` values cannot hammer the issuer.
"""

from __future__ import annotations

import http.client
import logging
import os
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

log = logging.getLogger(__name__)

ENV_PREFIX = "MLFLOW_COMPLIANCE_OIDC_"
ISSUER_ENV = ENV_PREFIX + "ISSUER"
AUDIENCE_ENV = ENV_PREFIX + "AUDIENCE"
JWKS_URL_ENV = ENV_PREFIX + "JWKS_URL"
USERNAME_CLAIM_ENV = ENV_PREFIX + "USERNAME_CLAIM"
DEFAULT_USERNAME_CLAIM = "preferred_username"

# Symmetric algorithms (HS*) would let anyone holding the public key forge tokens.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
# The public key type each algorithm family verifies with.
_KEY_TYPES: dict[str, tuple[type, ...]] = {
    "RS": (rsa.RSAPublicKey,),
    "PS": (rsa.RSAPublicKey,),
    "ES": (ec.EllipticCurvePublicKey,),
    "Ed": (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey),
}
FORCED_REFRESH_INTERVAL_SECONDS = 60.0
JWKS_CACHE_SECONDS = 300.0
JWKS_TIMEOUT_SECONDS = 5.0

_JWT_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")

# Whatever goes wrong fetching or reading the key set: the issuer is down, answers
# garbage, or publishes no usable key. Older PyJWT lets some of these through raw.
_KEY_ERRORS = (jwt.PyJWTError, OSError, ValueError, http.client.HTTPException)


@dataclass(frozen=True)
class OidcSettings:
    issuer: str
    audience: str
    jwks_url: str
    username_claim: str = DEFAULT_USERNAME_CLAIM
    algorithms: tuple[str, ...] = ("RS256", "ES256")
    leeway_seconds: int = 30

    def __post_init__(self) -> None:
        for name in ("issuer", "audience", "jwks_url", "username_claim"):
            if not getattr(self, name):
                raise ValueError(f"OIDC {name} must not be empty")
        if urlparse(self.jwks_url).scheme not in ("http", "https"):
            raise ValueError(f"OIDC jwks_url must be an http(s) URL: {self.jwks_url!r}")
        if not self.algorithms:
            raise ValueError("OIDC algorithms must not be empty")
        refused = sorted(set(self.algorithms) - ASYMMETRIC_ALGORITHMS)
        if refused:
            raise ValueError(f"OIDC algorithms must be asymmetric, not {', '.join(refused)}")
        if self.leeway_seconds < 0:
            raise ValueError("OIDC leeway_seconds must not be negative")

    @classmethod
    def from_env(cls) -> OidcSettings | None:
        """From MLFLOW_COMPLIANCE_OIDC_ISSUER, _AUDIENCE, _JWKS_URL (all three needed;
        None if none set; ValueError naming the missing variable if only some are set),
        optional MLFLOW_COMPLIANCE_OIDC_USERNAME_CLAIM."""
        required = (ISSUER_ENV, AUDIENCE_ENV, JWKS_URL_ENV)
        values = {name: os.environ.get(name, "").strip() for name in required}
        missing = [name for name in required if not values[name]]
        if len(missing) == len(required):
            return None
        if missing:
            raise ValueError(f"OIDC is half configured: set {', '.join(missing)} as well")
        return cls(
            issuer=values[ISSUER_ENV],
            audience=values[AUDIENCE_ENV],
            jwks_url=values[JWKS_URL_ENV],
            username_claim=os.environ.get(USERNAME_CLAIM_ENV, "").strip() or DEFAULT_USERNAME_CLAIM,
        )


@dataclass(frozen=True)
class OidcIdentity:
    username: str
    claims: Mapping[str, Any]


class InvalidToken(Exception):
    """One error for every reason a token is refused (no detail that helps an attacker);
    its message is a short generic sentence, the reason is logged at debug level only."""

    def __init__(self) -> None:
        super().__init__("The bearer token is not valid.")


class _Refused(Exception):
    """Internal: a reason to refuse that PyJWT does not raise itself."""


class OidcVerifier:
    def __init__(self, settings: OidcSettings) -> None:
        self.settings = settings
        self._jwks = jwt.PyJWKClient(
            settings.jwks_url, lifespan=JWKS_CACHE_SECONDS, timeout=JWKS_TIMEOUT_SECONDS
        )
        # Request threads share one key set; the lock also keeps concurrent misses from
        # each fetching it.
        self._lock = threading.Lock()
        self._last_forced_refresh: float | None = None

    def looks_like_jwt(self, token: str) -> bool:
        """Cheap check that ``token`` is shaped like a JWT, before any key is fetched."""
        if not _JWT_SHAPE.fullmatch(token):
            return False
        try:
            jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            return False
        return True

    def verify(self, token: str) -> OidcIdentity:
        """The identity a valid token names; InvalidToken for any other token."""
        try:
            return self._verify(token)
        except (jwt.PyJWTError, _Refused) as exc:
            log.debug("OIDC token refused: %s: %s", type(exc).__name__, exc)
            raise InvalidToken() from None

    def _verify(self, token: str) -> OidcIdentity:
        settings = self.settings
        header = jwt.get_unverified_header(token)
        kid, alg = header.get("kid"), header.get("alg")
        if not isinstance(kid, str) or not kid:
            raise _Refused("no kid in the token header")
        if alg not in settings.algorithms:
            raise _Refused(f"algorithm {alg!r} is not allowed")
        key = self._signing_key(kid)
        # PyJWT before 2.9 takes only the bare key and picks the algorithm from the header;
        # a key of the wrong type there is a TypeError, not a refusal.
        if not _fits(alg, key):
            raise _Refused(f"algorithm {alg!r} does not fit key {kid!r}")
        claims: dict[str, Any] = jwt.decode(
            token,
            key=key.key,
            algorithms=[alg],
            audience=settings.audience,
            issuer=settings.issuer,
            leeway=settings.leeway_seconds,
            options={"require": ["exp", "iss", "aud"]},
        )
        # PyJWT 2.10.0 matched a string issuer as a substring (CVE-2024-53861).
        if claims.get("iss") != settings.issuer:
            raise _Refused("issuer does not match")
        username = claims.get(settings.username_claim)
        if not isinstance(username, str) or not username.strip():
            raise _Refused(f"claim {settings.username_claim!r} is missing or empty")
        return OidcIdentity(username=username, claims=claims)

    def _signing_key(self, kid: str) -> jwt.PyJWK:
        try:
            with self._lock:
                key = _find(self._jwks.get_signing_keys(), kid)
                if key is None and self._may_force_refresh():
                    key = _find(self._jwks.get_signing_keys(refresh=True), kid)
        except _KEY_ERRORS as exc:
            raise _Refused(f"JWKS unavailable: {type(exc).__name__}: {exc}") from exc
        if key is None:
            raise _Refused(f"no key with kid {kid!r}")
        return key

    def _may_force_refresh(self) -> bool:
        # Counted from the attempt, not from success: a failing issuer is throttled too.
        now = time.monotonic()
        last = self._last_forced_refresh
        if last is not None and now - last < FORCED_REFRESH_INTERVAL_SECONDS:
            return False
        self._last_forced_refresh = now
        return True


def _fits(alg: str, key: jwt.PyJWK) -> bool:
    return isinstance(key.key, _KEY_TYPES[alg[:2]])


def _find(keys: list[jwt.PyJWK], kid: str) -> jwt.PyJWK | None:
    return next((key for key in keys if key.key_id == kid), None)
