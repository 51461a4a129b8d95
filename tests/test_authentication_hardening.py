"""Authentication against the findings of the penetration test.

Identity is bound to the credential, not to the name; a refusal costs the same whether
the name exists; a burst of new Basic clients costs one verification per credential.
Counted, never timed: the verify function is injected and counts its calls.
"""

from __future__ import annotations

import base64
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import argon2
import pytest

from mlflow_compliance.identity.passwords import decoy_hash, hash_password, verify_password
from mlflow_compliance.identity.principal import Principal, Role
from mlflow_compliance.identity.store import IdentityStore
from mlflow_compliance.server.authentication.credentials import Authenticator
from mlflow_compliance.testing import Server, start_compliance_server
from tests.test_access_control import PASSWORD, api, ok

NEW_PASSWORD = "a different passphrase"
SEARCH = "/api/2.0/mlflow/experiments/search"


def basic(name: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{name}:{password}".encode()).decode()


@dataclass
class CountingVerify:
    """The real Argon2 verification, counted; optionally held until ``hold`` says go."""

    hold: Callable[[], object] | None = None
    calls: list[str] = field(default_factory=list)
    running: int = 0
    most_at_once: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, stored_hash: str, password: str) -> bool:
        with self.lock:
            self.calls.append(stored_hash)
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            if self.hold is not None:
                self.hold()
            return verify_password(stored_hash, password)
        finally:
            with self.lock:
                self.running -= 1


