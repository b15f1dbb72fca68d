"""``secmsg definition ...``: Secure Messaging definitions (docs/configuration.md)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from secmsg_cli.cli._common import OutputOpt, open_store, state, sub_app
from secmsg_cli.cli._output import Output, emit, say
from secmsg_cli.errors import InvalidInput, Refused
from secmsg_cli.model import split_definition_path

if TYPE_CHECKING:
    from secmsg_cli.model import Definition


def definition_row(d: Definition) -> dict[str, Any]:
    """A definition as JSON: the config fields (docs/configuration.md) plus id, path and the
    effective reply-all (docs/configuration.md)."""
    return {
        "id": d.id,
        "path": d.path,
        "folder": d.folder,
        "description": d.description,
        "allow_print": d.allow_print,
        "allow_reply": d.allow_reply,
        "allow_reply_all": d.allow_reply_all,
        "allow_reply_all_effective": d.effective_allow_reply_all,
        "expire_after": str(d.expire_after),
        "max_extension": str(d.max_extension),
        "read_receipt": d.read_receipt,
        "banner": d.banner,
        "notification_template": d.notification_template,
        "routing": d.routing,
        "builtin": d.builtin,
    }


def _banner_kind(d: Definition) -> str:
    if d.banner is None:
        return "standard"
    return "hidden" if "mc-sm-hide" in d.banner else "custom"


PrintOpt = Annotated[
    bool | None, typer.Option("--print/--no-print", help="External recipients may print.")
]
ReplyOpt = Annotated[
    bool | None,
    typer.Option("--reply/--no-reply", help="External recipients may reply to the sender."),
]
ReplyAllOpt = Annotated[
    bool | None,
    typer.Option(
        "--reply-all/--no-reply-all", help="May reply to all (effective only with --reply)."
    ),
]
ExpireOpt = Annotated[
    str | None, typer.Option("--expire-after", help="e.g. 7d, 12h, 2w, 1y, '7 days' or never.")
]
ExtensionOpt = Annotated[
    str | None,
    typer.Option(
        "--max-extension", help="How far the sender may extend expiry in total, e.g. 14d."
    ),
]
ReceiptOpt = Annotated[
    bool | None,
    typer.Option("--read-receipt/--no-read-receipt", help="Notify the sender on first view."),
]
BannerOpt = Annotated[
    str | None,
    typer.Option("--banner", help="Custom internal banner (text/HTML, tags like [sender])."),
]
BannerFileOpt = Annotated[
    Path | None,
    typer.Option("--banner-file", help="Read the custom banner from a file.", dir_okay=False),
]


def _settings(
    print_: bool | None,
    reply: bool | None,
    reply_all: bool | None,
    expire_after: str | None,
    max_extension: str | None,
    read_receipt: bool | None,
    banner: str | None,
    banner_file: Path | None,
) -> dict[str, Any]:
    if banner is not None and banner_file is not None:
        raise InvalidInput("give --banner or --banner-file, not both")
    if banner_file is not None:
        try:
            banner = banner_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"cannot read banner file {banner_file}: {exc}") from None
    values = {
        "allow_print": print_,
        "allow_reply": reply,
        "allow_reply_all": reply_all,
        "expire_after": expire_after,
        "max_extension": max_extension,
        "read_receipt": read_receipt,
        "banner": banner,
    }
    return {k: v for k, v in values.items() if v is not None}


TemplateOpt = Annotated[
    str | None,
    typer.Option(
        "--notification-template",
        help="Send its portal recipients this notification template (see notification-template list).",
    ),
]


definition_app = sub_app(
    "Secure Messaging definitions: permissions, expiry and banner of a secure message."
)


@definition_app.command("create")
def create(
    ctx: typer.Context,
    path: Annotated[str, typer.Argument(help="FOLDER/DESCRIPTION, e.g. 'Legal/7-Day Expiry'.")],
    print_: PrintOpt = None,
    reply: ReplyOpt = None,
    reply_all: ReplyAllOpt = None,
    expire_after: ExpireOpt = None,
    max_extension: ExtensionOpt = None,
    read_receipt: ReceiptOpt = None,
    banner: BannerOpt = None,
    banner_file: BannerFileOpt = None,
    notification_template: TemplateOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Create a definition in an existing folder (not the root).

    secmsg definition create "Legal/7-Day Expiry" --expire-after 7d --read-receipt --max-extension 14d
    """
    if "/" not in path.strip().strip("/"):
        raise Refused(
            f"cannot create definition {path!r} in the root folder '/': give FOLDER/DESCRIPTION "
            "such as Legal/7-Day Expiry (create the folder first)"
        )
    folder, description = split_definition_path(path)
    values = _settings(
        print_, reply, reply_all, expire_after, max_extension, read_receipt, banner, banner_file
    )
    if notification_template is not None:
        values["notification_template"] = notification_template
    d = open_store(ctx).create_definition(folder, description, **values)
    if output is Output.table:
        say(f"Created definition {d.path!r} (id {d.id}).", quiet=state(ctx).quiet)
    else:
        emit(definition_row(d), output)


