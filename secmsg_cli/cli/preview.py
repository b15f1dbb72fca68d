"""``secmsg preview MSG``: what each recipient would get, written as files a
browser opens; nothing is sent or stored (:mod:`secmsg_cli.web.preview`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from secmsg_cli.cli._common import open_store, state
from secmsg_cli.cli._context import (
    AtOpt,
    DefinitionOpt,
    MailFromOpt,
    MaxDepthOpt,
    MaxPartsOpt,
    MaxRecipientsOpt,
    MaxSizeOpt,
    MaxTextOpt,
    RcptOpt,
    SourceIpOpt,
    ViaOpt,
)
from secmsg_cli.cli._output import Output, emit, say
from secmsg_cli.cli._values import build_context, parse_limits, printable
from secmsg_cli.errors import InvalidInput, SecmsgError

if TYPE_CHECKING:
    from pathlib import Path

    from secmsg_cli.web.preview import Preview


def preview(
    ctx: typer.Context,
    path: Annotated[str, typer.Argument(help="One message: an .eml file, or - (stdin).")],
    out: Annotated[
        str,
        typer.Option(
            "--out",
            metavar="DIR",
            help="The folder to write (new or empty, or an earlier preview with --replace).",
        ),
    ],
    mail_from: MailFromOpt = None,
    rcpt: RcptOpt = None,
    source_ip: SourceIpOpt = None,
    at: AtOpt = None,
    via: ViaOpt = None,
    definition: DefinitionOpt = None,
    max_size: MaxSizeOpt = "50MB",
    max_depth: MaxDepthOpt = None,
    max_parts: MaxPartsOpt = None,
    max_text: MaxTextOpt = None,
    max_recipients: MaxRecipientsOpt = None,
    replace: Annotated[
        bool,
        typer.Option("--replace", help="Replace the earlier preview that DIR holds."),
    ] = False,
    open_: Annotated[
        bool,
        typer.Option("--open", help="Open the first recipient's page in the default browser."),
    ] = False,
    output: Annotated[
        Output,
        typer.Option("--output", "-o", help="table or json.", case_sensitive=False),
    ] = Output.table,
) -> None:
    """Write what each recipient would get, as files a browser opens; nothing is sent or stored.

    Decides the message exactly as deliver does, then writes into DIR, for each
    portal recipient, the notification (.eml, and its HTML and text parts), the
    page its link shows and the portal page as the recipient would see them;
    for each internal recipient
    of a secure message, the banner-stamped copy and a page of it; and an
    index.html linking them all. The link in a preview notification carries
    the word "preview" where the recipient's token would be.

        secmsg preview fixtures/messages/01-confidential-subject-to-counsel.eml --out /tmp/preview --at 2026-11-27T10:00:00Z
        secmsg preview msg.eml --definition "Legal/7-Day Expiry, Receipt" --out /tmp/preview --open
    """
    from secmsg_cli.cli.deliver import not_decided
    from secmsg_cli.runner import is_single, iter_inputs, parse_size, run_one
    from secmsg_cli.web.preview import build, write

    if output not in (Output.table, Output.json):
        raise InvalidInput(f"invalid -o {output.value}: preview writes table or json")
    limit = parse_size(max_size)
    limits = parse_limits(
        max_depth=max_depth, max_parts=max_parts, max_text=max_text, max_recipients=max_recipients
    )
    store = open_store(ctx)
    snapshot = store.snapshot()
    context = build_context(
        snapshot,
        mail_from=mail_from,
        rcpt=rcpt,
        source_ip=source_ip,
        at=at,
        via=via,
        definition=definition,
        explain=False,
        limits=limits,
    )
    if not is_single([path], limit):
        raise InvalidInput(
            f"{path}: preview takes one message (an .eml file or -), not a folder or mbox"
        )
    item = next(iter_inputs([path], limit))
    decision, error = run_one(snapshot, item, context, limit)
    if error is None and decision is not None and decision.undecided:
        error = f"{not_decided(decision, limits)}: deliver would refuse it"
    if error is not None or decision is None:
        raise SecmsgError(f"{item.source}: {error}")
    shown = build(store, snapshot, decision, item.data or b"", limits=limits)
    folder = write(shown, out, replace=replace)
    first = shown.first
    if output is Output.json:
        emit(
            {
                "source": item.source,
                "out": str(folder),
                "recipients": [
                    {
                        "address": s.address,
                        "route": s.route,
                        "secure": s.secure,
                        "definition": s.definition,
                        "files": [
                            str(folder / f.name) for f in shown.files if f.recipient == s.address
                        ],
                    }
                    for s in shown.recipients
                ],
                "index": str(folder / "index.html"),
            },
            output,
        )
    else:
        _print(shown, folder, quiet=state(ctx).quiet)
    if open_ and first is not None:
        import webbrowser

        if not webbrowser.open((folder / first.name).absolute().as_uri()):
            raise SecmsgError(
                f"no browser could be started: open {printable(str(folder / first.name))} yourself"
            )


def _print(shown: Preview, folder: Path, *, quiet: bool) -> None:
    from rich.text import Text

    from secmsg_cli.cli._output import console, print_table

    out = console()
    print_table(
        out,
        ["recipient", "route", "definition"],
        [
            [
                Text(printable(s.address)),
                Text(s.route or "" if s.secure else "not secure"),
                Text(printable(s.definition or "")),
            ]
            for s in shown.recipients
        ],
        title=Text("preview"),
        drop=["definition"],
    )
    say(
        f"Preview written to {printable(str(folder))}: open {printable(str(folder / 'index.html'))}. "
        "Nothing was sent or stored.",
        quiet=quiet,
    )


def register(app: typer.Typer) -> None:
    app.command("preview")(preview)
