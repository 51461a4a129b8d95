"""The ``mlflow-compliance`` command line: ``<group> <verb>`` everywhere.

Exit codes: 0 ok (nothing to do included), 1 a finding (a failed check, a tampered log),
2 a usage, input or internal error, an aborted prompt too, always with one line on stderr.
"""

from __future__ import annotations

import copy
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import Any

import click

# Each command's module is imported only when that command runs: ``check`` needs MLflow's
# client, ``audit`` needs SQLAlchemy, and importing all of them costs every command about
# a second. Command name -> "module:attribute".
COMMANDS = {
    "server": "mlflow_compliance.cli.server:server",
    "record": "mlflow_compliance.cli.record:record",
    "users": "mlflow_compliance.cli.access:users",
    "grants": "mlflow_compliance.cli.access:grants",
    "tokens": "mlflow_compliance.cli.access:tokens",
    "account": "mlflow_compliance.cli.account:account",
    "audit": "mlflow_compliance.cli.audit:audit",
    "keys": "mlflow_compliance.cli.keys:keys",
    "check": "mlflow_compliance.cli.check:check",
    "signoffs": "mlflow_compliance.cli.signoffs:signoffs",
    "lineage": "mlflow_compliance.cli.lineage:lineage",
    "report": "mlflow_compliance.cli.report:report",
    "retention": "mlflow_compliance.cli.retention:retention",
    "subjects": "mlflow_compliance.cli.subjects:subjects",
    "runs": "mlflow_compliance.cli.runs:runs",
}
# The names before ``<group> <verb>``: hidden, still working for one release.
ALIASES = {
    "grant": ("grants", "add"),
    "revoke": ("grants", "remove"),
    "approve": ("signoffs", "add"),
}


def _load(name: str) -> click.Command:
    module, attribute = COMMANDS[name].split(":")
    command = getattr(importlib.import_module(module), attribute)
    assert isinstance(command, click.Command)
    return command


def _alias(old: str, group: str, verb: str) -> click.Command:
    found = _load(group)
    assert isinstance(found, click.Group)
    command = copy.copy(found.commands[verb])
    command.hidden = True
    command.name = old
    callback = command.callback
    assert callback is not None

    def run(*args: Any, **kwargs: Any) -> Any:
        click.echo(f"note: `mlflow-compliance {old}` is now `mlflow-compliance {group} "
                   f"{verb}`; the old name goes away in the next release", err=True)
        return callback(*args, **kwargs)

    command.callback = run
    return command


def run_reporting_errors(invoke: Callable[[], Any]) -> int:
    """Run the command line; every way it can end as an exit code (module docstring)."""
    try:
        code = invoke()
    except click.exceptions.NoArgsIsHelpError as e:
        click.echo(e.ctx.get_help() if e.ctx else e.format_message(), err=True)
        return 2
    except click.UsageError as e:
        hint = f" (see {e.ctx.command_path} --help)" if e.ctx else ""
        click.echo(f"Error: {_line(e.format_message())}{hint}", err=True)
        return 2
    except click.ClickException as e:
        click.echo(f"Error: {_line(e.format_message())}", err=True)
        return 2
    except click.Abort:
        click.echo("Aborted.", err=True)
        return 2
    except Exception as e:  # a crash is said in one line, not a traceback
        click.echo(f"Error: internal error: {type(e).__name__}: {_line(str(e))}", err=True)
        return 2
    return code if isinstance(code, int) else 0


def _line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0] if lines else ""


class Commands(click.Group):
    """The top-level group: subcommands imported on first use (click's documented
    pattern for large command lines), and the exit codes of the module docstring."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS:
            return _load(cmd_name)
        if cmd_name in ALIASES:
            return _alias(cmd_name, *ALIASES[cmd_name])
        return None

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        def invoke() -> Any:
            return super(Commands, self).main(args, prog_name, complete_var,
                                              standalone_mode=False, **extra)

        if not standalone_mode:
            return invoke()
        sys.exit(run_reporting_errors(invoke))


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mlflow-compliance")
def cli() -> None:
    """GDPR and EU AI Act compliance for MLflow.

    Records and checks evidence of compliance; it does not give legal advice.
    """


def main() -> None:
    """The ``mlflow-compliance`` console script."""
    cli.main(prog_name="mlflow-compliance")
