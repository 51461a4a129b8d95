"""``signoffs add|list``: four-eyes sign-offs of model versions for production
(AI Act Art. 17(1)(b)-(d), Annex IV 2(g)).

A sign-off needs the approver clearance and read access to the model, and the approver
may be neither the creator of the version's source run nor its registrar; the server
checks the version against the promotion gate's rules, signs the sign-off with the
evidence it saw (record, metrics, the SHA-256 of the model files) and logs it.
"""

from __future__ import annotations

import click

from mlflow_compliance.cli.errors import InputError
from mlflow_compliance.cli.options import list_format, show
from mlflow_compliance.cli.remote import call


@click.group()
def signoffs() -> None:
    """Sign-offs of model versions for production (the promotion gate)."""


@signoffs.command("add")
@click.argument("model")
@click.argument("version")
@click.option("--note", required=True, help="Why this version may go to production.")
def add(model: str, version: str, note: str) -> None:
    """Sign off MODEL VERSION for production (approver clearance; not your own run or
    version): who, when, the note, the rule results and the evidence now are kept,
    signed, and logged."""
    if not note.strip():
        raise InputError("--note: empty; say why this version may go to production")
    result = call("POST", "model-versions/approve",
                  {"name": model, "version": version, "note": note})
    approval = result["approval"]
    click.echo(f"approved {model} v{version} by {approval['approver']} at "
               f"{approval['approved_at']} (sign-off {approval['id']})")


@signoffs.command("list")
@click.argument("model")
@click.argument("version")
@list_format
def list_signoffs(model: str, version: str, form: str) -> None:
    """List the sign-offs of MODEL VERSION, and whether each signature verifies."""
    answer = call("GET", "model-versions/approvals", {"name": model, "version": version})
    show(form, answer, ["id", "approver", "approved", "signature", "note"], lambda: (
        [a["id"], a["approver"], a["approved_at"],
         "valid" if a["signature_valid"] else "INVALID", a["note"]]
        for a in answer["approvals"]))

