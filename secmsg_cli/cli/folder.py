"""``secmsg folder ...``: the folder tree of definitions and its publishing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from secmsg_cli.cli._common import OutputOpt, open_store, state, sub_app
from secmsg_cli.cli._output import Output, console, emit, say

if TYPE_CHECKING:
    from secmsg_cli.model import Folder


def _publish_text(folder: Folder) -> str:
    effective = ", ".join(folder.effective_publish_to) or "nobody"
    return effective if folder.publish_to is not None else f"{effective} (inherited)"


def _row(folder: Folder, definitions: int) -> dict[str, Any]:
    return {
        "id": folder.id,
        "path": folder.path,
        "publish_to": None if folder.publish_to is None else list(folder.publish_to),
        "effective_publish_to": list(folder.effective_publish_to),
        "definitions": definitions,
    }


folder_app = sub_app(
    "Folders of definitions; a folder's publish list decides who may choose its definitions."
)


@folder_app.command("create")
def create(
    ctx: typer.Context,
    path: Annotated[str, typer.Argument(help="Folder path, e.g. Legal/Contracts.")],
    publish_to: Annotated[
        list[str] | None,
        typer.Option(
            "--publish-to",
            "-p",
            help="'everyone' or a group; repeatable (default: inherit the parent's).",
        ),
    ] = None,
    parents: Annotated[
        bool, typer.Option("--parents", help="Create missing parent folders too.")
    ] = False,
    output: OutputOpt = Output.table,
) -> None:
    """Create a folder.

    secmsg folder create Legal/Restricted --publish-to Board
    """
    store = open_store(ctx)
    folder = store.create_folder(path, publish_to, parents=parents)
    if output is Output.table:
        say(
            f"Created folder {folder.path!r} (id {folder.id}), published to {_publish_text(folder)}.",
            quiet=state(ctx).quiet,
        )
    else:
        emit(_row(folder, 0), output)


@folder_app.command("list")
def list_(ctx: typer.Context, output: OutputOpt = Output.table) -> None:
    """Show the folder tree with publishing and definition counts.

    secmsg folder list
    """
    store = open_store(ctx)
    folders = store.folders()
    counts: dict[str, int] = {}
    for d in store.definitions():
        counts[d.folder] = counts.get(d.folder, 0) + 1
    if output is not Output.table:
        emit([_row(f, counts.get(f.path, 0)) for f in folders], output)
        return
    from rich.text import Text
    from rich.tree import Tree

    tree = Tree(Text("/"), guide_style="dim")
    nodes: dict[str, Tree] = {}
    for f in folders:
        parent_path = f.path.rpartition("/")[0]
        label = Text(f.name, style="bold")
        label.append(f"  published to {_publish_text(f)}", style="cyan")
        n = counts.get(f.path, 0)
        label.append(f"  {n} definition{'s' if n != 1 else ''}", style="dim")
        nodes[f.path] = (nodes[parent_path] if parent_path else tree).add(label)
    console().print(tree)


@folder_app.command("rename")
def rename(
    ctx: typer.Context,
    folder: Annotated[str, typer.Argument(help="Folder path or id.")],
    new_name: Annotated[str, typer.Argument(help="The new name (one level, no '/').")],
) -> None:
    """Rename a folder (its definitions' paths change with it).

    secmsg folder rename Legal/Contracts Agreements
    """
    f = open_store(ctx).rename_folder(folder, new_name)
    say(f"Renamed folder to {f.path!r}.", quiet=state(ctx).quiet)


@folder_app.command("move")
def move(
    ctx: typer.Context,
    folder: Annotated[str, typer.Argument(help="Folder path or id.")],
    new_parent: Annotated[str, typer.Argument(help="The new parent folder, or / for the root.")],
) -> None:
    """Move a folder under another folder (or / for the root).

    secmsg folder move Contracts Legal
    """
    f = open_store(ctx).move_folder(folder, new_parent)
    say(f"Moved folder to {f.path!r}.", quiet=state(ctx).quiet)


@folder_app.command("delete")
def delete(
    ctx: typer.Context,
    folder: Annotated[str, typer.Argument(help="Folder path or id.")],
    recursive: Annotated[
        bool,
        typer.Option("--recursive", "-r", help="Also delete its subfolders and definitions."),
    ] = False,
) -> None:
    """Delete a folder (refused while it holds anything unless --recursive,
    and always while a policy or content definition uses a definition in it).

        secmsg folder delete Templates --recursive
    """
    f = open_store(ctx).delete_folder(folder, recursive=recursive)
    say(f"Deleted folder {f.path!r}.", quiet=state(ctx).quiet)


@folder_app.command("publish")
def publish(
    ctx: typer.Context,
    folder: Annotated[str, typer.Argument(help="Folder path or id.")],
    targets: Annotated[list[str], typer.Argument(help="'everyone' and/or group names.")],
) -> None:
    """Publish a folder's definitions to everyone or to groups (adds to its own list).

    secmsg folder publish Finance Finance Board
    """
    f = open_store(ctx).publish_folder(folder, targets)
    say(f"Folder {f.path!r} is published to {_publish_text(f)}.", quiet=state(ctx).quiet)


@folder_app.command("unpublish")
def unpublish(
    ctx: typer.Context,
    folder: Annotated[str, typer.Argument(help="Folder path or id.")],
    targets: Annotated[
        list[str] | None, typer.Argument(help="Targets to remove; none = publish to nobody.")
    ] = None,
    inherit: Annotated[
        bool,
        typer.Option("--inherit", help="Drop the folder's own list and inherit its parent's."),
    ] = False,
) -> None:
    """Remove 'everyone' or groups from a folder's publish list.

    secmsg folder unpublish Finance Board
    secmsg folder unpublish Templates            # nobody
    secmsg folder unpublish HR/Archive --inherit # as its parent
    """
    f = open_store(ctx).unpublish_folder(folder, targets or [], inherit=inherit)
    say(f"Folder {f.path!r} is published to {_publish_text(f)}.", quiet=state(ctx).quiet)


def register(app: typer.Typer) -> None:
    app.add_typer(folder_app, name="folder")
