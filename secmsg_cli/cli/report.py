"""``secmsg report ...``: reports an administrator can act on (docs/reports.md).

From the store (the portal's copies): ``messages``, ``reads``, ``expiring``,
``ended``, ``senders``; they take ``portal list``'s filters and a period of
sending (``--since``/``--until``). From a corpus run: ``run FILE``, the
output of ``secmsg simulate DIR -o jsonl``. Tables for people (with bars
where a share reads better than a number), ``-o json|jsonl|csv`` for tools.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from secmsg_cli.cli._common import OutputOpt, open_store, state, sub_app
from secmsg_cli.cli._output import Output, console, emit, print_table, say
from secmsg_cli.cli._values import parse_at, parse_bound, printable
from secmsg_cli.cli.portal import (
    DefinitionFilterOpt,
    RecipientOpt,
    SenderOpt,
    _iso,
    _row,
    copy_filter,
)
from secmsg_cli.errors import InvalidInput
from secmsg_cli.store.portal import STATUSES

if TYPE_CHECKING:
    from datetime import datetime, tzinfo

    from rich.text import Text

    from secmsg_cli.store.portal import CopyFilter

report_app = sub_app(
    "Reports: secure messages, reads, expiring and ended copies, top senders; a corpus run."
)

SinceOpt = Annotated[
    str | None,
    typer.Option("--since", metavar="TIME", help="Sent at or after (a date: from its start)."),
]
AtOpt = Annotated[
    str | None,
    typer.Option("--at", help="Judge each copy's status at this time, ISO 8601 (default now)."),
]
UntilOpt = Annotated[
    str | None,
    typer.Option("--until", metavar="TIME", help="Sent before (a date: up to its end)."),
]

BY_CHOICES = ("definition", "trigger", "sender-domain")
BAR_WIDTH = 12
_EIGHTHS = " ▏▎▍▌▋▊▉"


def bar(share: float, width: int = BAR_WIDTH) -> Text:
    """A share (0 to 1) as a bar of ``width`` cells, in eighths of a cell."""
    from rich.text import Text

    eighths = round(max(0.0, min(1.0, share)) * width * 8)
    full, part = divmod(eighths, 8)
    return Text("█" * full + (_EIGHTHS[part] if part else ""), style="cyan")


def share_cell(share: float | None, width: int = BAR_WIDTH) -> Text:
    """A share as a percentage and its bar, in one column headed "share"."""
    from rich.text import Text

    return Text.assemble(f"{_percent(share):>6} ", bar(share or 0, width))


def _percent(share: float | None) -> str:
    return "" if share is None else f"{share * 100:.1f}%"


def _text(value: Any) -> Text:
    from rich.text import Text

    return Text(printable("" if value is None else str(value), one_line=True))


def _span(seconds: float | None) -> str:
    """A duration for people: ``2d 3h``, ``4h 05m``, ``12m``, ``40s``."""
    if seconds is None:
        return ""
    s = round(seconds)
    days, rest = divmod(s, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m"
    return f"{secs}s"


def _table(headers: Sequence[str], rows: Sequence[Sequence[Text]], title: str) -> None:
    """A table for people: every column headed, fit to the terminal."""
    print_table(console(), headers, rows, title=title, drop=list(reversed(headers[1:])))


def _filters(
    store: Any,
    at: str | None,
    *,
    since: str | None,
    until: str | None,
    sender: str | None,
    recipient: str | None,
    definition: str | None,
) -> tuple[CopyFilter, datetime, tzinfo]:
    tz = store.account_tz()
    moment = parse_at(at, tz)
    where = copy_filter(tz, moment, sender=sender, recipient=recipient, definition=definition)
    where = dataclasses.replace(
        where,
        sent_since=parse_bound(since, "--since", tz, end=False),
        sent_until=parse_bound(until, "--until", tz, end=True),
    )
    return where, moment, tz


def _when(moment: datetime, tz: tzinfo) -> str:
    """A bound of the period as tables show times; a bound at the edge of the
    calendar (year 1 east of UTC) as it was given."""
    with contextlib.suppress(OverflowError):
        moment = moment.astimezone(tz)
    return moment.isoformat()[:16].replace("T", " ")


def _period(where: CopyFilter, tz: tzinfo) -> str:
    since, until = where.sent_since, where.sent_until
    if since and until:
        return f"sent from {_when(since, tz)} to before {_when(until, tz)}"
    if since:
        return f"sent from {_when(since, tz)}"
    if until:
        return f"sent before {_when(until, tz)}"
    return "all sent"


def _reports(store: Any) -> Any:
    from secmsg_cli.store.reports import PortalReports

    return PortalReports(store)


# --- from the store -----------------------------------------------------------------


@report_app.command("messages")
def messages(
    ctx: typer.Context,
    by: Annotated[
        list[str] | None,
        typer.Option(
            "--by",
            metavar="definition|trigger|sender-domain",
            help="Count by this; repeatable (default: all three).",
        ),
    ] = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    sender: SenderOpt = None,
    recipient: RecipientOpt = None,
    definition: DefinitionFilterOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Secure messages sent through the portal, by definition, trigger and
    sender domain: copies (one per portal recipient) and distinct messages.

    A copy delivered before secmsg recorded triggers has none (unknown).

        secmsg report messages --since 2026-11-01 --until 2026-11-30
        secmsg report messages --by trigger -o csv
    """
    store = open_store(ctx)
    where, _, tz = _filters(
        store,
        None,
        since=since,
        until=until,
        sender=sender,
        recipient=recipient,
        definition=definition,
    )
    groups = [g.strip().lower() for g in by or BY_CHOICES]
    for g in groups:
        if g not in BY_CHOICES:
            raise InvalidInput(f"invalid --by {g!r}: expected one of {', '.join(BY_CHOICES)}")
    reports = _reports(store)
    copies, total_messages = reports.totals(where)
    rows: list[dict[str, Any]] = []
    for g in dict.fromkeys(groups):
        for t in reports.by(g, where):
            rows.append(
                {
                    "by": g,
                    "key": t.key,
                    "copies": t.copies,
                    "messages": t.messages,
                    "share": round(t.copies / copies, 4) if copies else None,
                }
            )
    if output is not Output.table:
        emit(rows, output, columns=["by", "key", "copies", "messages", "share"])
        return
    if not copies:
        sys.stderr.write(f"no portal copies ({_period(where, tz)})\n")
        return
    for g in dict.fromkeys(groups):
        _table(
            [g.replace("-", " "), "copies", "messages", "share"],
            [
                [
                    _text(r["key"] if r["key"] is not None else "(unknown)"),
                    _text(r["copies"]),
                    _text(r["messages"]),
                    share_cell(r["share"]),
                ]
                for r in rows
                if r["by"] == g
            ],
            title=f"by {g.replace('-', ' ')}",
        )
    say(
        f"{copies} {'copy' if copies == 1 else 'copies'} of {total_messages} "
        f"message{'' if total_messages == 1 else 's'}, {_period(where, tz)}",
        quiet=state(ctx).quiet,
    )


