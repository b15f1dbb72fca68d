"""The one place the package reaches into Typer's own Click (``typer._click``).

Typer carries its own copy of Click (``import click`` would give other classes,
never raised by Typer) and exports only part of it: the error boundary
(:class:`secmsg_cli.cli.app.SecmsgGroup`) needs the exception classes it does
not export, to turn each one into one line on stderr and its exit code. Should
a Typer release move them, this import is the one line to change.
"""

from typer._click.exceptions import ClickException, NoArgsIsHelpError, NoSuchOption, UsageError

__all__ = ["ClickException", "NoArgsIsHelpError", "NoSuchOption", "UsageError"]
