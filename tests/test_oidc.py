"""OIDC bearer-token verification against a real JWKS server on loopback.

Keys are made here with ``cryptography``, tokens signed with PyJWT, and the key set is
served by a ``ThreadingHTTPServer`` that counts the fetches it answers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from mlflow_compliance.server.authentication.oidc import (
    AUDIENCE_ENV,
    ISSUER_ENV,
    JWKS_URL_ENV,
    USERNAME_CLAIM_ENV,
    InvalidToken,
    OidcSettings,
    OidcVerifier,
)

ISSUER = "https://idp.example.test/realms/ml"
AUDIENCE = "mlflow-compliance"


@dataclass(frozen=True)
class SigningKey:
    kid: str
    alg: str
    private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

    def jwk(self) -> dict[str, Any]:
        public = self.private.public_key()
        if isinstance(public, rsa.RSAPublicKey):
            data = RSAAlgorithm.to_jwk(public, as_dict=True)
        else:
            data = ECAlgorithm.to_jwk(public, as_dict=True)
        return {**data, "kid": self.kid, "alg": self.alg, "use": "sig"}

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def rsa_key(kid: str) -> SigningKey:
    return SigningKey(kid, "RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048))


def ec_key(kid: str) -> SigningKey:
    return SigningKey(kid, "ES256", ec.generate_private_key(ec.SECP256R1()))


@pytest.fixture(scope="module")
def rsa_signer() -> SigningKey:
    return rsa_key("rsa-1")


@pytest.fixture(scope="module")
def ec_signer() -> SigningKey:
    return ec_key("ec-1")


class JwksServer:
    """Serves ``{"keys": [...]}`` for ``self.keys`` and counts the fetches."""

    def __init__(self, keys: list[SigningKey]) -> None:
        self.keys = list(keys)
        self.fetches = 0
        self.port = 0
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/jwks.json"

    def start(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != "/jwks.json":
                    self.send_error(404)
                    return
                with owner._lock:
                    owner.fetches += 1
                    body = json.dumps({"keys": [key.jwk() for key in owner.keys]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        # Port 0 the first time; the same port on a restart, as a real issuer comes back.
        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        assert self._httpd is not None and self._thread is not None
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()
        self._httpd = self._thread = None


@pytest.fixture
def jwks(rsa_signer: SigningKey, ec_signer: SigningKey) -> Iterator[JwksServer]:
    server = JwksServer([rsa_signer, ec_signer])
    server.start()
    yield server
    if server._httpd is not None:
        server.stop()


@pytest.fixture
def verifier(jwks: JwksServer) -> OidcVerifier:
    return OidcVerifier(OidcSettings(issuer=ISSUER, audience=AUDIENCE, jwks_url=jwks.url))


def claims(**overrides: Any) -> dict[str, Any]:
    """Valid claims for user ``ada``; an override of None drops that claim."""
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "f3a1c2",
        "preferred_username": "ada",
        "iat": now,
        "exp": now + 300,
    }
    base.update(overrides)
    return {name: value for name, value in base.items() if value is not None}


def sign(key: SigningKey, payload: dict[str, Any], kid: str | None = None) -> str:
    return jwt.encode(payload, key.private, algorithm=key.alg, headers={"kid": kid or key.kid})


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def refused(verifier: OidcVerifier, token: str) -> InvalidToken:
    with pytest.raises(InvalidToken) as caught:
        verifier.verify(token)
    return caught.value


def test_valid_rs256_token_gives_username(verifier: OidcVerifier, rsa_signer: SigningKey) -> None:
    identity = verifier.verify(sign(rsa_signer, claims()))
    assert identity.username == "ada"
    assert identity.claims["sub"] == "f3a1c2"


def test_valid_es256_token_gives_username(verifier: OidcVerifier, ec_signer: SigningKey) -> None:
    assert verifier.verify(sign(ec_signer, claims())).username == "ada"


def test_configured_username_claim_names_the_user(jwks: JwksServer, rsa_signer: SigningKey) -> None:
    settings = OidcSettings(ISSUER, AUDIENCE, jwks.url, username_claim="email")
    token = sign(rsa_signer, claims(email="ada@example.test"))
    assert OidcVerifier(settings).verify(token).username == "ada@example.test"


def test_token_expired_within_leeway_is_accepted(
    verifier: OidcVerifier, rsa_signer: SigningKey
) -> None:
    now = int(time.time())
    assert verifier.verify(sign(rsa_signer, claims(iat=now - 600, exp=now - 10))).username


@pytest.mark.parametrize(
    "overrides",
    [
        # Times relative to now, resolved when the test runs (not when it is collected).
        pytest.param({"exp": -120}, id="expired"),
        pytest.param({"nbf": +120}, id="not_yet_valid"),
        pytest.param({"exp": None}, id="without_exp"),
        pytest.param({"iss": "https://evil.example.test/realms/ml"}, id="wrong_issuer"),
        pytest.param({"iss": ISSUER + "/other"}, id="issuer_with_suffix"),
        pytest.param({"iss": None}, id="without_issuer"),
        pytest.param({"aud": "another-service"}, id="wrong_audience"),
        pytest.param({"aud": None}, id="without_audience"),
        pytest.param({"preferred_username": None}, id="missing_username_claim"),
        pytest.param({"preferred_username": ""}, id="empty_username_claim"),
        pytest.param({"preferred_username": ["ada"]}, id="non_string_username_claim"),
    ],
)
def test_token_with_bad_claims_is_refused(
    verifier: OidcVerifier, rsa_signer: SigningKey, overrides: dict[str, Any]
) -> None:
    now = int(time.time())
    resolved = {k: now + v if k in ("exp", "nbf") and isinstance(v, int) else v
                for k, v in overrides.items()}
    refused(verifier, sign(rsa_signer, claims(**resolved)))


def test_refusal_message_is_generic(verifier: OidcVerifier, rsa_signer: SigningKey) -> None:
    expired = refused(verifier, sign(rsa_signer, claims(exp=int(time.time()) - 120)))
    wrong_audience = refused(verifier, sign(rsa_signer, claims(aud="another-service")))
    assert str(expired) == str(wrong_audience) == str(InvalidToken())


def test_token_signed_by_another_key_is_refused(
    verifier: OidcVerifier, rsa_signer: SigningKey
) -> None:
    impostor = rsa_key(rsa_signer.kid)
    refused(verifier, sign(impostor, claims()))


def test_token_with_unknown_kid_is_refused(verifier: OidcVerifier) -> None:
    refused(verifier, sign(rsa_key("not-published"), claims()))


def test_token_without_kid_is_refused(verifier: OidcVerifier, rsa_signer: SigningKey) -> None:
    token = jwt.encode(claims(), rsa_signer.private, algorithm="RS256")
    refused(verifier, token)


def test_tampered_payload_is_refused(verifier: OidcVerifier, rsa_signer: SigningKey) -> None:
    header, _, signature = sign(rsa_signer, claims()).split(".")
    forged = b64url(json.dumps(claims(preferred_username="admin")).encode())
    refused(verifier, f"{header}.{forged}.{signature}")


def test_alg_none_token_is_refused(verifier: OidcVerifier, rsa_signer: SigningKey) -> None:
    token = jwt.encode(claims(), "", algorithm="none", headers={"kid": rsa_signer.kid})
    refused(verifier, token)


def test_hs256_token_keyed_with_public_key_pem_is_refused(
    verifier: OidcVerifier, rsa_signer: SigningKey
) -> None:
    # PyJWT will not sign with a PEM as HMAC secret, which is the point: build the forgery.
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT", "kid": rsa_signer.kid}).encode())
    payload = b64url(json.dumps(claims(preferred_username="admin")).encode())
    mac = hmac.new(rsa_signer.public_pem(), f"{header}.{payload}".encode(), hashlib.sha256)
    refused(verifier, f"{header}.{payload}.{b64url(mac.digest())}")


def test_rs256_token_naming_an_ec_key_is_refused(
    verifier: OidcVerifier, ec_signer: SigningKey
) -> None:
    refused(verifier, sign(rsa_key("x"), claims(), kid=ec_signer.kid))


def test_rotated_in_key_is_picked_up(
    verifier: OidcVerifier, jwks: JwksServer, rsa_signer: SigningKey
) -> None:
    assert verifier.verify(sign(rsa_signer, claims())).username == "ada"
    rotated = rsa_key("rsa-2")
    jwks.keys.append(rotated)
    assert verifier.verify(sign(rotated, claims())).username == "ada"
    assert jwks.fetches == 2


def test_unreachable_jwks_is_refused_and_verification_recovers(
    verifier: OidcVerifier, jwks: JwksServer, rsa_signer: SigningKey
) -> None:
    token = sign(rsa_signer, claims())
    jwks.stop()
    refused(verifier, token)
    jwks.start()
    assert verifier.verify(token).username == "ada"


def test_flood_of_unknown_kids_fetches_jwks_at_most_once_more(
    verifier: OidcVerifier, jwks: JwksServer, rsa_signer: SigningKey
) -> None:
    assert verifier.verify(sign(rsa_signer, claims())).username == "ada"
    before = jwks.fetches
    for _ in range(50):
        refused(verifier, sign(rsa_signer, claims(), kid=secrets.token_hex(8)))
    assert jwks.fetches - before <= 1
    assert verifier.verify(sign(rsa_signer, claims())).username == "ada"


def test_looks_like_jwt_accepts_a_jwt(verifier: OidcVerifier, rsa_signer: SigningKey) -> None:
    assert verifier.looks_like_jwt(sign(rsa_signer, claims()))


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("mlc_0123456789abcdef", id="api_token"),
        pytest.param("a.b", id="two_parts"),
        pytest.param("a.b.c.d", id="four_parts"),
        pytest.param("bm90IGpzb24.e30.c2ln", id="header_not_json"),
        pytest.param("e30=!.e30.c2ln", id="not_base64url"),
        pytest.param("", id="empty"),
    ],
)
def test_looks_like_jwt_rejects_other_strings(verifier: OidcVerifier, token: str) -> None:
    assert not verifier.looks_like_jwt(token)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in (ISSUER_ENV, AUDIENCE_ENV, JWKS_URL_ENV, USERNAME_CLAIM_ENV):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_from_env_without_variables_is_none(clean_env: pytest.MonkeyPatch) -> None:
    assert OidcSettings.from_env() is None


def test_from_env_with_partial_variables_names_the_missing_one(
    clean_env: pytest.MonkeyPatch,
) -> None:
    clean_env.setenv(ISSUER_ENV, ISSUER)
    clean_env.setenv(JWKS_URL_ENV, "https://idp.example.test/certs")
    with pytest.raises(ValueError, match=AUDIENCE_ENV) as caught:
        OidcSettings.from_env()
    assert ISSUER_ENV not in str(caught.value)
    assert JWKS_URL_ENV not in str(caught.value)


def test_from_env_with_all_variables_gives_settings(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv(ISSUER_ENV, ISSUER)
    clean_env.setenv(AUDIENCE_ENV, AUDIENCE)
    clean_env.setenv(JWKS_URL_ENV, "https://idp.example.test/certs")
    assert OidcSettings.from_env() == OidcSettings(
        ISSUER, AUDIENCE, "https://idp.example.test/certs"
    )
    clean_env.setenv(USERNAME_CLAIM_ENV, "email")
    settings = OidcSettings.from_env()
    assert settings is not None
    assert settings.username_claim == "email"


@pytest.mark.parametrize("algorithm", ["HS256", "none"])
def test_settings_refuse_non_asymmetric_algorithms(algorithm: str) -> None:
    with pytest.raises(ValueError, match=algorithm):
        OidcSettings(ISSUER, AUDIENCE, "https://idp.example.test/certs", algorithms=(algorithm,))


def test_sso_identity_maps_only_to_a_user_created_for_sso(
    verifier: OidcVerifier, rsa_signer: SigningKey, tmp_path: Path
) -> None:
    from mlflow_compliance.identity.principal import Clearance, Role
    from mlflow_compliance.identity.store import IdentityStore
    from mlflow_compliance.server.authentication.credentials import Authenticator

    store = IdentityStore.connect(f"sqlite:///{tmp_path / 'identities.db'}")
    store.create_user("ada", None, Role.AUDITOR, [Clearance.PERSONAL_DATA])
    store.create_user("root-ish", "a password of some length", Role.ADMIN)
    authenticator = Authenticator(store, verifier)
    ada = authenticator.authenticate("Bearer " + sign(rsa_signer, claims()))
    assert ada is not None and ada.name == "ada" and ada.method == "oidc"
    assert ada.role is Role.AUDITOR and Clearance.PERSONAL_DATA in ada.clearances
    # A name picked at the identity provider cannot take over a password account ...
    takeover = sign(rsa_signer, claims(preferred_username="root-ish"))
    assert authenticator.authenticate("Bearer " + takeover) is None
    # ... and an SSO identity nobody created here gets nothing.
    stranger = sign(rsa_signer, claims(preferred_username="stranger"))
    assert authenticator.authenticate("Bearer " + stranger) is None
    store.engine.dispose()
