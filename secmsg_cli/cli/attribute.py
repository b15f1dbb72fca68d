"""``secmsg attribute set|list|unset``: address attributes (Name=value)."""

from __future__ import annotations

from typing import Annotated

import typer

from secmsg_cli.cli._common import OutputOpt, open_store, parse_pairs, state, sub_app
from secmsg_cli.cli._output import Output, emit, say

attribute_app = sub_app("Address attributes (Name=value) that policies can target.")


@attribute_app.command("set")
def set_(
    ctx: typer.Context,
    address: Annotated[str, typer.Argument(help="The address.")],
    values: Annotated[
        list[str],
        typer.Argument(help="Name=value pairs (no wildcards or regular expressions)."),
    ],
) -> None:
    """Set attributes of an address (replacing a value already set).

    secmsg attribute set alice@example.com Department=Legal Role=Partner
    """
    after = open_store(ctx).set_attributes(address, parse_pairs(values, "attribute"))
    say(
        f"Set {', '.join(parse_pairs(values, 'attribute'))}; now {len(after)} attribute(s).",
        quiet=state(ctx).quiet,
    )


@attribute_app.command("list")
def list_(
    ctx: typer.Context,
    address: Annotated[
        str | None, typer.Option("--address", "-a", help="Only this address.")
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", "-n", help="Only this attribute name.")
    ] = None,
    output: OutputOpt = Output.table,
) -> None:
    """List attributes.

    secmsg attribute list --name Department
    """
    emit(
        open_store(ctx).attributes(address, name),
        output,
        columns=["address", "name", "value"],
        empty="no attributes",
    )


@attribute_app.command("unset")
def unset(
    ctx: typer.Context,
    address: Annotated[str, typer.Argument(help="The address.")],
    name: Annotated[str, typer.Argument(help="The attribute name.")],
) -> None:
    """Remove one attribute of an address.

    secmsg attribute unset alice@example.com Role
    """
    open_store(ctx).unset_attribute(address, name)
    say(f"Removed attribute {name!r} of {address}.", quiet=state(ctx).quiet)


def register(app: typer.Typer) -> None:
    app.add_typer(attribute_app, name="attribute")
