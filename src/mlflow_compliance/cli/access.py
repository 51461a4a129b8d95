"""``users``, ``grant``, ``revoke`` and ``tokens``: access control on a running server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click
from rich.console import Console
from rich.table import Table

from mlflow_compliance.cli.errors import InputError
from mlflow_compliance.cli.remote import call

console = Console()


@click.group()
def users() -> None:
    """Users of the compliance server (admin only)."""


@users.command("create")
@click.argument("name")
@click.option("--password", help="At least 12 characters (not with --sso).")
@click.option("--sso", is_flag=True, help="Signs in only through OIDC single sign-on.")
@click.option("--role", type=click.Choice(["user", "auditor", "admin"]), default="user",
              show_default=True)
@click.option("--clearance", "clearances", multiple=True,
              type=click.Choice(["personal-data", "approver"]),
              help="personal-data: may see runs whose record declares personal data; "
              "approver: may sign off model versions (mlflow-compliance approve).")
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
def list_users() -> None:
    """List users, their roles and clearances."""
    table = Table("name", "role", "clearances")
    for u in call("GET", "users/list")["users"]:
        table.add_row(u["name"], u["role"], ", ".join(u["clearances"]))
    console.print(table)


@users.command("delete")
@click.argument("name")
def delete_user(name: str) -> None:
    """Delete a user, their grants and their tokens."""
    call("POST", "users/delete", {"name": name})
    console.print(f"deleted user {name}")


@users.command("set-password")
@click.argument("name")
@click.option("--password", required=True)
def set_password(name: str, password: str) -> None:
    """Change a password; sessions using the old one stop working at once."""
    call("POST", "users/set-password", {"name": name, "password": password})
    console.print(f"password of {name} changed")


def _target(experiment: str | None, model: str | None) -> tuple[str, str]:
    if (experiment is None) == (model is None):
        raise InputError("--experiment / --model: give exactly one")
    return ("experiment", experiment) if experiment is not None else ("model", model or "")


@click.command()
@click.argument("name")
@click.option("--experiment", help="Experiment id.")
@click.option("--model", help="Registered model name.")
@click.option("--permission", required=True, type=click.Choice(["read", "edit", "manage"]))
def grant(name: str, experiment: str | None, model: str | None, permission: str) -> None:
    """Grant a user read, edit or manage on an experiment or registered model."""
    kind, target = _target(experiment, model)
    call("POST", "grants/set", {"name": name, "kind": kind, "target": target,
                                "permission": permission})
    console.print(f"{name} may {permission} {kind} {target}")


@click.command()
@click.argument("name")
@click.option("--experiment", help="Experiment id.")
@click.option("--model", help="Registered model name.")
def revoke(name: str, experiment: str | None, model: str | None) -> None:
    """Take a user's grant on an experiment or registered model away."""
    kind, target = _target(experiment, model)
    call("POST", "grants/delete", {"name": name, "kind": kind, "target": target})
    console.print(f"{name} no longer has a grant on {kind} {target}")


@click.group()
def tokens() -> None:
    """API tokens (MLFLOW_TRACKING_TOKEN), stored only as hashes."""


def _expiry(days: int | None) -> str | None:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat() if days else None


@tokens.command("create")
@click.argument("name")
@click.option("--expires", "days", type=click.IntRange(1, 3650), help="Days until it expires.")
def create_token(name: str, days: int | None) -> None:
    """Create a token for a user; the token is the last line (shown only now)."""
    made = call("POST", "tokens/create", {"name": name, "expires_at": _expiry(days)})
    console.print(f"token {made['id']} for {name}, expires {made['expires_at'] or 'never'}:",
                  highlight=False)
    click.echo(made["token"])


@tokens.command("list")
@click.argument("name", required=False)
def list_tokens(name: str | None) -> None:
    """List tokens (not their secrets)."""
    table = Table("id", "user", "created", "expires", "revoked")
    for t in call("GET", "tokens/list", {"name": name} if name else None)["tokens"]:
        table.add_row(t["id"], t["user"], t["created_at"], t["expires_at"] or "never",
                      t["revoked_at"] or "")
    console.print(table)


@tokens.command("revoke")
@click.argument("token_id")
def revoke_token(token_id: str) -> None:
    """Revoke a token at once."""
    call("POST", "tokens/revoke", {"id": token_id})
    console.print(f"token {token_id} revoked")
