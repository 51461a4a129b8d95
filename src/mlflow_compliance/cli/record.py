"""``mlflow-compliance record``: the compliance record and a project's defaults."""

from __future__ import annotations

from pathlib import Path

import click

from mlflow_compliance.cli.errors import InputError
from mlflow_compliance.cli.options import list_format
from mlflow_compliance.cli.options import show as show_list
from mlflow_compliance.project import ProjectConfigError, find_project_file, load_project
from mlflow_compliance.record import record_to_tags
from mlflow_compliance.record.reference import reference_markdown


@click.group()
def record() -> None:
    """The compliance record: schema and project defaults."""


@record.command()
def reference() -> None:
    """Print the schema reference page (docs/record.md) as Markdown."""
    click.echo(reference_markdown(), nl=False)


@record.command()
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@list_format
def show(file: Path | None, form: str) -> None:
    """Check a compliance.toml (default: found upward from here) and list its tags."""
    try:
        path = file or find_project_file()
        if path is None:
            raise InputError("no compliance.toml here or in any parent folder")
        config = load_project(path)
    except ProjectConfigError as e:
        raise InputError(str(e)) from None
    tags = record_to_tags(config.record)
    if form == "table":
        click.echo(f"Tags every run gets from {path}:")
    show_list(form, {"file": str(path), "tags": tags}, ["tag", "value"],
              lambda: tags.items())
