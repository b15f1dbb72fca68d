"""``secmsg account show|set``."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer

from secmsg_cli.cli._common import OutputOpt, open_store, state, sub_app
from secmsg_cli.cli._output import Output, emit, say
from secmsg_cli.errors import InvalidInput

account_app = sub_app("The account (organisation) settings of the store.")


@account_app.command("show")
def show(ctx: typer.Context, output: OutputOpt = Output.table) -> None:
    """Show the account settings.

    secmsg account show -o json
    """
    emit(asdict(open_store(ctx).account()), output)


@account_app.command("set")
def set_(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Option(help="Organisation name.")] = None,
    edition: Annotated[
        str | None,
        typer.Option(help="full or lite (lite allows only the built-in definitions)."),
    ] = None,
    max_retention_days: Annotated[
        str | None,
        typer.Option(
            "--max-retention-days",
            help="Longest retention in days ('never' expiry means this).",
        ),
    ] = None,
    timezone: Annotated[
        str | None,
        typer.Option(help="IANA time zone for date-only values and display, e.g. Europe/London."),
    ] = None,
    portal_url: Annotated[
        str | None,
        typer.Option("--portal-url", help="Secure Messaging Portal URL used in notifications."),
    ] = None,
    bypass_scope: Annotated[
        str | None,
        typer.Option(
            "--bypass-scope",
            help="policy (bypass removes policy triggers) or all (also user and content).",
        ),
    ] = None,
    expired_view: Annotated[
        bool | None,
        typer.Option(
            "--expired-view/--no-expired-view",
            help="Whether external recipients may still view and print expired messages.",
        ),
    ] = None,
    output: OutputOpt = Output.table,
) -> None:
    """Change account settings.

    secmsg account set --name "Example Corp" --timezone Europe/London
    """
    changes = {
        k: v
        for k, v in {
            "name": name,
            "edition": edition,
            "max_retention_days": max_retention_days,
            "timezone": timezone,
            "portal_url": portal_url,
            "bypass_scope": bypass_scope,
            "expired_view": expired_view,
        }.items()
        if v is not None
    }
    if not changes:
        raise InvalidInput(
            "nothing to change: give at least one setting, e.g. --timezone Europe/London"
        )
    store = open_store(ctx)
    account = store.set_account(changes)
    if output is Output.table:
        say(f"Updated account: {', '.join(changes)}.", quiet=state(ctx).quiet)
    else:
        emit(asdict(account), output)


def register(app: typer.Typer) -> None:
    app.add_typer(account_app, name="account")
