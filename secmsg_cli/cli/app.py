"""The ``secmsg`` application: global options, sub-apps, and the error boundary
that turns every failure into one line on stderr and an exit code (SPEC §10-§11)."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from secmsg_cli import __version__
from secmsg_cli.cli._boundary import exit_code_for, fail
from secmsg_cli.cli._common import State


class SecmsgGroup(TyperGroup):
    """Runs the command tree, maps every exception to one line and an exit
    code, and ends every command by flushing its results (SPEC §10)."""

    def main(
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        from secmsg_cli.cli._stdout import finish

        try:
            rv = self._run(args, prog_name, complete_var, **extra)
        except SystemExit as exc:  # Typer after a closed pipe, Rich's console after one
            if not (exc.code is None or isinstance(exc.code, int)):
                raise
            rv = exc.code or 0
        else:
            if not standalone_mode:
                return rv
        sys.exit(finish(rv if isinstance(rv, int) else 0))

    def _run(self, args: Any, prog_name: str | None, complete_var: str | None, **extra: Any) -> Any:
        """The command's return value (its exit code when it raised typer.Exit), or the exit code of its error."""
        # Typer carries its own Click; its exception classes live there.
        from typer import Abort
        from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError

        try:
            return super().main(
                args=args,
                prog_name=prog_name or "secmsg",
                complete_var=complete_var,
                standalone_mode=False,
                **extra,
            )
        except NoArgsIsHelpError as exc:
            exc.show()
            return exc.exit_code
        except UsageError as exc:
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
            return fail(_usage_message(exc, args).replace("\n", " ") + hint, exc.exit_code)
        except ClickException as exc:
            return fail(exc.format_message().replace("\n", " "), exc.exit_code)
        except Abort:
            return fail("aborted", 1)
        except Exception as exc:  # noqa: BLE001 - the boundary: every error becomes one line
            return exit_code_for(exc)


def _usage_message(exc: Any, args: Any) -> str:
    """Click's message for a usage error, in our words where Typer's are a
    library's: an unknown choice reads ``invalid value for '-o': 'yaml'
    (choose from table, json, jsonl, csv)``, naming the option as it was typed."""
    import re

    from typer._click.exceptions import BadParameter

    message = str(exc.format_message())
    if not isinstance(exc, BadParameter):
        return message
    text = re.sub(r"^Value error, ", "", str(exc.message))
    choice = re.fullmatch(r"(.+?) is not one of (.+?)\.?", text, re.DOTALL)
    param = exc.param
    if choice is None or param is None:
        return message.replace("Value error, ", "")
    typed = list(sys.argv[1:] if args is None else args)
    opts = list(getattr(param, "opts", ()))
    name = next((o for o in opts if o in typed or any(t.startswith(o + "=") for t in typed)), None)
    hint = f"'{name}'" if name else str(param.get_error_hint())
    choices = ", ".join(re.findall(r"'([^']*)'", choice.group(2)))
    return f"invalid value for {hint}: {choice.group(1)} (choose from {choices})"


app = typer.Typer(
    cls=SecmsgGroup,
    help="Administer policy-driven Secure Messaging and simulate it on real messages.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"secmsg {__version__}\n")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            metavar="PATH",
            help="The store file (default: $SECMSG_DB, else the user data directory).",
        ),
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print only results and errors.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Administer policy-driven Secure Messaging and simulate it on real messages.

    The store is one SQLite file: --db PATH, else $SECMSG_DB, else the user data directory.
    """
    ctx.obj = State(db=db, quiet=quiet)


def _register() -> None:
    from secmsg_cli.cli import (
        account,
        attribute,
        config_cmds,
        content_definition,
        db,
        definition,
        domain,
        folder,
        group,
        lint,
        policy,
        simulate,
        test_cmd,
    )

    db.register(app)
    account.register(app)
    domain.register(app)
    group.register(app)
    attribute.register(app)
    folder.register(app)
    definition.register(app)
    content_definition.register(app)
    policy.register(app)
    simulate.register(app)
    from secmsg_cli.cli import deliver, portal, user

    deliver.register(app)
    portal.register(app)
    user.register(app)
    test_cmd.register(app)
    config_cmds.register(app)
    lint.register(app)


_register()