def wait_until(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    """Synchronisation, not a timing check: gives up (False) rather than hang a test."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def at_once(count: int, job: Callable[[], Principal | None]) -> list[Principal | None]:
    """``job`` in ``count`` threads released together; their answers."""
    start = threading.Barrier(count)
    answers: list[Principal | None] = [None] * count

    def run(i: int) -> None:
        start.wait()
        answers[i] = job()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    return answers


@pytest.fixture
def identities(tmp_path: Path) -> Iterator[IdentityStore]:
    store = IdentityStore.connect(f"sqlite:///{tmp_path / 'identities.db'}")
    yield store
    store.engine.dispose()


# --- 1. identity bound to the credential, not the name ------------------------------


def test_recreated_name_gets_nothing_of_the_deleted_user(server: Server) -> None:
    name = f"gina-{uuid.uuid4().hex[:6]}"
    ok(api(server, "POST", "/api/2.0/compliance/users/create", server.auth,
           {"name": name, "password": PASSWORD}))
    old = (name, PASSWORD)
    for _ in range(3):  # verified once, then served from the cache
        ok(api(server, "POST", SEARCH, old, {"max_results": 1}))
    token = ok(api(server, "POST", "/api/2.0/compliance/tokens/create", server.auth,
                   {"name": name}))["token"]
    ok(api(server, "POST", SEARCH, token, {"max_results": 1}))
    eid = ok(api(server, "POST", "/api/2.0/mlflow/experiments/create", old,
                 {"name": f"gina-{uuid.uuid4().hex[:6]}"}))["experiment_id"]
    grants = ok(api(server, "GET", "/api/2.0/compliance/grants/list", server.auth,
                    {"name": name}))["grants"]
    assert grants == [{"user": name, "kind": "experiment", "target": eid,
                       "permission": "manage"}]

    ok(api(server, "POST", "/api/2.0/compliance/users/delete", server.auth, {"name": name}))
    assert api(server, "POST", SEARCH, old, {"max_results": 1}).status_code == 401
    assert api(server, "POST", SEARCH, token, {"max_results": 1}).status_code == 401

    ok(api(server, "POST", "/api/2.0/compliance/users/create", server.auth,
           {"name": name, "password": NEW_PASSWORD}))
    assert api(server, "POST", SEARCH, old, {"max_results": 1}).status_code == 401
    assert api(server, "POST", SEARCH, token, {"max_results": 1}).status_code == 401
    assert ok(api(server, "GET", "/api/2.0/compliance/grants/list", server.auth,
                  {"name": name}))["grants"] == []
    assert ok(api(server, "GET", "/api/2.0/compliance/tokens/list", server.auth,
                  {"name": name}))["tokens"] == []
    new = (name, NEW_PASSWORD)
    r = api(server, "GET", "/api/2.0/mlflow/experiments/get", new, {"experiment_id": eid})
    assert r.status_code in (403, 404), r.text  # refused, or hidden as if absent
    found = ok(api(server, "POST", SEARCH, new, {"max_results": 1000}))
    assert eid not in {e["experiment_id"] for e in found.get("experiments", [])}


def test_recreated_name_is_refused_the_old_password_in_every_worker(tmp_path: Path) -> None:
    server = start_compliance_server(tmp_path / "home", workers=2)
    try:
        name = f"hugo-{uuid.uuid4().hex[:6]}"
        ok(api(server, "POST", "/api/2.0/compliance/users/create", server.auth,
               {"name": name, "password": PASSWORD}))
        old = (name, PASSWORD)
        for _ in range(8):  # a new connection each: both workers verify and cache it
            ok(api(server, "POST", SEARCH, old, {"max_results": 1}))
        ok(api(server, "POST", "/api/2.0/compliance/users/delete", server.auth, {"name": name}))
        ok(api(server, "POST", "/api/2.0/compliance/users/create", server.auth,
               {"name": name, "password": NEW_PASSWORD}))
        statuses = {api(server, "POST", SEARCH, old, {"max_results": 1}).status_code
                    for _ in range(8)}
        assert statuses == {401}
        ok(api(server, "POST", SEARCH, (name, NEW_PASSWORD), {"max_results": 1}))
    finally:
        server.stop()


def test_cached_credential_dies_with_its_hash_in_every_process(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'identities.db'}"
    stores = [IdentityStore.connect(url), IdentityStore.connect(url)]  # two workers
    try:
        stores[0].create_user("ivy", PASSWORD, Role.USER)
        workers = [Authenticator(s) for s in stores]
        for worker in workers:
            assert worker.authenticate(basic("ivy", PASSWORD)) is not None
            assert len(worker.cache) == 1
        stores[0].delete_user("ivy")
        stores[0].create_user("ivy", NEW_PASSWORD, Role.USER)
        for worker in workers:
            assert worker.authenticate(basic("ivy", PASSWORD)) is None
            found = worker.authenticate(basic("ivy", NEW_PASSWORD))
            assert found is not None and found.name == "ivy"
    finally:
        for store in stores:
            store.engine.dispose()


# --- 2. a refusal costs the same whether the name exists ----------------------------


def test_unknown_and_passwordless_names_cost_one_verification_like_wrong_passwords(
    identities: IdentityStore,
) -> None:
    identities.create_user("jack", PASSWORD, Role.USER)
    identities.create_user("sso-kim", None, Role.USER)
    verify = CountingVerify()
    authenticator = Authenticator(identities, verify=verify)
    for header in (basic("nobody", PASSWORD), basic("sso-kim", PASSWORD),
                   basic("jack", "wrong password!")):
        before = len(verify.calls)
        assert authenticator.authenticate(header) is None
        assert len(verify.calls) == before + 1, header
    assert verify.calls[0] == verify.calls[1] == authenticator.decoy
    assert authenticator.authenticate(basic("jack", PASSWORD)) is not None
    assert authenticator.authenticate(basic("jack", PASSWORD)) is not None  # cached
    assert len(verify.calls) == 4


def test_decoy_hash_has_the_real_parameters_and_is_made_once() -> None:
    real = hash_password(PASSWORD)
    assert argon2.extract_parameters(decoy_hash()) == argon2.extract_parameters(real)
    assert decoy_hash() is decoy_hash()


def test_unknown_name_is_refused_even_if_the_decoy_verifies(
    identities: IdentityStore,
) -> None:
    authenticator = Authenticator(identities, verify=lambda stored, password: True)
    assert authenticator.authenticate(basic("nobody", PASSWORD)) is None
    identities.create_user("sso-lee", None, Role.USER)
    assert authenticator.authenticate(basic("sso-lee", PASSWORD)) is None


# --- 3. one verification per credential at a time ----------------------------------


def test_sixteen_new_clients_with_one_credential_cost_one_verification(
    identities: IdentityStore,
) -> None:
    identities.create_user("mia", PASSWORD, Role.USER)
    verify = CountingVerify()
    authenticator = Authenticator(identities, verify=verify)
    # The first verification holds until the fifteen others are waiting for it.
    verify.hold = lambda: wait_until(lambda: authenticator.in_flight.waiting() == 15)
    answers = at_once(16, lambda: authenticator.authenticate(basic("mia", PASSWORD)))
    assert [a.name if a else None for a in answers] == ["mia"] * 16
    assert len(verify.calls) == 1


def test_wrong_password_burst_shares_one_verification_and_is_not_remembered(
    identities: IdentityStore,
) -> None:
    identities.create_user("noah", PASSWORD, Role.USER)
    verify = CountingVerify()
    authenticator = Authenticator(identities, verify=verify)
    verify.hold = lambda: wait_until(lambda: authenticator.in_flight.waiting() == 15)
    wrong = basic("noah", "wrong password!")
    assert at_once(16, lambda: authenticator.authenticate(wrong)) == [None] * 16
    assert len(verify.calls) == 1
    verify.hold = None
    for expected in (2, 3):  # each later attempt is verified against the real hash again
        assert authenticator.authenticate(wrong) is None
        assert len(verify.calls) == expected
    assert verify.calls == [identities.user("noah").password_hash] * 3
    assert authenticator.authenticate(basic("noah", PASSWORD)) is not None


def test_wrong_passwords_of_one_credential_are_verified_one_at_a_time(
    identities: IdentityStore,
) -> None:
    identities.create_user("olga", PASSWORD, Role.USER)
    verify = CountingVerify()
    authenticator = Authenticator(identities, verify=verify)
    wrong = basic("olga", "wrong password!")
    assert at_once(16, lambda: authenticator.authenticate(wrong)) == [None] * 16
    assert 1 <= len(verify.calls) <= 16
    assert verify.most_at_once == 1


def test_different_credentials_do_not_wait_for_each_other(identities: IdentityStore) -> None:
    identities.create_user("pia", PASSWORD, Role.USER)
    identities.create_user("quinn", PASSWORD, Role.USER)
    both_running = threading.Barrier(2, timeout=10)
    verify = CountingVerify(hold=both_running.wait)  # breaks (raises) if run one by one
    authenticator = Authenticator(identities, verify=verify)
    names = iter(["pia", "quinn"])
    lock = threading.Lock()

    def one() -> Principal | None:
        with lock:
            name = next(names)
        return authenticator.authenticate(basic(name, PASSWORD))

    answers = at_once(2, one)
    assert sorted(a.name for a in answers if a) == ["pia", "quinn"]
    assert verify.most_at_once == 2
