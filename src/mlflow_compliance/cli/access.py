"""``users``, ``grants`` and ``tokens``: access control on a running server (admins)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import click
from rich.console import Console

from mlflow_compliance.cli.errors import InputError
from mlflow_compliance.cli.options import list_format, show
from mlflow_compliance.cli.remote import call

console = Console()


@click.group()
def users() -> None:
    """Users of the compliance server (admin only)."""


@users.command("create")
@click.argument("name")
@click.option("--password", help="At least 12 characters (not with --sso).")
@click.option("--sso", is_flag=True, help="Signs in only through OIDC single sign-on.")
@click.option("--role", type=click.Choice(["user", "auditor", "privacy", "admin"]), default="user",
              show_default=True)
@click.option("--clearance", "clearances", multiple=True,
              type=click.Choice(["personal-data", "approver"]),
              help="personal-data: may see runs whose record declares personal data; "
              "approver: may sign off model versions (mlflow-compliance signoffs add).")
def create_user(
    name: str, password: str | None, sso: bool, role: str, clearances: tuple[str, ...]
) -> None:
    """Create a user: with a password, or for OIDC single sign-on (--sso)."""
    if (password is None) != sso:
        raise InputError("--password / --sso: give exactly one")
    body = {"name": name, "password": password, "sso": sso, "role": role,
            "clearances": list(clearances)}
    user = call("POST", "users/create", body)["user"]
    console.print(f"created user {user['name']} ({user['role']})")


@users.command("list")
@list_format
def list_users(form: str) -> None:
    """List users, their roles and clearances."""
    answer = call("GET", "users/list")
    show(form, answer, ["name", "role", "clearances"], lambda: (
        [u["name"], u["role"], ", ".join(u["clearances"])] for u in answer["users"]))


@users.command("delete")
@click.argument("name")
def delete_user(name: str) -> None:
    """Delete a user, their grants and their tokens."""
    call("POST", "users/delete", {"name": name})
    console.print(f"deleted user {name}")


@users.command("set-password")
@click.argument("name")
@click.option("--password", prompt="New password", hide_input=True, confirmation_prompt=True,
              help="At least 12 characters [default: asked, hidden, twice].")
def set_password(name: str, password: str) -> None:
    """Set a user's password; sessions using the old one stop working at once."""
    call("POST", "users/set-password", {"name": name, "password": password})
    console.print(f"password of {name} changed")


@click.group()
def grants() -> None:
    """Grants of read, edit or manage on experiments and registered models (admin only)."""


def _target(experiment: str | None, model: str | None) -> tuple[str, str]:
    if (experiment is None) == (model is None):
        raise InputError("--experiment / --model: give exactly one")
    return ("experiment", experiment) if experiment is not None else ("model", model or "")


@grants.command("add")
@click.argument("name")
@click.option("--experiment", help="Experiment id.")
@click.option("--model", help="Registered model name.")
@click.option("--permission", required=True, type=click.Choice(["read", "edit", "manage"]))
def add_grant(name: str, experiment: str | None, model: str | None, permission: str) -> None:
    """Grant a user read, edit or manage on an experiment or registered model."""
    kind, target = _target(experiment, model)
    call("POST", "grants/set", {"name": name, "kind": kind, "target": target,
                                "permission": permission})
    console.print(f"{name} may {permission} {kind} {target}")


@grants.command("remove")
@click.argument("name")
@click.option("--experiment", help="Experiment id.")
@click.option("--model", help="Registered model name.")
def remove_grant(name: str, experiment: str | None, model: str | None) -> None:
    """Take a user's grant on an experiment or registered model away."""
    kind, target = _target(experiment, model)
    call("POST", "grants/delete", {"name": name, "kind": kind, "target": target})
    console.print(f"{name} no longer has a grant on {kind} {target}")


@grants.command("list")
@click.argument("name", required=False)
@list_format
def list_grants(name: str | None, form: str) -> None:
    """List the grants of one user, or of every user."""
    answer = call("GET", "grants/list", {"name": name} if name else None)
    show(form, answer, ["user", "kind", "target", "permission"], lambda: (
        [g["user"], g["kind"], g["target"], g["permission"]] for g in answer["grants"]))


@click.group()
def tokens() -> None:
    """API tokens of any user (MLFLOW_TRACKING_TOKEN), stored only as hashes (admin only;
    your own: mlflow-compliance account tokens)."""


def expiry(days: int | None) -> str | None:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat() if days else None


EXPIRES = click.option("--expires", "days", type=click.IntRange(1, 3650),
                       help="Days until it expires [default: never].")


def print_new_token(made: dict[str, Any]) -> None:
    """The token's id and expiry, then the token itself as the last line (shown only now)."""
    console.print(f"token {made['id']} for {made['user']}, expires "
                  f"{made['expires_at'] or 'never'}:", highlight=False)
    click.echo(made["token"])


def show_tokens(form: str, answer: dict[str, Any]) -> None:
    show(form, answer, ["id", "user", "created", "expires", "revoked"], lambda: (
        [t["id"], t["user"], t["created_at"], t["expires_at"] or "never", t["revoked_at"] or ""]
        for t in answer["tokens"]))


@tokens.command("create")
@click.argument("name")
@EXPIRES
def create_token(name: str, days: int | None) -> None:
    """Create a token for a user; the token is the last line (shown only now)."""
    print_new_token(call("POST", "tokens/create", {"name": name, "expires_at": expiry(days)}))


@tokens.command("list")
@click.argument("name", required=False)
@list_format
def list_tokens(name: str | None, form: str) -> None:
    """List tokens (not their secrets), of one user or of every user."""
    show_tokens(form, call("GET", "tokens/list", {"name": name} if name else None))


@tokens.command("revoke")
@click.argument("token_id")
def revoke_token(token_id: str) -> None:
    """Revoke a token at once."""
    call("POST", "tokens/revoke", {"id": token_id})
    console.print(f"token {token_id} revoked")
