"""``secmsg domain add|list|remove``: the account's internal domains."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated, Any

import typer

from secmsg_cli.cli._common import OutputOpt, open_store, state, sub_app
from secmsg_cli.cli._output import Output, emit, say
from secmsg_cli.engine.addresses import display_domain

if TYPE_CHECKING:
    from secmsg_cli.model import Domain


def _row(domain: Domain) -> dict[str, Any]:
    row = asdict(domain)
    row["display"] = display_domain(domain.name)
    return row


domain_app = sub_app("Internal domains: an address is internal iff its domain is registered here.")


@domain_app.command("add")
def add(
    ctx: typer.Context,
    name: Annotated[
        str, typer.Argument(help="Domain name; Unicode names are stored in IDNA form.")
    ],
    type: Annotated[
        str, typer.Option("--type", "-t", help="local, remote or send-only (informational).")
    ] = "local",
    output: OutputOpt = Output.table,
) -> None:
    """Register an internal domain.

    secmsg domain add example.com --type local
    """
    domain = open_store(ctx).add_domain(name, type)
    if output is Output.table:
        say(f"Added internal domain {domain.name} ({domain.type}).", quiet=state(ctx).quiet)
    else:
        emit(_row(domain), output)


@domain_app.command("list")
def list_(ctx: typer.Context, output: OutputOpt = Output.table) -> None:
    """List the internal domains.

    secmsg domain list -o csv
    """
    emit(
        [_row(d) for d in open_store(ctx).domains()],
        output,
        columns=["name", "type", "display"],
        empty="no internal domains",
    )


@domain_app.command("remove")
def remove(ctx: typer.Context, name: Annotated[str, typer.Argument(help="Domain name.")]) -> None:
    """Remove an internal domain (its addresses become external).

    secmsg domain remove old.example.com
    """
    domain = open_store(ctx).remove_domain(name)
    say(f"Removed internal domain {domain.name}.", quiet=state(ctx).quiet)


def register(app: typer.Typer) -> None:
    app.add_typer(domain_app, name="domain")
