"""``mlflow-compliance report annex-iv MODEL VERSION``: the technical documentation of a
high-risk AI system (AI Act Art. 11(1), Annex IV points 1-9) for one model version, as
Markdown, HTML or PDF.

Read as the caller, like the other reports (cli/report.py): the version, its run, the
model's other versions, its metric histories and its sign-offs (``model-versions/
approvals``). Standard output for Markdown and HTML by default; a PDF needs ``-o``.
``-o`` writes the file whole or not at all. Exit 2: bad usage, an unreachable server,
a version that does not exist or that the caller may not read.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import click

from mlflow_compliance.cli.errors import InputError


def _write_bytes(data: bytes, path: Path) -> None:
    """``path`` written whole: a temporary file renamed into place (0644: no personal
    data rows, only the record)."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(f"--output: {folder} is not a folder")
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@click.command("annex-iv")
@click.argument("model")
@click.argument("version")
@click.option("--format", "form", type=click.Choice(["md", "html", "pdf"]), default="md",
              show_default=True, help="Markdown, HTML or PDF (with the metric charts).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="File to write [default: standard output; a PDF needs one].")
def annex_iv(model: str, version: str, form: str, output: Path | None) -> None:
    """The AI Act Annex IV technical documentation of MODEL version VERSION."""
    from mlflow.tracking import MlflowClient

    from mlflow_compliance.cli.remote import host_creds, tracking_uri
    from mlflow_compliance.cli.report import _facts, _write
    from mlflow_compliance.reports.annex_iv import annex_iv as outline_of
    from mlflow_compliance.reports.annex_iv import annex_iv_markdown
    from mlflow_compliance.reports.annex_iv_facts import collect_lifecycle, read_signoffs

    if form == "pdf" and output is None:
        raise InputError("--output: a PDF is not written to standard output; give -o FILE")
    facts = _facts(model, version)
    uri = tracking_uri()
    lifecycle = collect_lifecycle(MlflowClient(tracking_uri=uri, registry_uri=uri), facts,
                                  read_signoffs(host_creds(uri), facts))
    outline = outline_of(facts, lifecycle)
    if form == "pdf":
        from mlflow_compliance.reports.annex_iv_pdf import annex_iv_pdf

        assert output is not None
        _write_bytes(annex_iv_pdf(outline), output)
    elif form == "html":
        from mlflow_compliance.reports.annex_iv_html import annex_iv_html

        _write(annex_iv_html(outline), output)
    else:
        _write(annex_iv_markdown(outline), output)
