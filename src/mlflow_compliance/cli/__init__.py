"""The ``mlflow-compliance`` command line. Exit codes: 0 ok, 1 a finding, 2 bad input."""

from __future__ import annotations

import sys

import click

from mlflow_compliance.cli.access import grant, revoke, tokens, users
from mlflow_compliance.cli.audit import audit
from mlflow_compliance.cli.check import approve, check
from mlflow_compliance.cli.keys import keys
from mlflow_compliance.cli.record import record
from mlflow_compliance.cli.server import server


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mlflow-compliance")
def cli() -> None:
    """GDPR and EU AI Act compliance for MLflow.

    Records and checks evidence of compliance; it does not give legal advice.
    """


cli.add_command(server)
cli.add_command(record)
cli.add_command(users)
cli.add_command(grant)
cli.add_command(revoke)
cli.add_command(tokens)
cli.add_command(audit)
cli.add_command(keys)
cli.add_command(check)
cli.add_command(approve)


def main() -> None:
    """Run the CLI; any usage or input error is one line on stderr and exit code 2."""
    try:
        code = cli.main(standalone_mode=False)
    except click.UsageError as e:
        hint = f" (see {e.ctx.command_path} --help)" if e.ctx else ""
        click.echo(f"Error: {e.format_message()}{hint}", err=True)
        sys.exit(2)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except click.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
