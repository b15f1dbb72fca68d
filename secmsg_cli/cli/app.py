"""The ``secmsg`` application: global options, sub-apps, and the error boundary
that turns every failure into one line on stderr and an exit code
(docs/output.md, CONTRIBUTING.md)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Annotated, Any

import typer
from typer import Abort
from typer.core import TyperGroup

from secmsg_cli import __version__
from secmsg_cli.cli._boundary import exit_code_for, fail
from secmsg_cli.cli._click import ClickException, NoArgsIsHelpError, NoSuchOption, UsageError
from secmsg_cli.cli._common import State, state

# The global options a user may also write after the command (anywhere before
# "--"): `secmsg policy list --db x -q` as `secmsg --db x -q policy list`.
GLOBAL_OPTIONS = ("db", "quiet")


class SecmsgGroup(TyperGroup):
    """Runs the command tree, maps every exception to one line and an exit
    code, and ends every command by flushing its results (docs/output.md)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from secmsg_cli.cli._common import readable_metavars

        super().__init__(*args, **kwargs)
        globals_ = [p for p in self.params if p.name in GLOBAL_OPTIONS]
        _add_global_options(self.commands.values(), globals_)
        readable_metavars(self)  # the whole tree is built by now

    def get_params(self, ctx: Any) -> Any:
        from secmsg_cli.cli._common import readable_metavar

        params = super().get_params(ctx)
        for param in params:  # Typer adds --install-completion and the like later
            readable_metavar(param)
        return params

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        from secmsg_cli.cli._stdout import finish

        try:
            rv = self._run(
                args, prog_name, complete_var, windows_expand_args=windows_expand_args, **extra
            )
        except SystemExit as exc:  # Typer after a closed pipe, Rich's console after one
            if not (exc.code is None or isinstance(exc.code, int)):
                raise
            rv = exc.code or 0
        else:
            if not standalone_mode:
                return rv
        sys.exit(finish(rv if isinstance(rv, int) else 0))

    def _run(
        self,
        args: Sequence[str] | None,
        prog_name: str | None,
        complete_var: str | None,
        **extra: Any,
    ) -> Any:
        """The command's return value (its exit code when it raised typer.Exit), or the exit code of its error."""
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
        except NoSuchOption as exc:
            where = None
            if exc.ctx is not None and exc.ctx.parent is None:
                where = self._where_it_goes(exc.option_name, sys.argv[1:] if args is None else args)
            if where is None:
                hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
                return fail(exc.format_message().replace("\n", " ") + hint, exc.exit_code)
            return fail(where, exc.exit_code)
        except UsageError as exc:
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
            return fail(_usage_message(exc, args).replace("\n", " ") + hint, exc.exit_code)
        except ClickException as exc:
            return fail(exc.format_message().replace("\n", " "), exc.exit_code)
        except Abort:
            return fail("aborted", 1)
        except Exception as exc:  # noqa: BLE001 - the boundary: every error becomes one line
            return exit_code_for(exc)

    def _where_it_goes(self, option: str, args: Sequence[str]) -> str | None:
        """For an option of a command given before it (``secmsg -o json policy
        list``): where it goes, e.g. "-o is an option of the command: secmsg
        policy list -o json"; None when the command line names no command
        that has it."""
        name = option.partition("=")[0]
        root_values = {o for p in self.params if not getattr(p, "is_flag", False) for o in p.opts}
        command: Any = self
        path: list[str] = []
        value: str | None = None
        after_option = False
        tokens = list(args)
        i = 0
        while i < len(tokens) and tokens[i] != "--":
            token = tokens[i]
            i += 1
            short = len(name) == 2 and not token.startswith("--")
            if token == name or token.startswith(name + ("" if short else "=")):
                if token != name:
                    value = token[len(name) :].removeprefix("=")  # -ojson, --output=json
                after_option = token == name
                continue
            was_after, after_option = after_option, False
            if token.startswith("-"):
                i += token in root_values  # --db PATH
            elif isinstance(command, TyperGroup) and token in command.commands:
                command = command.commands[token]
                path.append(token)
            elif was_after and value is None:
                value = token  # (its value, unless it is a flag)
            else:
                break
        if isinstance(command, TyperGroup) or not path:
            return None
        param = next((p for p in command.params if name in p.opts and not p.hidden), None)
        if param is None:
            return None
        spelt = (
            name
            if getattr(param, "is_flag", False)
            else f"{name} {value if value is not None else 'VALUE'}"
        )
        return f"{name} is an option of the command: secmsg {' '.join(path)} {spelt}"


def _add_global_options(commands: Any, globals_: list[Any]) -> None:
    """Gives every command and sub-app below the root a hidden copy of each
    global option, which sets the same state as the root's."""
    import copy

    def set_state(ctx: Any, param: Any, value: Any) -> None:
        if value is not None and value is not False:
            setattr(state(ctx), param.name.removeprefix("global_"), value)

    for command in commands:
        have = {o for p in command.params for o in p.opts}
        for option in globals_:
            if have & set(option.opts):
                continue
            twin = copy.copy(option)
            twin.name, twin.hidden, twin.expose_value = f"global_{option.name}", True, False
            twin.callback, twin.is_eager = set_state, False
            command.params.append(twin)
        if isinstance(command, TyperGroup):
            _add_global_options(command.commands.values(), globals_)


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
            help="The store file (default: $SECMSG_DB, else the user data directory); before or after the command.",
        ),
    ] = None,
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet", "-q", help="Print only results and errors; before or after the command."
        ),
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
    --db and -q may also follow the command (secmsg policy list --db PATH).
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
        schema,
        simulate,
        template,
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
    template.register(app)
    policy.register(app)
    simulate.register(app)
    from secmsg_cli.cli import deliver, portal, preview, report, user

    deliver.register(app)
    preview.register(app)
    portal.register(app)
    report.register(app)
    user.register(app)
    test_cmd.register(app)
    config_cmds.register(app)
    lint.register(app)
    schema.register(app)


_register()
