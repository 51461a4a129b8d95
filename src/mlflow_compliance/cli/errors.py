"""The CLI's one error for bad input: one line on stderr, exit code 2."""

import click


class InputError(click.ClickException):
    exit_code = 2
