"""``mlflow-compliance retention holds``: the register of legal holds (GDPR Art. 17(3)(e)).

``add`` holds an experiment, a run or a registered model for legal claims (or another
Art. 17(3) ground, ``--ground``): while held, neither ``retention apply`` nor an erasure
touches it. ``release`` ends a hold, with a reason; the hold stays in the register.
``list`` shows the active holds (``--all``: released ones too). Admins and the privacy
role. Exit codes: 0 done, 2 bad usage, a refusal or an unreachable server.
"""

from __future__ import annotations

import json
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from mlflow_compliance.cli.errors import InputError
from mlflow_compliance.cli.remote import PREFIX, call, fetch, host_creds, tracking_uri
from mlflow_compliance.retention.holds import ART_17_3_E, GROUNDS, KINDS, Hold, hold_from_dict


def readable_holds() -> list[Hold] | None:
    """The active holds, or None when the caller may not read the register (a plain
    user); for ``retention status``."""
    status, data = fetch(host_creds(tracking_uri()), "GET", PREFIX + "retention/holds/list")
    if status in (401, 403):
        return None
    if status != 200:
        raise InputError(str(data.get("message") or f"server answered HTTP {status}")
                         .splitlines()[0])
    return [hold_from_dict(h) for h in data.get("holds", [])]


def _show(hold: dict[str, Any], verb: str) -> None:
    click.echo(f"legal hold {hold['id']} {verb}: {hold['kind'].replace('_', ' ')} "
               f"{hold['target']} ({hold['ground']})")


@click.group("holds")
def holds() -> None:
    """Legal holds: what is kept for legal claims (GDPR Art. 17(3)(e))."""


@holds.command("add")
@click.argument("kind", metavar="KIND", type=click.Choice(list(KINDS)))
@click.argument("target", metavar="TARGET")
@click.option("--reason", required=True,
              help="Why it is held: a statement of at least 20 characters and 3 words.")
@click.option("--ground", type=click.Choice(list(GROUNDS)), default=ART_17_3_E,
              show_default=True, help="The GDPR Art. 17(3) ground erasure yields to.")
def add(kind: str, target: str, reason: str, ground: str) -> None:
    """Hold TARGET (an experiment id, a run id or a registered model name, by KIND)."""
    answer = call("POST", "retention/holds/create",
                  {"kind": kind, "target": target, "reason": reason, "ground": ground})
    _show(answer["hold"], "placed")


@holds.command("release")
@click.argument("hold_id", metavar="ID")
@click.option("--reason", required=True,
              help="Why it ends: a statement of at least 20 characters and 3 words.")
def release(hold_id: str, reason: str) -> None:
    """Release the hold ID; it stays in the register, with who released it and why."""
    answer = call("POST", "retention/holds/release", {"id": hold_id, "reason": reason})
    _show(answer["hold"], "released")


@holds.command("list")
@click.option("--all", "every", is_flag=True, help="Released holds too.")
@click.option("--format", "form", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
def list_command(every: bool, form: str) -> None:
    """The legal holds, oldest first."""
    found = call("GET", "retention/holds/list", {"all": "true" if every else "false"})["holds"]
    if form == "json":
        click.echo(json.dumps({"holds": found}, indent=2))
        return
    table = Table("id", "kind", "target", "ground", "placed", "by", "released", "reason")
    for h in found:
        released = f"{h['released_at']} by {h['released_by']}" if h["released_at"] else "-"
        table.add_row(h["id"], h["kind"], h["target"], h["ground"], h["created_at"],
                      h["created_by"], released, h["reason"])
    Console().print(table)
