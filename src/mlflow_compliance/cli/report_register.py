"""``mlflow-compliance report processing-register``: the GDPR Art. 30(1) record of
processing activities over every run the caller may read, one activity per purpose.

The server and the caller come from MLflow's own variables, so the register holds what
the caller may read (personal-data runs need the need-to-know clearance); the security
measures (Art. 30(1)(g)) come from the server's own server-info. JSON (the default, on
standard output), CSV or ODS with the columns of the CNIL's register template; an ODS
needs ``-o FILE``. A file written is created 0600 (it holds contact details), whole or
not at all. Exit codes: 0 written (gaps are in the register, not a failure), 2 bad
usage or an unreachable server.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path

import click
from mlflow.tracking import MlflowClient
from rich.console import Console

from mlflow_compliance.checks.model import ServerFacts
from mlflow_compliance.cli.check import server_facts
from mlflow_compliance.cli.errors import InputError
from mlflow_compliance.cli.fetching import fetching
from mlflow_compliance.cli.remote import tracking_uri
from mlflow_compliance.reports.processing_register import Register, collect
from mlflow_compliance.reports.register_sheet import to_csv, to_json, to_ods

FORMATS = ("json", "csv", "ods")
err = Console(stderr=True)


def _read(uri: str, experiments: tuple[str, ...], facts: ServerFacts) -> Register:
    client = MlflowClient(tracking_uri=uri)
    with fetching(uri) as fetched:
        return collect(client, experiments, facts, fetched)


def write_private(path: Path, content: bytes) -> None:
    """Write ``path`` whole, 0600, through a private temp file renamed into place."""
    try:
        descriptor, staging = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    except OSError as e:
        raise InputError(f"-o: {path} cannot be written ({e.strerror})") from None
    try:
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(content)
        os.replace(staging, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(staging)
        raise


@click.command("processing-register",
               short_help="The record of processing activities (GDPR Art. 30(1)), server-wide.")
@click.option("--format", "form", type=click.Choice(FORMATS), default="json",
              show_default=True, help="JSON, or CSV / ODS with the CNIL template's columns.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="File to write (created 0600) [default: standard output; ods needs one].")
@click.option("--experiment", "experiments", multiple=True,
              help="Only this experiment (id); repeat for more [default: every readable one].")
def processing_register(form: str, output: Path | None,
                        experiments: tuple[str, ...]) -> None:
    """The GDPR Art. 30(1) record of processing activities: one per purpose."""
    if form == "ods" and output is None:
        raise InputError("-o: required with --format ods (a spreadsheet is not written to "
                         "standard output)")
    if output is not None and not output.parent.is_dir():
        raise InputError(f"-o: {output.parent} is not a folder")
    uri = tracking_uri()
    facts = server_facts(uri)
    register = _read(uri, experiments, facts)
    content = (to_ods(register) if form == "ods"
               else (to_csv(register) if form == "csv" else to_json(register)).encode())
    if output is None:
        sys.stdout.flush()
        sys.stdout.buffer.write(content)
        sys.stdout.buffer.flush()
    else:
        write_private(output, content)
    gaps = sum(len(a.gaps) for a in register.activities) + len(register.security.gaps())
    conflicts = sum(len(a.conflicts) for a in register.activities)
    err.print(f"register: {len(register.activities)} processing activities from "
              f"{register.runs_with_personal_data} runs with personal data (of "
              f"{register.runs_read} runs read); {gaps} gaps, {conflicts} conflicts")
