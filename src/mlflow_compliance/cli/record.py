"""``mlflow-compliance record``: the compliance record and a project's defaults."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from mlflow_compliance.cli.errors import InputError
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
def show(file: Path | None) -> None:
    """Check a compliance.toml (default: found upward from here) and show its tags."""
    try:
        path = file or find_project_file()
        if path is None:
            raise InputError("no compliance.toml here or in any parent folder")
        config = load_project(path)
    except ProjectConfigError as e:
        raise InputError(str(e)) from None
    table = Table(title=f"Tags every run gets from {path}")
    table.add_column("tag")
    table.add_column("value")
    for key, value in record_to_tags(config.record).items():
        table.add_row(key, value)
    Console().print(table)
