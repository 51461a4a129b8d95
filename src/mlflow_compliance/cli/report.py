"""``mlflow-compliance report``: documents an assessor can take, for one model version.

``model-card``, ``dataset-card``, ``cyclonedx`` and ``spdx`` are written from what MLflow
and the compliance record hold, read as the caller (MLflow's own variables), so a
document holds only what the caller may read; every gap is shown with the article that
asks for it. Standard output by default; ``-o`` writes a file whole or not at all. They
hold the record, not personal data rows, so files are plain 0644. Exit codes: 0
written, 2 bad usage, an unreachable server, or a version that does not exist (or that
the caller may not read: the two are not told apart).
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import click

from mlflow_compliance.cli.errors import InputError
from mlflow_compliance.cli.remote import fetch, host_creds, tracking_uri
from mlflow_compliance.cli.report_annex_iv import annex_iv
from mlflow_compliance.cli.report_bundle import bundle, verify
from mlflow_compliance.cli.report_register import processing_register
from mlflow_compliance.reports.facts import VersionFacts


def _facts(model: str, version: str) -> VersionFacts:
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from mlflow_compliance.reports.facts import VersionNotFound, collect_version_facts

    if not model.strip():
        raise InputError("MODEL: empty; give a registered model's name")
    if not version.isdigit():
        raise InputError(f"VERSION: {version!r} is not a version number")
    uri = tracking_uri()
    status, _ = fetch(host_creds(uri), "GET", "/api/2.0/mlflow/experiments/search",
                      {"max_results": 1})
    if status in (401, 403):
        raise InputError(f"credentials: {uri} answered {status}; set "
                         "MLFLOW_TRACKING_USERNAME/PASSWORD or MLFLOW_TRACKING_TOKEN")
    try:
        return collect_version_facts(MlflowClient(tracking_uri=uri, registry_uri=uri),
                                     model, version)
    except VersionNotFound as e:
        raise InputError(f"MODEL VERSION: {e}") from None
    except MlflowException as e:
        raise InputError(f"{uri}: {e.message.splitlines()[0]}") from None
    except OSError as e:
        raise InputError(f"MLFLOW_TRACKING_URI: cannot reach {uri} "
                         f"({type(e).__name__})") from None


def _write(text: str, path: Path | None) -> None:
    """To standard output, or to ``path`` whole (a temporary file renamed into place)."""
    if path is None:
        sys.stdout.write(text)
        return
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(f"--output: {folder} is not a folder")
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


OUTPUT = click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
                      help="File to write [default: standard output].")


def _document(render: Callable[[VersionFacts], str]) -> Callable[[str, str, Path | None], None]:
    def run(model: str, version: str, output: Path | None) -> None:
        _write(render(_facts(model, version)), output)

    return run


@click.group()
def report() -> None:
    """Documents for an assessor, from what MLflow and the compliance record hold."""


@report.command("model-card")
@click.argument("model")
@click.argument("version")
@OUTPUT
def model_card(model: str, version: str, output: Path | None) -> None:
    """The model card (Markdown, Hugging Face sections) of MODEL version VERSION."""
    from mlflow_compliance.reports.model_card import model_card as render

    _document(render)(model, version, output)


@report.command("dataset-card")
@click.argument("model")
@click.argument("version")
@click.option("--dataset", help="Only the dataset input of this name [default: every one].")
@click.option("--output", "-o", type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write one NAME-DIGEST.md per dataset into [default: standard "
              "output].")
def dataset_card(model: str, version: str, dataset: str | None, output: Path | None) -> None:
    """A dataset card (Markdown) per dataset input of MODEL version VERSION's run."""
    from mlflow_compliance.reports.dataset_card import dataset_cards

    facts = _facts(model, version)
    cards = dataset_cards(facts, dataset)
    if not cards:
        names = sorted({d.name for d in facts.datasets})
        if dataset is not None:
            raise InputError(f"--dataset: no dataset input named {dataset!r}; the version's "
                             f"run has: {', '.join(names) or 'none'}")
        click.echo(f"{model} version {version}: its run logged no dataset input "
                   "(mlflow.log_input)", err=True)
        return
    if output is None:
        sys.stdout.write("\n".join(cards.values()))
        return
    output.mkdir(parents=True, exist_ok=True)
    for name, text in cards.items():
        _write(text, output / name)
        click.echo(str(output / name), err=True)


@report.command("cyclonedx")
@click.argument("model")
@click.argument("version")
@OUTPUT
def cyclonedx(model: str, version: str, output: Path | None) -> None:
    """The CycloneDX 1.6 ML-BOM (JSON) of MODEL version VERSION."""
    from mlflow_compliance.reports.cyclonedx import cyclonedx_json

    _document(cyclonedx_json)(model, version, output)


@report.command("spdx")
@click.argument("model")
@click.argument("version")
@OUTPUT
def spdx(model: str, version: str, output: Path | None) -> None:
    """The SPDX 3.0.1 JSON-LD (AI and Dataset profiles) of MODEL version VERSION."""
    from mlflow_compliance.reports.spdx import spdx_json

    _document(spdx_json)(model, version, output)


# the GDPR Art. 30(1) record of processing activities: cli/report_register.py
report.add_command(processing_register)
# the AI Act Annex IV technical documentation: cli/report_annex_iv.py
report.add_command(annex_iv)
# the signed bundle of a version, and checking one: cli/report_bundle.py
report.add_command(bundle)
report.add_command(verify)
