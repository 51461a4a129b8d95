"""``subjects erase`` (GDPR Art. 17) and ``subjects certificate verify|get``.

``erase ID --request REQUEST_ID`` is a dry run by default: it prints what would be done
(the datasets and files, what a legal hold withholds and on what ground, the model
versions that would be flagged, the limits). ``--yes`` erases, with a spinner while the
server works, and writes the signed certificate (mode 0600). The id is never printed:
output says "the subject". ``certificate verify FILE`` checks a certificate's signature
with the server's public key, offline: exit 0 valid, 1 invalid (naming what), 2 bad input.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from mlflow_compliance.cli.errors import InputError
from mlflow_compliance.cli.remote import call
from mlflow_compliance.cli.trusted_keys import HOME, PUBLIC_KEY, trusted_keys
from mlflow_compliance.subjects.erasure.certificate import problem

err = Console(stderr=True)


def _read_subject(subject_id: str) -> str:
    if subject_id == "-":  # from standard input: stays out of the shell history
        subject_id = sys.stdin.readline()
    if not subject_id.strip():
        raise InputError("ID: empty; give the subject id, or - to read it from standard input")
    return subject_id


def _write_private(path: str, data: dict[str, Any]) -> None:
    """The certificate, created 0600 (it names runs and datasets of a person)."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "w") as file:
            json.dump(data, file, indent=2, sort_keys=True)
            file.write("\n")
    except OSError as e:
        raise InputError(f"--output: cannot write {path} ({e.strerror})") from None


def _print_plan(plan: dict[str, Any]) -> None:
    console = Console()
    if not plan["places"] and not plan["withheld"]:
        click.echo("the subject appears in no indexed dataset: nothing to erase")
        return
    places = Table("run", "experiment", "dataset", "id columns", "files",
                   title="Would be erased (GDPR Art. 17(1))")
    for p in plan["places"]:
        places.add_row(p["run_id"], p["experiment_id"], p["dataset_name"],
                       ", ".join(p["columns"]), str(len(p["files"])))
    console.print(places)
    if plan["withheld"]:
        held = Table("run", "dataset", "legal hold", "ground", "reason",
                     title="Withheld (GDPR Art. 17(3))")
        for w in plan["withheld"]:
            held.add_row(w["run_id"], w["dataset_name"], w["hold_id"], w["ground"],
                         w["reason"])
        console.print(held)
    versions = ", ".join(plan["versions_to_flag"]) or "none"
    click.echo(f"model versions to flag as trained on erased data: {versions}")
    for limit in plan["limits"]:
        click.echo(f"limit: {limit}")
    click.echo("dry run: nothing was changed; --yes erases")


def _print_done(certificate: dict[str, Any], path: str) -> None:
    places = certificate["places"]
    files = sum(len(p["files"]) for p in places)
    rows = sum(p["rows_removed"] for p in places)
    keys = sum(len(p["shredded_keys"]) for p in places)
    click.echo(f"erased: {rows} rows of the subject removed from {len(places)} datasets "
               f"({files} files rewritten, {keys} data keys shredded), "
               f"{len(certificate['records_redacted'])} records redacted, "
               f"{len(certificate['versions_flagged'])} model versions flagged")
    for w in certificate["withheld"]:
        click.echo(f"withheld: dataset {w['dataset_name']} of run {w['run_id']}: legal hold "
                   f"{w['hold_id']} ({w['ground']})")
    for limit in certificate["limits"]:
        click.echo(f"limit: {limit}")
    click.echo(f"certificate {certificate['id']} written to {path}")


@click.command("erase")
@click.argument("subject_id", metavar="ID")
@click.option("--request", "request_id", required=True,
              help="The erasure request of the register (subjects requests add erasure ...).")
@click.option("--yes", is_flag=True, help="Erase; without it, only show what would be done.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True),
              help="Where to write the signed certificate [default: "
              "erasure-certificate-<id>.json].")
def erase(subject_id: str, request_id: str, yes: bool, output: str | None) -> None:
    """Erase a data subject from every dataset, run and model (GDPR Art. 17).

    ID is the person's id as it is in the data; - reads it from standard input.
    """
    body = {"subject_id": _read_subject(subject_id), "request_id": request_id,
            "dry_run": not yes}
    if not yes:
        _print_plan(call("POST", "subjects/erase", body)["plan"])
        return
    with err.status("erasing the subject: rewriting datasets, shredding keys ..."):
        certificate = call("POST", "subjects/erase", body)["certificate"]
    path = output or f"erasure-certificate-{certificate['id']}.json"
    _write_private(path, certificate)
    _print_done(certificate, path)


@click.group("certificate")
def certificate() -> None:
    """Erasure certificates: fetch one, verify one's signature."""


@certificate.command("verify")
@click.argument("path", metavar="FILE", type=click.Path(dir_okay=False))
@HOME
@PUBLIC_KEY
def verify(path: str, home: str | None, public_key: str | None) -> None:
    """Check an erasure certificate's signature: exit 0 valid, 1 invalid."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise InputError(f"FILE: cannot read {path} ({e.strerror})") from None
    except ValueError:
        raise InputError(f"FILE: {path} is not JSON") from None
    if not isinstance(document, dict):
        raise InputError(f"FILE: {path} is not a JSON object")
    found = problem(document, trusted_keys(home, public_key))
    if found:
        click.echo(f"INVALID: {found}")
        sys.exit(1)
    click.echo(f"valid: erasure certificate {document.get('id')} of request "
               f"{document.get('request_id')}, signed by key {document['signature']['key_id']}")


@certificate.command("get")
@click.argument("certificate_id", metavar="ID")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True),
              help="Where to write it [default: erasure-certificate-<id>.json].")
def get(certificate_id: str, output: str | None) -> None:
    """Fetch a stored erasure certificate from the server."""
    found = call("GET", "subjects/certificates/get", {"id": certificate_id})["certificate"]
    path = output or f"erasure-certificate-{found['id']}.json"
    _write_private(path, found)
    click.echo(f"certificate {found['id']} written to {path}")
