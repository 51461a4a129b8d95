"""``account``: your own password and API tokens, on a running server (every user).

Who "you" are comes from MLflow's client variables, as for every remote command; the
server acts on that identity only, never on a name given here.
"""

from __future__ import annotations

import click
from rich.console import Console

from mlflow_compliance.cli.access import EXPIRES, expiry, print_new_token, show_tokens
from mlflow_compliance.cli.options import list_format
from mlflow_compliance.cli.remote import call

console = Console()


@click.group()
def account() -> None:
    """Your own account: change your password, manage your own API tokens."""


@account.command("password")
def password() -> None:
    """Change your password: asks for the current one, then the new one twice (hidden).

    Sessions and clients using the old password stop working at once; your API tokens
    keep working until you revoke them.
    """
    current = click.prompt("Current password", hide_input=True, err=True)
    new = click.prompt("New password", hide_input=True, confirmation_prompt=True, err=True)
    call("POST", "account/set-password", {"current_password": current, "new_password": new})
    console.print("password changed; update MLFLOW_TRACKING_PASSWORD where you use it")


@account.group("tokens")
def tokens() -> None:
    """Your own API tokens (MLFLOW_TRACKING_TOKEN)."""


@tokens.command("create")
@EXPIRES
def create_token(days: int | None) -> None:
    """Create a token for yourself; the token is the last line (shown only now)."""
    print_new_token(call("POST", "account/tokens/create", {"expires_at": expiry(days)}))


@tokens.command("list")
@list_format
def list_tokens(form: str) -> None:
    """List your tokens (not their secrets)."""
    show_tokens(form, call("GET", "account/tokens/list"))


@tokens.command("revoke")
@click.argument("token_id")
def revoke_token(token_id: str) -> None:
    """Revoke one of your tokens at once."""
    call("POST", "account/tokens/revoke", {"id": token_id})
    console.print(f"token {token_id} revoked")
