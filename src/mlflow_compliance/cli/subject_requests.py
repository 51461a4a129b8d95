"""``mlflow-compliance subjects requests``: the register of data subjects' requests.

``add`` records a request of GDPR Art. 15 (access), 16 (rectification), 17 (erasure),
18 (restriction) or 21 (objection); ``update`` changes its status (an extension under
Art. 12(3) and a refusal under Art. 12(4) need ``--reason``); ``list`` shows the
register with the days left. The subject's id is sent once, to compute its pseudonym,
and never printed. Exit codes: 0 done, 1 a request is overdue (``list``: a finding), 2
bad usage, a refusal or an unreachable server.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from mlflow_compliance.cli.errors import InputError
from mlflow_compliance.cli.remote import call
from mlflow_compliance.subjects.deadline import MAX_EXTENSION_MONTHS
from mlflow_compliance.subjects.requests import KINDS, STATUSES


def _read_subject(subject_id: str) -> str:
    if subject_id == "-":  # from standard input: stays out of the shell history
        subject_id = sys.stdin.readline()
    if not subject_id.strip():
        raise InputError("ID: empty; give the subject id, or - to read it from standard input")
    return subject_id


def _received(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise InputError(f"--received: {value!r} is not a date (YYYY-MM-DD)") from None


def _show(request: dict[str, Any]) -> None:
    due = request["deadline"]
    left = request["days_left"]
    state = (f"overdue by {-left} days" if request["overdue"]
             else f"{left} days left" if request["status"] in ("received", "in_progress",
                                                               "extended") else "closed")
    click.echo(f"request {request['id']}: {request['kind']} ({request['article']}), "
               f"{request['status']}, due {due} ({state})")


@click.group("requests")
def requests_group() -> None:
    """The request register: received, due in one month, status, who (GDPR Art. 12(3))."""


@requests_group.command("add")
@click.argument("kind", metavar="KIND", type=click.Choice(list(KINDS)))
@click.argument("subject_id", metavar="ID")
@click.option("--received", help="The day the request was received (YYYY-MM-DD) "
              "[default: today].")
@click.option("--note", help="A note for whoever handles it (no one's id).")
def add(kind: str, subject_id: str, received: str | None, note: str | None) -> None:
    """Record a data subject's request of KIND: access (Art. 15), rectification (Art. 16),
    erasure (Art. 17), restriction (Art. 18) or objection (Art. 21).

    ID is the person's id as it is in the data; - reads it from standard input. Only
    its pseudonym is recorded.
    """
    body: dict[str, Any] = {"kind": kind, "subject_id": _read_subject(subject_id)}
    if received is not None:
        body["received_on"] = _received(received)
    if note is not None:
        body["note"] = note
    _show(call("POST", "subjects/requests/create", body)["request"])


@requests_group.command("update")
@click.argument("request_id")
@click.option("--status", required=True, type=click.Choice(list(STATUSES)),
              help="The new status.")
@click.option("--reason", help="Why: needed to extend (Art. 12(3)) or refuse (Art. 12(4)).")
@click.option("--extend-months", type=click.IntRange(1, MAX_EXTENSION_MONTHS),
              help="With --status extended: further months (at most 2 in all).")
def update(request_id: str, status: str, reason: str | None,
           extend_months: int | None) -> None:
    """Change the status of request REQUEST_ID."""
    if status == "extended" and extend_months is None:
        raise InputError("--extend-months: required with --status extended")
    if extend_months is not None and status != "extended":
        raise InputError("--extend-months: only with --status extended")
    if status in ("extended", "refused") and not (reason and reason.strip()):
        raise InputError(f"--reason: required with --status {status}")
    body: dict[str, Any] = {"id": request_id, "status": status}
    if reason is not None:
        body["reason"] = reason
    if extend_months is not None:
        body["extend_months"] = extend_months
    _show(call("POST", "subjects/requests/update", body)["request"])


@requests_group.command("list")
@click.option("--status", type=click.Choice(list(STATUSES)), help="Only requests of it.")
@click.option("--overdue", is_flag=True, help="Only open requests past their deadline.")
@click.option("--format", "form", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
def list_requests(status: str | None, overdue: bool, form: str) -> None:
    """The register, earliest deadline first; exit 1 if a request is overdue."""
    query: dict[str, Any] = {"overdue": "true" if overdue else "false"}
    if status:
        query["status"] = status
    found: list[dict[str, Any]] = call("GET", "subjects/requests/list", query)["requests"]
    if form == "json":
        click.echo(json.dumps({"requests": found}, indent=2))
    elif not found:
        click.echo("no requests")
    else:
        table = Table("id", "kind", "received", "deadline", "days left", "status",
                      "handled by", "reason", title="Data subjects' requests")
        for r in found:
            left = f"OVERDUE {-r['days_left']}" if r["overdue"] else str(r["days_left"])
            table.add_row(r["id"], f"{r['kind']} ({r['article']})", r["received_on"],
                          r["deadline"], left, r["status"], r["handled_by"],
                          r["reason"] or "")
        Console().print(table)
    if any(r["overdue"] for r in found):
        sys.exit(1)