@report_app.command("reads")
def reads(
    ctx: typer.Context,
    since: SinceOpt = None,
    until: UntilOpt = None,
    sender: SenderOpt = None,
    recipient: RecipientOpt = None,
    definition: DefinitionFilterOpt = None,
    at: AtOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Read and unread copies per definition (and expired, recalled,
    revoked at --at), and the time from sending to first read: median, 90th
    percentile and longest. The last row counts every copy.

        secmsg report reads --since 2026-11-01
    """
    store = open_store(ctx)
    where, moment, tz = _filters(
        store,
        at,
        since=since,
        until=until,
        sender=sender,
        recipient=recipient,
        definition=definition,
    )
    rows = []
    for r in _reports(store).reads(where, moment):
        rows.append(
            {
                "definition": r.definition,
                "copies": r.copies,
                "opened": r.opened,
                "opened_share": round(r.opened / r.copies, 4) if r.copies else None,
                **{s: r.statuses[s] for s in STATUSES},
                "first_read_median_s": r.first_read_median,
                "first_read_p90_s": r.first_read_p90,
                "first_read_max_s": r.first_read_max,
            }
        )
    if output is not Output.table:
        emit(rows, output)
        return
    if not rows:
        sys.stderr.write(f"no portal copies ({_period(where, tz)})\n")
        return
    shown = [s for s in STATUSES if any(r[s] for r in rows) or s in ("unread", "read")]
    when = (_iso(moment, tz) or "")[:16].replace("T", " ")
    name = [_text(r["definition"] if r["definition"] is not None else "all") for r in rows]
    _table(
        ["definition", "copies", *shown],
        [
            [n, _text(r["copies"]), *(_text(r[s]) for s in shown)]
            for n, r in zip(name, rows, strict=True)
        ],
        title=f"status at {when}",
    )
    _table(
        ["definition", "opened", "share", "median", "p90", "max"],
        [
            [
                n,
                _text(r["opened"]),
                share_cell(r["opened_share"], 8),
                _text(_span(r["first_read_median_s"])),
                _text(_span(r["first_read_p90_s"])),
                _text(_span(r["first_read_max_s"])),
            ]
            for n, r in zip(name, rows, strict=True)
        ],
        title="time from sending to first read",
    )
    say(_period(where, tz), quiet=state(ctx).quiet)


def _copy_rows(copies: Sequence[Any], moment: datetime, tz: tzinfo) -> list[dict[str, Any]]:
    return [_row(c, moment, tz) for c in copies]


@report_app.command("expiring")
def expiring(
    ctx: typer.Context,
    days: Annotated[
        int, typer.Option("--days", min=1, max=36500, help="Expiring within this many days.")
    ] = 7,
    since: SinceOpt = None,
    until: UntilOpt = None,
    sender: SenderOpt = None,
    recipient: RecipientOpt = None,
    definition: DefinitionFilterOpt = None,
    at: AtOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Copies that expire within the next --days days after --at, neither
    expired nor ended yet: the unread ones first (their recipients have not
    seen them), then by expiry.

        secmsg report expiring --days 3
    """
    store = open_store(ctx)
    where, moment, tz = _filters(
        store,
        at,
        since=since,
        until=until,
        sender=sender,
        recipient=recipient,
        definition=definition,
    )
    rows = _copy_rows(_reports(store).expiring(where, moment, days), moment, tz)
    emit(
        rows,
        output,
        columns=(
            ["id", "status", "expires", "recipient", "sender", "subject", "definition"]
            if output is Output.table
            else None
        ),
        drop=["definition", "sender", "subject"],
        whole=["definition"],
        empty=f"no portal copies expire within {days} day{'' if days == 1 else 's'}",
    )
    if output is Output.table and rows:
        unread = sum(r["status"] == "unread" for r in rows)
        say(
            f"{len(rows)} {'copy expires' if len(rows) == 1 else 'copies expire'} within {days} "
            f"day{'' if days == 1 else 's'}: {unread} unread",
            quiet=state(ctx).quiet,
        )


@report_app.command("ended")
def ended(
    ctx: typer.Context,
    since: SinceOpt = None,
    until: UntilOpt = None,
    sender: SenderOpt = None,
    recipient: RecipientOpt = None,
    definition: DefinitionFilterOpt = None,
    at: AtOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Recalled copies (by their sender, before they were read) and revoked
    copies (by an administrator), when, and who did it (from the audit log).

        secmsg report ended --since 2026-11-01 -o csv
    """
    store = open_store(ctx)
    where, moment, tz = _filters(
        store,
        at,
        since=since,
        until=until,
        sender=sender,
        recipient=recipient,
        definition=definition,
    )
    rows = []
    for e in _reports(store).ended(where):
        row = _row(e.copy, moment, tz)
        rows.append(
            {
                "id": row["id"],
                "ended": e.how,
                "ended_at": _iso(e.at, tz),
                "by": e.by,
                "recipient": row["recipient"],
                "sender": row["sender"],
                "subject": row["subject"],
                "definition": row["definition"],
                "sent": row["sent"],
                "read_at": row["read_at"],
            }
        )
    emit(
        rows,
        output,
        columns=(
            ["id", "ended", "ended_at:when", "by", "recipient", "subject", "read_at:read"]
            if output is Output.table
            else None
        ),
        drop=["read_at", "subject", "by"],
        empty="no recalled or revoked portal copies",
    )
    if output is Output.table and rows:
        revoked = sum(r["ended"] == "revoked" for r in rows)
        say(
            f"{len(rows) - revoked} recalled, {revoked} revoked, {_period(where, tz)}",
            quiet=state(ctx).quiet,
        )


@report_app.command("senders")
def senders(
    ctx: typer.Context,
    top: Annotated[int, typer.Option("--top", min=1, max=100000, help="How many senders.")] = 10,
    since: SinceOpt = None,
    until: UntilOpt = None,
    recipient: RecipientOpt = None,
    definition: DefinitionFilterOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """The senders of the most portal copies (the header From, else the
    envelope sender), with their messages and how many copies were opened.

        secmsg report senders --top 5 --since 2026-11-01
    """
    store = open_store(ctx)
    where, _, tz = _filters(
        store,
        None,
        since=since,
        until=until,
        sender=None,
        recipient=recipient,
        definition=definition,
    )
    reports = _reports(store)
    copies, _ = reports.totals(where)
    rows = [
        {
            "sender": s.sender,
            "messages": s.messages,
            "copies": s.copies,
            "opened": s.opened,
            "share": round(s.copies / copies, 4) if copies else None,
        }
        for s in reports.senders(where, top)
    ]
    if output is not Output.table:
        emit(rows, output)
        return
    if not rows:
        sys.stderr.write(f"no portal copies ({_period(where, tz)})\n")
        return
    _table(
        ["sender", "messages", "copies", "opened", "share"],
        [
            [
                _text(r["sender"]),
                _text(r["messages"]),
                _text(r["copies"]),
                _text(r["opened"]),
                share_cell(r["share"]),
            ]
            for r in rows
        ],
        title=f"top {top} senders",
    )
    say(
        f"of {copies} {'copy' if copies == 1 else 'copies'}, {_period(where, tz)}",
        quiet=state(ctx).quiet,
    )


# --- from a corpus run --------------------------------------------------------------

_SECTION_TITLES = {
    "route": "recipients by route",
    "trigger": "secured recipients by trigger",
    "definition": "secured recipients by definition",
    "policy": "recipients by deciding policy",
    "content_definition": "recipients a content definition fired for",
    "never_fired": "in the store, never fired in this run",
    "note": "messages with notes, by kind",
}


def _store_objects(ctx: typer.Context) -> list[Any] | None:
    """The store's policies and content definitions, or None when there is
    no store at the chosen path."""
    from secmsg_cli.run_report import StoreObject
    from secmsg_cli.store.paths import resolve_db_path

    if not resolve_db_path(state(ctx).db).exists():
        return None
    store = open_store(ctx)
    out = [StoreObject(p.kind, p.id, p.narrative) for p in store.policies()]
    out += [StoreObject("content-definition", c.id, c.name) for c in store.content_definitions()]
    return out


@report_app.command("run")
def run(
    ctx: typer.Context,
    file: Annotated[
        str,
        typer.Argument(
            help="The output of 'secmsg simulate DIR -o jsonl' (or -o json); - for stdin."
        ),
    ],
    output: OutputOpt = Output.table,
) -> None:
    """A corpus run: recipients by route, trigger, definition, deciding
    policy and content definition; the policies and content definitions of
    the store that never fired; the messages' notes (unscannable parts,
    limits) by kind.

    The never-fired section needs the store the run was simulated against
    (--db); without one it is left out, with a note.

        secmsg simulate corpus/ -o jsonl > run.jsonl
        secmsg report run run.jsonl
    """
    from secmsg_cli.run_report import RunTally, read_results

    tally = RunTally()
    if file.strip() == "-":
        name = "stdin"
        stream: Any = sys.stdin
        for _, result in read_results(stream, name):
            tally.add(result)
    else:
        path = Path(file)
        if not path.is_file():
            raise InvalidInput(f"{file}: no such file")
        try:
            with path.open(encoding="utf-8") as fh:
                for _, result in read_results(fh, file):
                    tally.add(result)
        except UnicodeDecodeError:
            raise InvalidInput(f"{file}: not UTF-8 text") from None
    objects = _store_objects(ctx)
    if objects is None:
        sys.stderr.write(
            "note: no store, so the policies and content definitions that never fired are "
            "left out (give --db STORE)\n"
        )
    rows = tally.rows(objects)
    if output is not Output.table:
        emit(rows, output, columns=["section", "kind", "id", "key", "count", "share"])
        return
    for section, title in _SECTION_TITLES.items():
        part = [r for r in rows if r["section"] == section]
        if not part:
            continue
        if section == "never_fired":
            _table(
                ["kind", "id", "name"],
                [[_text(r["kind"]), _text(r["id"]), _text(r["key"])] for r in part],
                title=title,
            )
            continue
        first = "policy" if section == "policy" else section.replace("_", " ")
        _table(
            [first, "count", "share"],
            [
                [
                    _text(
                        f"{r['id']}: {r['key']}"
                        if section == "policy"
                        else (r["key"] if r["key"] is not None else "(none)")
                    ),
                    _text(r["count"]),
                    share_cell(r["share"]),
                ]
                for r in part
            ],
            title=title,
        )
    totals = {r["key"]: r["count"] for r in rows if r["section"] == "total"}
    say(
        f"{totals['messages']} messages, {totals['recipients']} recipients, "
        f"{totals['undecided']} not decided",
        quiet=state(ctx).quiet,
    )


def register(app: typer.Typer) -> None:
    app.add_typer(report_app, name="report")
