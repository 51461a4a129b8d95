"""Users, API tokens and grants, in the tracking database (SQLite or PostgreSQL).

Tables are prefixed ``compliance_`` and live beside MLflow's own, so one database holds
all state and every server replica sees the same identities. Passwords are stored as
Argon2id hashes; API tokens only as SHA-256 hashes (they are 256-bit random, so a fast
hash is enough and lookups stay O(1)).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from mlflow_compliance.identity.passwords import (
    hash_password,
    password_problem,
    verify_password,
)
from mlflow_compliance.identity.principal import Clearance, Role

metadata = sa.MetaData()

users = sa.Table(
    "compliance_users",
    metadata,
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("clearances", sa.String(200), nullable=False, default=""),
    sa.Column("password_hash", sa.String(200), nullable=True),
    # Bumped on every password change: cached Basic credentials of an older version die.
    sa.Column("credential_version", sa.Integer, nullable=False, default=1),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

tokens = sa.Table(
    "compliance_tokens",
    metadata,
    sa.Column("id", sa.String(16), primary_key=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column(
        "user_name", sa.String(255), sa.ForeignKey("compliance_users.name", ondelete="CASCADE"),
        nullable=False, index=True,
    ),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
)

grants = sa.Table(
    "compliance_grants",
    metadata,
    sa.Column(
        "user_name", sa.String(255), sa.ForeignKey("compliance_users.name", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("kind", sa.String(20), primary_key=True),  # experiment | registered_model
    sa.Column("target", sa.String(500), primary_key=True),  # experiment id or model name
    sa.Column("permission", sa.Integer, nullable=False),
)

# The lookups every request makes, as plain statements (no per-call query building).
_USER_BY_NAME = sa.text(
    "SELECT name, role, clearances, password_hash, credential_version "
    "FROM compliance_users WHERE name = :name"
)
_USER_BY_TOKEN = sa.text(
    "SELECT u.name, u.role, u.clearances, u.password_hash, u.credential_version, "
    "t.expires_at, t.revoked_at FROM compliance_tokens t "
    "JOIN compliance_users u ON u.name = t.user_name WHERE t.token_hash = :token_hash"
).columns(expires_at=sa.DateTime(timezone=True), revoked_at=sa.DateTime(timezone=True))
_GRANT_LEVELS = sa.text(
    "SELECT target, permission FROM compliance_grants "
    "WHERE user_name = :user_name AND kind = :kind AND target IN :targets"
).bindparams(sa.bindparam("targets", expanding=True))

TOKEN_PREFIX = "mlc_"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,254}$")


class Level(IntEnum):
    """A grant on one experiment or registered model."""

    READ = 1
    EDIT = 2
    MANAGE = 3


class GrantKind:
    EXPERIMENT = "experiment"
    REGISTERED_MODEL = "registered_model"
    ALL = (EXPERIMENT, REGISTERED_MODEL)


class IdentityError(ValueError):
    """A request to the identity store that cannot be done; names the field."""


class NotFound(IdentityError):
    pass


class WrongPassword(IdentityError):
    """The current password given to change a password does not match."""


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    clearances: frozenset[Clearance]
    credential_version: int
    password_hash: str | None = None


@dataclass(frozen=True)
class Token:
    id: str
    user_name: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything stored here is UTC.
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


def _user(row: sa.Row) -> User:
    clearances = frozenset(Clearance(c) for c in row.clearances.split(",") if c)
    return User(row.name, Role(row.role), clearances, row.credential_version, row.password_hash)


def parse_role(text: str) -> Role:
    try:
        return Role(text)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise IdentityError(f"role: {text!r} is not allowed; allowed: {allowed}") from None


def parse_clearances(items: Iterable[str]) -> frozenset[Clearance]:
    result = set()
    for item in items:
        try:
            result.add(Clearance(item))
        except ValueError:
            allowed = ", ".join(c.value for c in Clearance)
            raise IdentityError(
                f"clearance: {item!r} is not allowed; allowed: {allowed}"
            ) from None
    return frozenset(result)


def parse_level(text: str) -> Level:
    try:
        return Level[text.upper()]
    except KeyError:
        raise IdentityError(
            f"permission: {text!r} is not allowed; allowed: read, edit, manage"
        ) from None


class IdentityStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def connect(cls, uri: str) -> IdentityStore:
        # A liveness ping per checkout costs a round trip on every request; SQLite has no
        # connection to lose.
        engine = sa.create_engine(uri, pool_pre_ping=not uri.startswith("sqlite"))
        if engine.dialect.name == "sqlite":
            sa.event.listen(engine, "connect", _sqlite_foreign_keys)
        store = cls(engine)
        metadata.create_all(engine)
        return store

    # --- users ---------------------------------------------------------------------

    def create_user(
        self,
        name: str,
        password: str | None,
        role: Role = Role.USER,
        clearances: Iterable[Clearance] = (),
    ) -> User:
        if not _NAME.match(name):
            raise IdentityError(
                f"name: {name!r} is not allowed; use letters, digits and . _ @ - (max 255)"
            )
        if password is not None and (problem := password_problem(password)):
            raise IdentityError(problem)
        values = {
            "name": name,
            "role": role.value,
            "clearances": ",".join(sorted(c.value for c in clearances)),
            "password_hash": hash_password(password) if password is not None else None,
            "credential_version": 1,
            "created_at": _now(),
        }
        try:
            with self.engine.begin() as c:
                c.execute(users.insert().values(**values))
        except sa.exc.IntegrityError:
            raise IdentityError(f"name: user {name!r} already exists") from None
        return self.user(name)

    def user(self, name: str) -> User:
        found = self.find_user(name)
        if found is None:
            raise NotFound(f"user: {name!r} does not exist")
        return found

    def find_user(self, name: str) -> User | None:
        with self.engine.connect() as c:
            row = c.execute(_USER_BY_NAME, {"name": name}).first()
        return _user(row) if row else None

    def list_users(self) -> list[User]:
        with self.engine.connect() as c:
            return [_user(r) for r in c.execute(users.select().order_by(users.c.name))]

    def delete_user(self, name: str) -> None:
        with self.engine.begin() as c:
            c.execute(tokens.delete().where(tokens.c.user_name == name))
            c.execute(grants.delete().where(grants.c.user_name == name))
            if c.execute(users.delete().where(users.c.name == name)).rowcount == 0:
                raise NotFound(f"user: {name!r} does not exist")

    def set_password(self, name: str, password: str) -> None:
        if problem := password_problem(password):
            raise IdentityError(problem)
        with self.engine.begin() as c:
            done = c.execute(
                users.update()
                .where(users.c.name == name)
                .values(
                    password_hash=hash_password(password),
                    credential_version=users.c.credential_version + 1,
                )
            )
            if done.rowcount == 0:
                raise NotFound(f"user: {name!r} does not exist")

    def change_password(self, name: str, current: str, new: str) -> None:
        """A user's own change: only with the current password, and only if no other
        change came in between (the update is conditional on the hash just verified)."""
        if problem := password_problem(new, "new_password"):
            raise IdentityError(problem)
        user = self.user(name)
        if user.password_hash is None:
            raise IdentityError(
                f"current_password: {name} signs in through single sign-on and has no "
                "password here"
            )
        if not verify_password(user.password_hash, current):
            raise WrongPassword("current_password: does not match")
        if new == current:
            raise IdentityError("new_password: the same as the current password")
        with self.engine.begin() as c:
            done = c.execute(
                users.update()
                .where(users.c.name == name, users.c.password_hash == user.password_hash)
                .values(
                    password_hash=hash_password(new),
                    credential_version=users.c.credential_version + 1,
                )
            )
        if done.rowcount == 0:
            raise WrongPassword("current_password: changed meanwhile; try again")

    def has_admin(self) -> bool:
        with self.engine.connect() as c:
            return c.execute(
                sa.select(users.c.name).where(users.c.role == Role.ADMIN.value).limit(1)
            ).first() is not None

    # --- tokens --------------------------------------------------------------------

    def create_token(self, user_name: str, expires_at: datetime | None = None) -> tuple[Token, str]:
        """A new API token for the user; the plaintext is returned once, never stored."""
        self.user(user_name)
        plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token_id = secrets.token_hex(8)
        with self.engine.begin() as c:
            c.execute(
                tokens.insert().values(
                    id=token_id,
                    token_hash=token_hash(plaintext),
                    user_name=user_name,
                    created_at=_now(),
                    expires_at=expires_at,
                )
            )
        return self.token(token_id), plaintext

    def token(self, token_id: str) -> Token:
        with self.engine.connect() as c:
            row = c.execute(tokens.select().where(tokens.c.id == token_id)).first()
        if row is None:
            raise NotFound(f"token: {token_id!r} does not exist")
        return Token(row.id, row.user_name, _aware(row.created_at),  # type: ignore[arg-type]
                     _aware(row.expires_at), _aware(row.revoked_at))

    def list_tokens(self, user_name: str | None = None) -> list[Token]:
        query = tokens.select().order_by(tokens.c.created_at)
        if user_name is not None:
            query = query.where(tokens.c.user_name == user_name)
        with self.engine.connect() as c:
            return [
                Token(r.id, r.user_name, _aware(r.created_at),  # type: ignore[arg-type]
                      _aware(r.expires_at), _aware(r.revoked_at))
                for r in c.execute(query)
            ]

    def revoke_token(self, token_id: str, owner: str | None = None) -> None:
        """Revoke a live token; with ``owner``, only one of that user's: another user's
        token is refused exactly like a token that does not exist."""
        condition = [tokens.c.id == token_id, tokens.c.revoked_at.is_(None)]
        if owner is not None:
            condition.append(tokens.c.user_name == owner)
        with self.engine.begin() as c:
            done = c.execute(tokens.update().where(*condition).values(revoked_at=_now()))
        if done.rowcount == 0:
            raise NotFound(f"token: {token_id!r} does not exist or is already revoked")

    def user_for_token(self, plaintext: str) -> User | None:
        """The user a live (unexpired, unrevoked) token belongs to, else None."""
        with self.engine.connect() as c:
            row = c.execute(_USER_BY_TOKEN, {"token_hash": token_hash(plaintext)}).first()
        if row is None or row.revoked_at is not None:
            return None
        expires = _aware(row.expires_at)
        if expires is not None and expires <= _now():
            return None
        return _user(row)

    # --- grants --------------------------------------------------------------------

    def grant(self, user_name: str, kind: str, target: str, level: Level) -> None:
        self.user(user_name)
        if kind not in GrantKind.ALL:
            raise IdentityError(f"kind: {kind!r} is not allowed; allowed: experiment, model")
        with self.engine.begin() as c:
            c.execute(
                grants.delete().where(
                    grants.c.user_name == user_name,
                    grants.c.kind == kind,
                    grants.c.target == target,
                )
            )
            c.execute(
                grants.insert().values(
                    user_name=user_name, kind=kind, target=target, permission=int(level)
                )
            )

    def revoke(self, user_name: str, kind: str, target: str) -> None:
        with self.engine.begin() as c:
            done = c.execute(
                grants.delete().where(
                    grants.c.user_name == user_name,
                    grants.c.kind == kind,
                    grants.c.target == target,
                )
            )
        if done.rowcount == 0:
            raise NotFound(f"grant: {user_name!r} has no grant on {kind} {target!r}")

    def forget_target(self, kind: str, target: str) -> None:
        """Every grant on this experiment or model ends: it was deleted, or a new object
        now carries its name (grants bind to the object, not to a reused name)."""
        with self.engine.begin() as c:
            c.execute(grants.delete().where(grants.c.kind == kind, grants.c.target == target))

    def move_target(self, kind: str, old: str, new: str) -> None:
        """Grants follow a renamed model to its new name."""
        with self.engine.begin() as c:
            c.execute(grants.delete().where(grants.c.kind == kind, grants.c.target == new))
            c.execute(
                grants.update()
                .where(grants.c.kind == kind, grants.c.target == old)
                .values(target=new)
            )

    def list_grants(self, user_name: str | None = None) -> list[tuple[str, str, str, Level]]:
        """(user, kind, target, level) of every grant, or of one user's, sorted."""
        query = grants.select().order_by(grants.c.user_name, grants.c.kind, grants.c.target)
        if user_name is not None:
            query = query.where(grants.c.user_name == user_name)
        with self.engine.connect() as c:
            return [(r.user_name, r.kind, r.target, Level(r.permission))
                    for r in c.execute(query)]

    def grants_of(self, user_name: str) -> dict[tuple[str, str], Level]:
        with self.engine.connect() as c:
            rows = c.execute(grants.select().where(grants.c.user_name == user_name))
            return {(r.kind, r.target): Level(r.permission) for r in rows}

    def level(self, user_name: str, kind: str, targets: Iterable[str]) -> dict[str, Level]:
        """The user's grant on each of these experiments or models (absent: none)."""
        wanted = list(set(targets))
        if not wanted:
            return {}
        with self.engine.connect() as c:
            rows = c.execute(
                _GRANT_LEVELS, {"user_name": user_name, "kind": kind, "targets": wanted}
            )
            return {r.target: Level(r.permission) for r in rows}

    def readable(self, user_name: str, kind: str) -> set[str]:
        """Every experiment id (or model name) the user holds any grant on."""
        with self.engine.connect() as c:
            rows = c.execute(
                sa.select(grants.c.target).where(
                    grants.c.user_name == user_name, grants.c.kind == kind
                )
            )
            return {r.target for r in rows}


def _sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
