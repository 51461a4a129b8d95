"""The ``mlflow-compliance`` command line. Exit codes: 0 ok, 1 a finding, 2 bad input."""

from __future__ import annotations

import click

from mlflow_compliance.cli.record import record
from mlflow_compliance.cli.server import server


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mlflow-compliance")
def main() -> None:
    """GDPR and EU AI Act compliance for MLflow."""


main.add_command(server)
main.add_command(record)
