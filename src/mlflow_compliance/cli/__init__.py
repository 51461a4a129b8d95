"""The ``mlflow-compliance`` command line. Exit codes: 0 ok, 1 a finding, 2 bad input."""

from __future__ import annotations

import importlib
import sys

import click

# Each command's module is imported only when that command runs: ``check`` needs MLflow's
# client, ``audit`` needs SQLAlchemy, and importing all of them costs every command about
# a second. Command name -> "module:attribute".
COMMANDS = {
    "server": "mlflow_compliance.cli.server:server",
    "record": "mlflow_compliance.cli.record:record",
    "users": "mlflow_compliance.cli.access:users",
    "grant": "mlflow_compliance.cli.access:grant",
    "revoke": "mlflow_compliance.cli.access:revoke",
    "tokens": "mlflow_compliance.cli.access:tokens",
    "audit": "mlflow_compliance.cli.audit:audit",
    "keys": "mlflow_compliance.cli.keys:keys",
    "check": "mlflow_compliance.cli.check:check",
    "approve": "mlflow_compliance.cli.check:approve",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use (click's documented pattern
    for large command lines)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, attribute = COMMANDS[cmd_name].split(":")
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mlflow-compliance")
def cli() -> None:
    """GDPR and EU AI Act compliance for MLflow.

    Records and checks evidence of compliance; it does not give legal advice.
    """


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
