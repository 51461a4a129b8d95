"""``mlflow-compliance report bundle MODEL VERSION`` and ``report verify FILE.zip``.

``bundle`` asks the server for the version's signed bundle (server/version_documents.py:
every document, the check report as JSON and SARIF, the sign-offs, the audit-log extract
and its signed head, and a manifest of SHA-256 digests signed with the server's Ed25519
key) and writes it whole or not at all. ``verify`` checks a bundle offline with the
server's public key: exit 0 intact, 1 tampered (each changed, added or missing file
named), 2 not a bundle or bad usage.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mlflow_compliance.cli.errors import InputError
from mlflow_compliance.cli.trusted_keys import HOME, PUBLIC_KEY, trusted_keys


@click.command("bundle")
@click.argument("model")
@click.argument("version")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="ZIP file to write [default: MODEL-VERSION-bundle.zip].")
def bundle(model: str, version: str, output: Path | None) -> None:
    """The signed bundle (ZIP) of MODEL version VERSION for an assessor."""
    from rich.console import Console

    from mlflow_compliance.cli.remote import PREFIX, fetch_file, host_creds, tracking_uri
    from mlflow_compliance.cli.report_annex_iv import _write_bytes

    if not model.strip():
        raise InputError("MODEL: empty; give a registered model's name")
    if not version.isdigit():
        raise InputError(f"VERSION: {version!r} is not a version number")
    if output is None:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in model)
        output = Path(f"{safe}-{version}-bundle.zip")
    uri = tracking_uri()
    with Console(stderr=True).status(f"building the bundle of {model} version {version} "
                                     "on the server ..."):
        data = fetch_file(host_creds(uri), PREFIX + "model-versions/bundle",
                          {"name": model, "version": version})
    _write_bytes(data, output)
    click.echo(f"{output}: bundle of {model} version {version} ({len(data)} bytes); "
               f"check it with: mlflow-compliance report verify {output}")


@click.command("verify")
@click.argument("path", metavar="FILE.zip", type=click.Path(dir_okay=False, path_type=Path))
@HOME
@PUBLIC_KEY
def verify(path: Path, home: str | None, public_key: str | None) -> None:
    """Check a bundle against the server's public key: exit 0 intact, 1 tampered."""
    from mlflow_compliance.reports.bundle import NotABundle, check

    keys = trusted_keys(home, public_key)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise InputError(f"FILE.zip: cannot read {path} ({e.strerror})") from None
    try:
        checked = check(data, keys)
    except NotABundle as e:
        raise InputError(f"FILE.zip: {path}: {e}") from None
    if not checked.intact:
        for problem in checked.problems:
            click.echo(f"TAMPERED: {problem}")
        sys.exit(1)
    click.echo(f"intact: bundle of {checked.model} version {checked.version}, "
               f"{checked.files} files, signed by key {checked.key_id}")
