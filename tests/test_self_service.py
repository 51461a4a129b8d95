"""Self-service on a real compliance server: a user changes their own password and
manages their own API tokens (``/api/2.0/compliance/account/...``), never anyone else's,
and every attempt is in the audit log, without a password in it."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from mlflow_compliance.audit.entry import Entry
from mlflow_compliance.audit.log import AuditLog
from mlflow_compliance.identity.store import IdentityError, IdentityStore, WrongPassword
from mlflow_compliance.server.administration import ACCOUNT_ROUTES, PREFIX
from mlflow_compliance.server.authorization.table import Permission, Source, find
from mlflow_compliance.testing import Server, start_compliance_server

PASSWORD = "the first long password"
NEW_PASSWORD = "the second long password"
ACCOUNT = "/api/2.0/compliance/account/"
SEARCH = "/api/2.0/mlflow/experiments/search"


def new_user(server: Server, role: str = "user") -> tuple[str, str]:
    name = f"self-{uuid.uuid4().hex[:8]}"
    r = requests.post(f"{server.url}/api/2.0/compliance/users/create", auth=server.auth,
                      json={"name": name, "password": PASSWORD, "role": role}, timeout=30)
    assert r.status_code == 200, r.text
    return name, PASSWORD


def post(server: Server, route: str, body: dict[str, Any], **auth: Any) -> requests.Response:
    return requests.post(f"{server.url}{ACCOUNT}{route}", json=body, timeout=60, **auth)


def signed_in(server: Server, **auth: Any) -> int:
    """The status of a plain read with these credentials: 200 signed in, 401 refused."""
    r = requests.post(f"{server.url}{SEARCH}", json={"max_results": 1}, timeout=60, **auth)
    return r.status_code


def bearer(token: str) -> dict[str, Any]:
    return {"headers": {"Authorization": f"Bearer {token}"}}


@pytest.fixture
def log(any_server: Server) -> Iterator[AuditLog]:
    opened = AuditLog(any_server.audit_url(), any_server.home, None)
    yield opened
    opened.close()


def entry_of(log: AuditLog, response: requests.Response) -> Entry:
    request_id = response.headers["x-request-id"]
    found = [e for e in log.search(limit=1000, after_seq=max(0, log.tip().seq - 999))
             if e.request_id == request_id]
    assert len(found) == 1, f"{len(found)} entries for request {request_id}"
    return found[0]


# --- the password --------------------------------------------------------------------


def test_a_changed_password_takes_effect_at_once(any_server: Server) -> None:
    name, old = new_user(any_server)
    assert signed_in(any_server, auth=(name, old)) == 200  # verified, now cached
    assert signed_in(any_server, auth=(name, old)) == 200
    r = post(any_server, "set-password", {"current_password": old, "new_password": NEW_PASSWORD},
             auth=(name, old))
    assert r.status_code == 200, r.text
    assert r.json() == {}
    assert signed_in(any_server, auth=(name, old)) == 401
    assert signed_in(any_server, auth=(name, NEW_PASSWORD)) == 200


def test_the_current_password_is_required_and_must_match(server: Server) -> None:
    name, old = new_user(server)
    wrong = post(server, "set-password",
                 {"current_password": "not my password at all", "new_password": NEW_PASSWORD},
                 auth=(name, old))
    assert wrong.status_code == 403
    assert wrong.json() == {"error_code": "PERMISSION_DENIED",
                            "message": "current_password: does not match"}
    missing = post(server, "set-password", {"new_password": NEW_PASSWORD}, auth=(name, old))
    assert missing.status_code == 400 and "current_password: required" in missing.json()["message"]
    short = post(server, "set-password", {"current_password": old, "new_password": "short"},
                 auth=(name, old))
    assert short.status_code == 400
    assert short.json()["message"] == "new_password: shorter than 12 characters"
    same = post(server, "set-password", {"current_password": old, "new_password": old},
                auth=(name, old))
    assert same.status_code == 400 and "new_password" in same.json()["message"]
    assert signed_in(server, auth=(name, old)) == 200  # nothing changed


def test_nobody_changes_another_users_password_here(server: Server) -> None:
    victim, victims_password = new_user(server)
    name, password = new_user(server)
    r = post(server, "set-password",
             {"name": victim, "current_password": password, "new_password": NEW_PASSWORD},
             auth=(name, password))
    assert r.status_code == 400 and r.json()["message"].startswith("name: ")
    # Not even an admin: the route acts on the caller only.
    assert server.auth is not None
    r = post(server, "set-password",
             {"name": victim, "current_password": server.auth[1], "new_password": NEW_PASSWORD},
             auth=server.auth)
    assert r.status_code == 400
    assert signed_in(server, auth=(victim, victims_password)) == 200
    assert signed_in(server, auth=(name, password)) == 200


def test_a_token_caller_changes_the_password_with_the_current_one(server: Server) -> None:
    name, old = new_user(server)
    token = post(server, "tokens/create", {}, auth=(name, old)).json()["token"]
    wrong = post(server, "set-password",
                 {"current_password": "a stolen token is not enough", "new_password": NEW_PASSWORD},
                 **bearer(token))
    assert wrong.status_code == 403
    r = post(server, "set-password", {"current_password": old, "new_password": NEW_PASSWORD},
             **bearer(token))
    assert r.status_code == 200, r.text
    assert signed_in(server, auth=(name, NEW_PASSWORD)) == 200


def test_tokens_keep_working_after_a_password_change(server: Server) -> None:
    name, old = new_user(server)
    token = post(server, "tokens/create", {}, auth=(name, old)).json()["token"]
    assert post(server, "set-password", {"current_password": old, "new_password": NEW_PASSWORD},
                auth=(name, old)).status_code == 200
    assert signed_in(server, **bearer(token)) == 200


def test_a_password_change_is_seen_by_every_worker(tmp_path: Path) -> None:
    # Each worker keeps its own cache of verified credentials; all of them must drop the
    # old password on the next request.
    server = start_compliance_server(tmp_path / "home", workers=3)
    try:
        name, old = new_user(server)
        # A new connection per request, so that the requests spread over the workers.
        assert {signed_in(server, auth=(name, old)) for _ in range(30)} == {200}
        r = post(server, "set-password",
                 {"current_password": old, "new_password": NEW_PASSWORD}, auth=(name, old))
        assert r.status_code == 200, r.text
        assert {signed_in(server, auth=(name, old)) for _ in range(30)} == {401}
        assert {signed_in(server, auth=(name, NEW_PASSWORD)) for _ in range(10)} == {200}
    finally:
        server.stop()


# --- tokens --------------------------------------------------------------------------


def test_a_user_creates_lists_and_revokes_their_own_tokens(any_server: Server) -> None:
    name, password = new_user(any_server)
    other, _ = new_user(any_server)
    assert any_server.auth is not None
    others = requests.post(f"{any_server.url}/api/2.0/compliance/tokens/create",
                           json={"name": other}, auth=any_server.auth, timeout=30)
    assert others.status_code == 200

    made = post(any_server, "tokens/create", {"expires_at": "2099-01-01T00:00:00+00:00"},
                auth=(name, password))
    assert made.status_code == 200, made.text
    token = made.json()
    assert token["user"] == name and token["token"].startswith("mlc_")
    assert token["expires_at"].startswith("2099-01-01")
    assert signed_in(any_server, **bearer(token["token"])) == 200

    listed = requests.get(f"{any_server.url}{ACCOUNT}tokens/list", auth=(name, password),
                          timeout=30)
    assert listed.status_code == 200
    tokens = listed.json()["tokens"]
    assert [t["id"] for t in tokens] == [token["id"]]  # only the caller's own
    assert "token" not in tokens[0]  # the secret is never listed

    revoked = post(any_server, "tokens/revoke", {"id": token["id"]}, auth=(name, password))
    assert revoked.status_code == 200, revoked.text
    assert signed_in(any_server, **bearer(token["token"])) == 401
    after = requests.get(f"{any_server.url}{ACCOUNT}tokens/list", auth=(name, password),
                         timeout=30).json()["tokens"]
    assert after[0]["revoked_at"]


def test_another_users_token_answers_like_a_missing_one(any_server: Server) -> None:
    owner, owners_password = new_user(any_server)
    name, password = new_user(any_server)
    theirs = post(any_server, "tokens/create", {}, auth=(owner, owners_password)).json()
    foreign = post(any_server, "tokens/revoke", {"id": theirs["id"]}, auth=(name, password))
    missing = post(any_server, "tokens/revoke", {"id": "0123456789abcdef"},
                   auth=(name, password))
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == {
        "error_code": "RESOURCE_DOES_NOT_EXIST",
        "message": f"token: {theirs['id']!r} does not exist or is already revoked",
    }
    assert missing.json()["message"].replace("0123456789abcdef", theirs["id"]) == \
        foreign.json()["message"]
    assert signed_in(any_server, **bearer(theirs["token"])) == 200  # still theirs, working
    # Nor does a name in the request reach anyone else's tokens.
    listed = requests.get(f"{any_server.url}{ACCOUNT}tokens/list", params={"name": owner},
                          auth=(name, password), timeout=30)
    assert listed.status_code == 400 and listed.json()["message"].startswith("name: ")
    made = post(any_server, "tokens/create", {"name": owner}, auth=(name, password))
    assert made.status_code == 400


def test_an_auditor_manages_its_own_tokens(server: Server) -> None:
    name, password = new_user(server, role="auditor")
    made = post(server, "tokens/create", {}, auth=(name, password))
    assert made.status_code == 200, made.text
    token = made.json()
    listed = requests.get(f"{server.url}{ACCOUNT}tokens/list", **bearer(token["token"]),
                          timeout=30)
    assert [t["id"] for t in listed.json()["tokens"]] == [token["id"]]
    assert post(server, "tokens/revoke", {"id": token["id"]},
                auth=(name, password)).status_code == 200
    assert post(server, "set-password", {"current_password": password,
                                         "new_password": NEW_PASSWORD},
                auth=(name, password)).status_code == 200


def test_account_routes_need_a_signed_in_caller(server: Server) -> None:
    for method, route, _ in ACCOUNT_ROUTES:
        r = requests.request(method, f"{server.url}{PREFIX}{route}", json={}, timeout=30)
        assert r.status_code == 401, route
    bad = post(server, "tokens/create", {}, auth=("nobody-here", "not a password at all"))
    assert bad.status_code == 401


def test_bad_token_expiry_names_the_field(server: Server) -> None:
    name, password = new_user(server)
    r = post(server, "tokens/create", {"expires_at": "next week"}, auth=(name, password))
    assert r.status_code == 400 and r.json()["message"].startswith("expires_at: ")


# --- the audit log -------------------------------------------------------------------


def test_every_self_service_request_is_audited_without_a_password(
    any_server: Server, log: AuditLog
) -> None:
    name, old = new_user(any_server)
    refused = post(any_server, "set-password",
                   {"current_password": "a wrong guess here", "new_password": NEW_PASSWORD},
                   auth=(name, old))
    changed = post(any_server, "set-password",
                   {"current_password": old, "new_password": NEW_PASSWORD}, auth=(name, old))
    made = post(any_server, "tokens/create", {}, auth=(name, NEW_PASSWORD))
    token_id = made.json()["id"]
    listed = requests.get(f"{any_server.url}{ACCOUNT}tokens/list", auth=(name, NEW_PASSWORD),
                          timeout=30)
    revoked = post(any_server, "tokens/revoke", {"id": token_id}, auth=(name, NEW_PASSWORD))

    seen = [(e.principal, e.action, e.status, json.loads(e.resources))
            for e in (entry_of(log, r) for r in (refused, changed, made, listed, revoked))]
    assert seen == [
        (name, "account.password.set", 403, {}),
        (name, "account.password.set", 200, {}),
        (name, "account.token.create", 200, {"id": token_id}),
        (name, "account.token.list", 200, {}),
        (name, "account.token.revoke", 200, {"id": token_id}),
    ]
    recent = log.search(principal=name, limit=1000)
    text = " ".join(f"{e.route} {e.resources}" for e in recent)
    for secret in (old, NEW_PASSWORD, "a wrong guess here", made.json()["token"]):
        assert secret not in text


def test_an_admin_created_token_is_named_in_the_audit_log(
    any_server: Server, log: AuditLog
) -> None:
    name, _ = new_user(any_server)
    r = requests.post(f"{any_server.url}/api/2.0/compliance/tokens/create",
                      json={"name": name}, auth=any_server.auth, timeout=30)
    assert r.status_code == 200
    assert json.loads(entry_of(log, r).resources) == {"name": name, "id": r.json()["id"]}


# --- the route table and the store ---------------------------------------------------


def test_account_routes_are_for_any_signed_in_caller_and_name_no_password() -> None:
    for method, route, _ in ACCOUNT_ROUTES:
        found = find(method, PREFIX + route)
        assert found is not None, route
        entry = found[0]
        assert entry.permission is Permission.AUTHENTICATED
        assert entry.action.startswith("account.")
        assert all(w.source is Source.JSON and "password" not in w.name for w in entry.where)


@pytest.fixture
def store(tmp_path: Path) -> IdentityStore:
    return IdentityStore.connect(f"sqlite:///{tmp_path / 'identities.db'}")


def test_a_single_sign_on_user_has_no_password_to_change(store: IdentityStore) -> None:
    store.create_user("sso-user", None)
    with pytest.raises(IdentityError, match="single sign-on"):
        store.change_password("sso-user", "anything at all", NEW_PASSWORD)


def test_a_password_change_bumps_the_credential_version(store: IdentityStore) -> None:
    before = store.create_user("changer", PASSWORD)
    with pytest.raises(WrongPassword):
        store.change_password("changer", NEW_PASSWORD, "a third long password")
    store.change_password("changer", PASSWORD, NEW_PASSWORD)
    after = store.user("changer")
    assert after.credential_version == before.credential_version + 1
    assert after.password_hash != before.password_hash


def test_revoking_with_an_owner_leaves_other_users_tokens(store: IdentityStore) -> None:
    store.create_user("owner", PASSWORD)
    store.create_user("someone", PASSWORD)
    token, plaintext = store.create_token("owner")
    with pytest.raises(IdentityError, match=re.escape(f"token: {token.id!r} does not exist")):
        store.revoke_token(token.id, owner="someone")
    assert store.user_for_token(plaintext) is not None
    store.revoke_token(token.id, owner="owner")
    assert store.user_for_token(plaintext) is None
