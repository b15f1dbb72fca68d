"""``secmsg notification-template ...``: the named notification templates
(docs/configuration.md). They are written by ``import`` and ``apply`` (with
their logo files); here they are listed, shown and removed, and a definition
chooses one with ``definition update --notification-template``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from secmsg_cli.cli._common import OutputOpt, open_store, state, sub_app
from secmsg_cli.cli._output import Output, emit, say

if TYPE_CHECKING:
    from secmsg_cli.model import NotificationTemplate

template_app = sub_app(
    "Notification templates: what a definition's portal recipients are sent "
    "(written by import and apply)."
)


def _row(t: NotificationTemplate, users: list[str]) -> dict[str, Any]:
    return {
        "id": t.id,
        "name": t.name,
        "subject": t.subject,
        "sender_name": t.sender_name,
        "logo": t.logo,
        "logo_type": t.logo_type,
        "logo_bytes": None if t.logo_data is None else len(t.logo_data),
        "html": t.html,
        "text": t.text,
        "definitions": users,
    }


@template_app.command("list")
def list_(ctx: typer.Context, output: OutputOpt = Output.table) -> None:
    """List notification templates and the definitions that use them.

    secmsg notification-template list
    """
    records = open_store(ctx).template_records
    rows = [_row(t, records.users(t.id)) for t in records.templates()]
    emit(rows, output, columns=["id", "name", "subject", "logo", "definitions"])


@template_app.command("show")
def show(
    ctx: typer.Context,
    template: Annotated[str, typer.Argument(help="Name or id.")],
    output: OutputOpt = Output.table,
) -> None:
    """Show a notification template: subject, sender name, logo, HTML and text.

    secmsg notification-template show Branded -o json
    """
    records = open_store(ctx).template_records
    t = records.template(template)
    emit(_row(t, records.users(t.id)), output)


@template_app.command("remove")
def remove(
    ctx: typer.Context, template: Annotated[str, typer.Argument(help="Name or id.")]
) -> None:
    """Remove a notification template (refused while a definition uses it).

    secmsg notification-template remove Branded
    """
    t = open_store(ctx).template_records.delete_template(template)
    say(f"Removed notification template {t.name!r}.", quiet=state(ctx).quiet)


def register(app: typer.Typer) -> None:
    app.add_typer(template_app, name="notification-template")
