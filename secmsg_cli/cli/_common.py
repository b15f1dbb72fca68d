"""Shared pieces of the sub-apps: the global state, option aliases, the store."""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from typer.core import TyperArgument

from secmsg_cli.cli._output import Output

# The command group of each kind of policy (``secmsg bypass list``).
GROUP_NAMES = {
    "secure-messaging": "policy",
    "bypass": "bypass",
    "content-examination": "content-policy",
}


@dataclass
class State:
    db: str | None = None
    quiet: bool = False


OutputOpt = Annotated[
    Output,
    typer.Option(
        "--output", "-o", help="Output format: table, json, jsonl or csv.", case_sensitive=False
    ),
]


def state(ctx: typer.Context) -> State:
    root = ctx.find_root()
    if not isinstance(root.obj, State):
        root.obj = State()
    return root.obj


def open_store(ctx: typer.Context, *, create: bool = False) -> Any:
    """Open the store chosen by --db / SECMSG_DB / the default location; closed
    when the command ends. Only ``init``, ``import`` and ``apply`` pass
    ``create``: every other command refuses a path where there is no store."""
    from secmsg_cli.store.store import open_store as _open

    store = _open(state(ctx).db, create=create)
    ctx.call_on_close(store.close)
    return store


# What a value is, in the words of the help pages (``--at TIME``), by the
# parameter's name; any other text value is shown as its name in capitals
# (``--narrative NARRATIVE``), as Click does, never as a Python type.
METAVARS = {
    "db": "PATH",
    "paths": "PATH...",
    "files": "PATH...",
    "file": "FILE",
    "config": "FILE",
    "cases": "CASES",
    "at": "TIME",
    "start": "TIME",
    "end": "TIME",
    "mail_from": "ADDR",
    "rcpt": "ADDR",
    "sender": "ADDR",
    "recipient": "ADDR",
    "address": "ADDR",
    "addresses": "ADDR...",
    "member": "ADDR",
    "members": "ADDR...",
    "definition": "FOLDER/NAME",
    "content_definition": "NAME",
    "source_ip": "IP",
    "from_": "TARGET",
    "to": "TARGET",
    "targets": "TARGET...",
    "max_size": "SIZE",
    "lines_file": "FILE",
    "banner_file": "FILE",
    "new_parent": "PARENT",
    "portal_url": "URL",
    "by": "DURATION",
    "expire_after": "DURATION",
    "max_extension": "DURATION",
}


class _Argument(TyperArgument):
    """An argument as Click's own help shows it: ``NAME``, ``[NAME]`` when
    optional, ``NAME...`` when repeated, and no Python type beside it
    (Typer writes ``{NAME}`` and ``<list[str]>``). The two methods are
    Typer's; should a release rename them, help pages fall back to its form."""

    def display_type_rich(self, ctx: Any) -> str | None:
        return None

    def _usage_display_name(self) -> str:
        name = self.metavar or (self.name or "").upper()
        name = name if self.required else f"[{name}]"
        return name + ("..." if self.nargs != 1 else "")

    def _rich_display_name(self) -> str:
        return (self.metavar or (self.name or "").upper()) + ("..." if self.nargs != 1 else "")


def readable_metavar(param: Any) -> None:
    """One parameter's metavar (see :func:`readable_metavars`), unless set."""
    if isinstance(param, TyperArgument) and not isinstance(param, _Argument):
        param.__class__ = _Argument
    if param.metavar is not None or param.name is None:
        return
    # Typer describes a parameter's type in ``type_descriptor``
    desc = getattr(param, "type_descriptor", None)
    annotation = getattr(desc, "annotation", None)
    if typing.get_origin(annotation) is list:
        (annotation,) = typing.get_args(annotation)
    choices = desc.choices if desc is not None and desc.is_choice else None
    if annotation is bool or getattr(param, "is_bool_flag", False):
        param.metavar = ""
    elif choices:
        param.metavar = "|".join(str(getattr(c, "value", c)) for c in choices)
    elif param.name in METAVARS:
        param.metavar = METAVARS[param.name]
    elif annotation in (int, float):
        param.metavar = "N"
    else:
        param.metavar = param.name.rstrip("_").replace("_", "-").upper()
    if isinstance(param, TyperArgument):
        param.metavar = param.metavar.removesuffix("...")  # the usage line adds it
    elif param.nargs != 1 and param.metavar and not param.metavar.endswith("..."):
        param.metavar += "..."


def _is_example(line: str) -> bool:
    return line.startswith("    ") or line.lstrip().startswith(("secmsg ", "$ "))


def reflow(text: str) -> str:
    """A docstring as help: the lines of each paragraph joined, so that the
    terminal wraps them at its width (Typer's rich mode keeps the source's
    line breaks, which read ragged at any other width); an example line (an
    indented one, or one that runs ``secmsg``) stays a line of its own."""
    import inspect

    paragraphs = []
    for paragraph in inspect.cleandoc(text).split("\n\n"):
        lines: list[str] = []
        for line in paragraph.split("\n"):
            if lines and not _is_example(line) and not _is_example(lines[-1]):
                lines[-1] += " " + line.strip()
            else:
                lines.append(line)
        paragraphs.append("\n".join(lines))
    return "\n\n".join(paragraphs)


def readable_metavars(command: Any) -> None:
    """Give every parameter of ``command`` and its subcommands a metavar a
    user reads (``PATH``, ``ADDR``, ``TIME``, ``N``, ``a|b``) instead of the
    Python type Typer would show (``<str>``, ``<list[str]>``, ``<bool>``);
    a flag shows none. Metavars set where the option is declared stay."""
    for param in getattr(command, "params", ()):
        readable_metavar(param)
    _flag_help_option(command)
    if getattr(command, "help", None):
        command.help = reflow(command.help)
    for sub in getattr(command, "commands", {}).values():
        readable_metavars(sub)


def _flag_help_option(command: Any) -> None:
    """--help is made per context, after the walk: show it as the flag it is."""
    make = command.get_help_option

    def get_help_option(ctx: Any) -> Any:
        option = make(ctx)
        if option is not None:
            option.metavar = ""
        return option

    command.get_help_option = get_help_option


def sub_app(help: str) -> typer.Typer:
    """A sub-app with the house settings."""
    return typer.Typer(
        help=help,
        no_args_is_help=True,
        rich_markup_mode="rich",
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )


def parse_pairs(items: list[str], what: str) -> dict[str, str]:
    """``Name=value`` arguments -> dict (value may contain '=')."""
    from secmsg_cli.errors import InvalidInput

    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise InvalidInput(f"invalid {what} {item!r}: expected Name=value")
        out[name.strip()] = value
    return out