@definition_app.command("list")
def list_(
    ctx: typer.Context,
    folder: Annotated[
        str | None,
        typer.Option("--folder", "-f", help="Only definitions directly in this folder."),
    ] = None,
    output: OutputOpt = Output.table,
) -> None:
    """List definitions.

    secmsg definition list --folder Legal -o json
    """
    defs = open_store(ctx).definitions(folder)
    rows = [definition_row(d) | {"banner_kind": _banner_kind(d)} for d in defs]
    emit(
        rows,
        output,
        columns=None
        if output is not Output.table
        else [
            "id",
            "path",
            "allow_print:print",
            "allow_reply:reply",
            "allow_reply_all_effective:reply all",
            "expire_after:expires",
            "max_extension:extension",
            "read_receipt:receipt",
            "banner_kind:banner",
            "routing",
            "builtin",
        ],
        drop=[
            "builtin",
            "max_extension",
            "banner_kind",
            "routing",
            "read_receipt",
            "allow_reply_all_effective",
            "allow_reply",
            "allow_print",
        ],
        whole=["path"],
        empty="no definitions",
    )


@definition_app.command("show")
def show(
    ctx: typer.Context,
    definition: Annotated[str, typer.Argument(help="Path or id.")],
    output: OutputOpt = Output.table,
) -> None:
    """Show every field of a definition.

    secmsg definition show "Legal/7-Day Expiry"
    """
    emit(definition_row(open_store(ctx).definition(definition)), output)


@definition_app.command("update")
def update(
    ctx: typer.Context,
    definition: Annotated[str, typer.Argument(help="Path or id.")],
    print_: PrintOpt = None,
    reply: ReplyOpt = None,
    reply_all: ReplyAllOpt = None,
    expire_after: ExpireOpt = None,
    max_extension: ExtensionOpt = None,
    read_receipt: ReceiptOpt = None,
    banner: BannerOpt = None,
    banner_file: BannerFileOpt = None,
    no_banner: Annotated[
        bool, typer.Option("--no-banner", help="Go back to the standard banner.")
    ] = False,
    description: Annotated[
        str | None, typer.Option("--description", help="Rename (the new description).")
    ] = None,
    folder: Annotated[str | None, typer.Option("--folder", help="Move to this folder.")] = None,
    notification_template: TemplateOpt = None,
    builtin_notification: Annotated[
        bool,
        typer.Option("--builtin-notification", help="Go back to the built-in notification."),
    ] = False,
    output: OutputOpt = Output.table,
) -> None:
    """Change a definition's settings, description or folder (built-ins are read-only).

    secmsg definition update "Legal/7-Day Expiry" --expire-after 14d --description "14-Day Expiry"
    """
    values = _settings(
        print_, reply, reply_all, expire_after, max_extension, read_receipt, banner, banner_file
    )
    if no_banner:
        if "banner" in values:
            raise InvalidInput("give --no-banner or a banner, not both")
        values["banner"] = None
    if notification_template is not None and builtin_notification:
        raise InvalidInput("give --notification-template or --builtin-notification, not both")
    if notification_template is not None or builtin_notification:
        values["notification_template"] = notification_template
    if description is not None:
        values["description"] = description
    if folder is not None:
        values["folder"] = folder
    if not values:
        raise InvalidInput("nothing to change: give at least one option, e.g. --expire-after 14d")
    d = open_store(ctx).update_definition(definition, **values)
    if output is Output.table:
        say(f"Updated definition {d.path!r} (id {d.id}).", quiet=state(ctx).quiet)
    else:
        emit(definition_row(d), output)


@definition_app.command("delete")
def delete(
    ctx: typer.Context, definition: Annotated[str, typer.Argument(help="Path or id.")]
) -> None:
    """Delete a definition (refused for built-ins and while a policy uses it).

    secmsg definition delete "Legal/7-Day Expiry"
    """
    d = open_store(ctx).delete_definition(definition)
    say(f"Deleted definition {d.path!r}.", quiet=state(ctx).quiet)


def register(app: typer.Typer) -> None:
    app.add_typer(definition_app, name="definition")
