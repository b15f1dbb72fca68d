"""``secmsg group ...``: directory groups of addresses and ``@domain`` members."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from secmsg_cli.cli._common import OutputOpt, open_store, state, sub_app
from secmsg_cli.cli._output import Output, emit, say

if TYPE_CHECKING:
    from secmsg_cli.model import Group


def _row(group: Group) -> dict[str, Any]:
    return {
        "id": group.id,
        "name": group.name,
        "members": list(group.members),
        "member_count": len(group.members),
    }


group_app = sub_app(
    "Directory groups: addresses and @domain members (a @domain member matches all its addresses)."
)


@group_app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Group name (unique, case-insensitive).")],
    member: Annotated[
        list[str] | None,
        typer.Option("--member", "-m", help="An address or @domain; repeatable."),
    ] = None,
    output: OutputOpt = Output.table,
) -> None:
    """Create a group.

    secmsg group create Board -m ceo@example.com -m @board.example.com
    """
    group = open_store(ctx).create_group(name, member or [])
    if output is Output.table:
        say(
            f"Created group {group.name!r} (id {group.id}, {len(group.members)} member(s)).",
            quiet=state(ctx).quiet,
        )
    else:
        emit(_row(group), output)


@group_app.command("list")
def list_(ctx: typer.Context, output: OutputOpt = Output.table) -> None:
    """List groups with their member counts.

    secmsg group list -o json
    """
    emit(
        [_row(g) for g in open_store(ctx).groups()],
        output,
        columns=["id", "name", "member_count:members"],
        empty="no groups",
    )


@group_app.command("show")
def show(
    ctx: typer.Context,
    group: Annotated[str, typer.Argument(help="Group name or id.")],
    output: OutputOpt = Output.table,
) -> None:
    """Show a group and its members.

    secmsg group show Board
    """
    g = open_store(ctx).group(group)
    if output is Output.table:
        emit({"id": g.id, "name": g.name, "members": len(g.members)}, output)
        emit([{"member": m} for m in g.members], output, empty="(no members)")
    else:
        emit(_row(g), output)


@group_app.command("delete")
def delete(
    ctx: typer.Context, group: Annotated[str, typer.Argument(help="Group name or id.")]
) -> None:
    """Delete a group (refused while a folder or policy uses it).

    secmsg group delete Contractors
    """
    g = open_store(ctx).delete_group(group)
    say(f"Deleted group {g.name!r}.", quiet=state(ctx).quiet)


@group_app.command("add-member")
def add_member(
    ctx: typer.Context,
    group: Annotated[str, typer.Argument(help="Group name or id.")],
    members: Annotated[list[str], typer.Argument(help="Addresses or @domain members.")],
) -> None:
    """Add members to a group.

    secmsg group add-member Board cfo@example.com @board.example.com
    """
    g = open_store(ctx).add_group_members(group, members)
    say(f"Group {g.name!r} now has {len(g.members)} member(s).", quiet=state(ctx).quiet)


@group_app.command("remove-member")
def remove_member(
    ctx: typer.Context,
    group: Annotated[str, typer.Argument(help="Group name or id.")],
    members: Annotated[list[str], typer.Argument(help="Addresses or @domain members.")],
) -> None:
    """Remove members from a group.

    secmsg group remove-member Board cfo@example.com
    """
    g = open_store(ctx).remove_group_members(group, members)
    say(f"Group {g.name!r} now has {len(g.members)} member(s).", quiet=state(ctx).quiet)


def register(app: typer.Typer) -> None:
    app.add_typer(group_app, name="group")
