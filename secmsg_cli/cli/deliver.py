"""``secmsg deliver PATH...``: commit what ``simulate`` shows (docs/portal.md).

The same inputs, context options and engine as ``simulate`` (``iter_inputs``,
``run_one``, ``decide``); then, one store transaction per message, each
portal recipient's copy is retained and every email the system would send is
written to the outbox Maildir. A message that cannot be decided or delivered
leaves nothing behind, and the batch goes on (exit 1 at the end).
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from secmsg_cli.cli._common import open_store, state
from secmsg_cli.cli._context import (
    AtOpt,
    DefinitionOpt,
    ExplainOpt,
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
from secmsg_cli.cli._output import Output, console, csv_rows, to_json, to_json_line
from secmsg_cli.cli._values import build_context, parse_limits, printable
from secmsg_cli.errors import SecmsgError

if TYPE_CHECKING:
    from datetime import tzinfo

    from rich.console import Console

    from secmsg_cli.delivery.outbox import Outbox

OutboxOpt = Annotated[
    str | None,
    typer.Option(
        "--outbox",
        metavar="DIR",
        help="The outbox Maildir (default: beside the store, <store>.outbox).",
    ),
]


def outbox_for(store: Any, option: str | None) -> Outbox:
    """The outbox (``--outbox`` or beside the store), with what a stopped
    earlier run left in its ``tmp/`` finished first (docs/portal.md)."""
    from secmsg_cli.delivery.lifecycle import recover_outbox
    from secmsg_cli.delivery.outbox import Outbox, default_outbox

    box = Outbox(option if option else default_outbox(store.path))
    moved, removed = recover_outbox(store, box)
    if moved or removed:
        sys.stderr.write(
            f"outbox {printable(str(box.path))}: an earlier run stopped half-way; "
            f"{len(moved)} file(s) of committed deliveries moved to new/, "
            f"{len(removed)} file(s) of deliveries that never committed removed\n"
        )
    return box


def not_decided(decision: Any, limits: Any) -> str:
    """Why a message with recipients the engine did not decide is refused
    (by deliver, and so by preview): how many, and what left them out."""
    return (
        f"{decision.undecided} recipient(s) were not decided (past --max-recipients "
        f"{limits.recipients}, or in address headers too long to read)"
    )


def _print_delivered(out: Console, delivered: Any, tz: tzinfo) -> None:
    from rich.text import Text

    from secmsg_cli.cli._output import print_table

    if not delivered.files:
        out.print(Text("nothing written: no recipient is secure", style="dim"))
        out.print()
        return
    print_table(
        out,
        ["portal id", "kind", "to", "outbox file"],
        [
            [
                Text(str(f.portal_id) if f.portal_id is not None else ""),
                Text(f.kind),
                Text(printable(", ".join(f.to))),
                Text(printable(str(f.path))),
            ]
            for f in delivered.files
        ],
        title=Text("delivered"),
        drop=["kind", "portal id"],
    )
    out.print()


def _json(decision: Any, delivered: Any, source: str, tz: tzinfo, explain: bool) -> dict[str, Any]:
    from secmsg_cli.engine.render import decision_to_json

    doc = decision_to_json(decision, source, tz, explain=explain)
    for r in doc["recipients"]:
        if r["portal"] is not None:
            r["portal"]["id"] = delivered.recipients.get(r["address"])
    doc["portal_ids"] = list(delivered.portal_ids)
    doc["outbox"] = [
        {"kind": f.kind, "to": list(f.to), "portal_id": f.portal_id, "path": str(f.path)}
        for f in delivered.files
    ]
    return doc


def deliver(
    ctx: typer.Context,
    paths: Annotated[
        list[str],
        typer.Argument(
            help=".eml files, - (stdin), directories (every .eml and mbox file below) or mbox files."
        ),
    ],
    mail_from: MailFromOpt = None,
    rcpt: RcptOpt = None,
    source_ip: SourceIpOpt = None,
    at: AtOpt = None,
    via: ViaOpt = None,
    definition: DefinitionOpt = None,
    explain: ExplainOpt = False,
    max_size: MaxSizeOpt = "50MB",
    max_depth: MaxDepthOpt = None,
    max_parts: MaxPartsOpt = None,
    max_text: MaxTextOpt = None,
    max_recipients: MaxRecipientsOpt = None,
    outbox: OutboxOpt = None,
    again: Annotated[
        bool,
        typer.Option(
            "--again",
            help="Deliver a message again to recipients who already have it (same Message-ID).",
        ),
    ] = False,
    output: Annotated[
        Output,
        typer.Option("--output", "-o", help="table, json, jsonl or csv.", case_sensitive=False),
    ] = Output.table,
) -> None:
    """Deliver messages: retain portal copies, write what would be emailed to the outbox.

    Decides each message exactly as simulate does, then, in one transaction per
    message: retains each portal recipient's copy (with the definition's settings
    as they are now) and writes to the outbox Maildir the notification of each
    portal recipient (it carries the access token; nothing else shows it) and the
    banner-stamped copy of each internal inbox recipient of a secure message.
    A message already delivered to one of its recipients (same Message-ID, or
    the same bytes when it has none) is refused, and nothing is written for it,
    unless --again is given.

        secmsg deliver fixtures/messages/01-confidential-subject-to-counsel.eml --at 2026-11-27T10:00:00Z
        secmsg deliver fixtures/messages -o json --outbox /tmp/outbox
    """
    from secmsg_cli.cli._boundary import line
    from secmsg_cli.cli.simulation import (
        CSV_COLUMNS,
        _print_decision,
        _print_error_row,
        csv_lines,
        warn_skipped,
    )
    from secmsg_cli.delivery.lifecycle import deliver as deliver_one
    from secmsg_cli.engine.render import error_to_json
    from secmsg_cli.runner import is_single, iter_inputs, parse_size, run_one

    csv_columns = (*CSV_COLUMNS, "portal_id")
    limit = parse_size(max_size)
    limits = parse_limits(
        max_depth=max_depth,
        max_parts=max_parts,
        max_text=max_text,
        max_recipients=max_recipients,
    )
    store = open_store(ctx)
    snapshot = store.snapshot()
    tz = snapshot.tz
    context = build_context(
        snapshot,
        mail_from=mail_from,
        rcpt=rcpt,
        source_ip=source_ip,
        at=at,
        via=via,
        definition=definition,
        explain=explain,
        limits=limits,
    )
    box = outbox_for(store, outbox)
    single = is_single(paths, limit)
    out = console()
    debug = os.environ.get("SECMSG_DEBUG") == "1"
    counts = {"messages": 0, "portal": 0, "files": 0, "errors": 0}
    first = True
    if output is Output.json and not single:
        sys.stdout.write("[")
    elif output is Output.csv:
        sys.stdout.write(csv_rows([csv_columns]))
    skipped = None if state(ctx).quiet else warn_skipped
    for item in iter_inputs(paths, limit, skipped):
        counts["messages"] += 1
        decision, error = run_one(snapshot, item, context, limit)
        delivered = None
        if error is None and decision is not None and decision.undecided:
            # Delivering it would leave those recipients to chance (the
            # mail system would send them the message unexamined).
            error = (
                f"{not_decided(decision, limits)}: nothing delivered; "
                "raise --max-recipients to deliver it"
            )
        if error is None and decision is not None:
            try:
                delivered = deliver_one(
                    store,
                    snapshot,
                    decision,
                    item.data or b"",
                    box,
                    source=item.source,
                    again=again,
                    limits=limits,
                )
            except SecmsgError as exc:
                error = str(exc)
            except Exception as exc:
                if debug:
                    raise
                error = f"internal error: {type(exc).__name__}: {exc}"
        if error is not None:
            counts["errors"] += 1
        elif delivered is not None:  # (always, without an error)
            counts["portal"] += len(delivered.portal_ids)
            counts["files"] += len(delivered.files)
        if output is Output.table:
            if error is not None and single:
                sys.stderr.write(f"error: {line(f'{item.source}: {error}')}\n")
            elif error is not None:
                _print_error_row(
                    out, item.source, error
                )  # escaped, not markup, as simulate shows it
            else:
                _print_decision(out, item.source, decision, tz, explain)
                _print_delivered(out, delivered, tz)
        else:
            doc = (
                error_to_json(item.source, error)
                if error is not None
                else _json(decision, delivered, item.source, tz, explain)
            )
            if output is Output.csv:
                sys.stdout.write(csv_lines(doc, csv_columns))
            elif output is Output.jsonl or single:
                sys.stdout.write(
                    (to_json_line(doc) if output is Output.jsonl else to_json(doc)) + "\n"
                )
            else:
                sys.stdout.write(("\n" if first else ",\n") + to_json(doc))
        first = False
    if output is Output.json and not single:
        sys.stdout.write("\n]\n" if not first else "]\n")
    if not state(ctx).quiet:
        sys.stderr.write(
            f"{counts['messages']} message(s): {counts['portal']} portal "
            f"cop{'y' if counts['portal'] == 1 else 'ies'} retained, {counts['files']} message(s) written to "
            f"the outbox {printable(str(box.path))}, {counts['errors']} error(s)\n"
        )
    if counts["errors"]:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("deliver")(deliver)
