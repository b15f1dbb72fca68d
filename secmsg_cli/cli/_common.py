"""Shared pieces of the sub-apps: the global state, option aliases, the store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import typer

from secmsg_cli.cli._output import Output


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
