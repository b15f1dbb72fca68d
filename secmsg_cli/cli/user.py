"""``secmsg user add|list|remove``: the internal addresses the mail system
knows. When the list is not empty, a portal reply to an internal address
missing from it bounces with a non-delivery notice (SPEC §7.4)."""

from __future__ import annotations

from typing import Annotated

import typer

from secmsg_cli.cli._common import OutputOpt, open_store, state, sub_app
from secmsg_cli.cli._output import Output, emit, say

user_app = sub_app(
    "The directory's users: internal addresses the mail system knows (empty: every address is known)."
)


@user_app.command("add")
def add(
    ctx: typer.Context,
    addresses: Annotated[list[str], typer.Argument(help="Internal addresses.")],
    output: OutputOpt = Output.table,
) -> None:
    """List internal addresses as known users.

    secmsg user add alice.morgan@harborfinch.com ben.okafor@harborfinch.com
    """
    added = open_store(ctx).add_users(addresses)
    if output is Output.table:
        say(f"Added {len(added)} user(s): {', '.join(added)}.", quiet=state(ctx).quiet)
    else:
        emit([{"address": a} for a in added], output)


@user_app.command("list")
def list_(ctx: typer.Context, output: OutputOpt = Output.table) -> None:
    """List the known users.

    secmsg user list -o json
    """
    emit(
        open_store(ctx).users(),
        output,
        columns=["address", "added"],
        empty="no users listed: every internal address counts as known",
    )


@user_app.command("remove")
def remove(
    ctx: typer.Context, addresses: Annotated[list[str], typer.Argument(help="Addresses.")]
) -> None:
    """Remove users.

    secmsg user remove old.user@harborfinch.com
    """
    removed = open_store(ctx).remove_users(addresses)
    say(f"Removed {len(removed)} user(s): {', '.join(removed)}.", quiet=state(ctx).quiet)


def register(app: typer.Typer) -> None:
    app.add_typer(user_app, name="user")
