"""``secmsg portal ...``: the Secure Messaging Portal lifecycle (docs/portal.md).

Recipient side (with the access token from the notification in the outbox):
``open``, ``reply``, ``print``. Sender and administrator side (by portal id):
``list``, ``show``, ``extend``, ``recall``, ``sweep``. ``--at`` sets the time
of the action (default now) so that scripts and tests are deterministic.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from secmsg_cli.cli._common import OutputOpt, open_store, state, sub_app
from secmsg_cli.cli._output import Output, emit, say, warn, write_file
from secmsg_cli.cli._values import parse_at, parse_bound, printable
from secmsg_cli.errors import InvalidInput, Refused
from secmsg_cli.store.portal import STATUSES as STATUS_CHOICES

if TYPE_CHECKING:
    from datetime import datetime, tzinfo

    from secmsg_cli.delivery.lifecycle import CannotChange
    from secmsg_cli.delivery.outbox import Outbox
    from secmsg_cli.engine.durations import Duration
    from secmsg_cli.store.portal import CopyFilter, PortalCopy

TokenArg = Annotated[
    str,
    typer.Argument(
        help="The access token from the notification (the token= part of its link), or - to read it from stdin."
    ),
]
IdArg = Annotated[str, typer.Argument(help="Portal copy id (see 'secmsg portal list').")]
AtOpt = Annotated[
    str | None, typer.Option("--at", help="Time of the action, ISO 8601 (default now).")
]
AsOpt = Annotated[
    str | None,
    typer.Option(
        "--as",
        metavar="ADDRESS",
        help="The address signed in to the portal; a token issued to another address is refused.",
    ),
]
OutboxOpt = Annotated[
    str | None,
    typer.Option(
        "--outbox",
        metavar="DIR",
        help="The outbox Maildir (default: beside the store, <store>.outbox).",
    ),
]


def _token(text: str) -> str:
    if text.strip() == "-":
        return sys.stdin.readline().strip()
    return text


def _iso(moment: datetime | None, tz: tzinfo) -> str | None:
    return None if moment is None else moment.astimezone(tz).isoformat()


def _row(copy: PortalCopy, at: datetime, tz: tzinfo) -> dict[str, Any]:
    return {
        "id": copy.id,
        "recipient": copy.recipient,
        "internal": copy.internal,
        "sender": copy.sender,
        "from": copy.header_from,
        "subject": copy.subject,
        "definition": copy.definition,
        "sent": _iso(copy.sent, tz),
        "expires": _iso(copy.expires, tz),
        "latest_expiry": _iso(copy.latest_expiry, tz),
        "status": copy.status(at),
        "read_at": _iso(copy.read_at, tz),
        "recalled_at": _iso(copy.recalled_at, tz),
        "revoked_at": _iso(copy.revoked_at, tz),
    }


def _detail(copy: PortalCopy, at: datetime, tz: tzinfo, expired_view: bool) -> dict[str, Any]:
    from secmsg_cli.delivery.lifecycle import _span, actions

    row = _row(copy, at, tz)
    extended_by = None
    if copy.extended_seconds and copy.expires is not None and copy.original_expires is not None:
        extended_by = _span(copy.expires - copy.original_expires)
    row.update(
        {
            "message_id": copy.message_id,
            "original_expires": _iso(copy.original_expires, tz),
            "extended_by": extended_by,
            "extensions": [dict(e) for e in copy.extensions],
            "retention_end": _iso(copy.retention_end, tz),
            "expired_at": _iso(copy.expired_at, tz),
            "purged_at": _iso(copy.purged_at, tz),
            "settings": dict(copy.settings),
            "allow_print": copy.allow_print,
            "allow_reply": copy.allow_reply,
            "allow_reply_all": copy.allow_reply_all,
            "read_receipt": copy.read_receipt,
            "actions": [name for name, ok in actions(copy, at, expired_view).items() if ok],
        }
    )
    return row


def _outbox(store: Any, option: str | None) -> Outbox:
    from secmsg_cli.cli.deliver import outbox_for

    return outbox_for(store, option)


def _files(files: Iterable[Any]) -> list[dict[str, Any]]:
    return [{"kind": f.kind, "to": list(f.to), "path": str(f.path)} for f in files]


def _one_line(text: str) -> str:
    return printable(text, one_line=True)


def _note(text: str) -> None:
    """A line for people on stderr (what was written where), escaped."""
    sys.stderr.write(_one_line(text) + "\n")


def _show_opened(opened: Any, saved: list[str], tz: tzinfo, *, quiet: bool) -> None:
    """``portal open`` for people. Every text from the message (names,
    addresses, subject, body, attachment names) is escaped for the terminal;
    the body keeps its newlines and tabs, the other fields stay on their line."""
    from secmsg_cli.delivery.compose import fmt_time

    v, c = opened.view, opened.copy
    lines = [f"From:    {_one_line(v.from_)}", f"To:      {_one_line(', '.join(v.to))}"]
    if v.cc:
        lines.append(f"Cc:      {_one_line(', '.join(v.cc))}")
    lines += [
        f"Date:    {_one_line(v.date or _iso(c.sent, tz) or '')}",
        f"Subject: {_one_line(v.subject)}",
        "",
    ]
    sys.stdout.write("\n".join(lines) + "\n" + printable(v.text.rstrip("\n")) + "\n")
    if v.attachments:
        sys.stdout.write(
            "\nAttachments:\n"
            + "".join(
                f"  {_one_line(a.filename or '(unnamed)')} ({_one_line(a.content_type)}, {len(a.data)} bytes)\n"
                for a in v.attachments
            )
        )
    if quiet:
        return
    allowed = ", ".join(k.replace("_", " ") for k, ok in opened.actions.items() if ok)
    if opened.expired:
        when = f"expired {fmt_time(c.expires, tz)}"
    else:
        when = f"expires {fmt_time(c.expires, tz, never='never (internal recipient)')}"
    _note(f"portal copy {c.id} for {c.recipient}: {when}; you may: {allowed}")
    for f in opened.files:
        _note(f"read receipt to {', '.join(f.to)} written to {f.path}")
    for p in saved:
        _note(f"saved {p}")


portal_app = sub_app(
    "The Secure Messaging Portal: open, reply, print, serve; list, show, extend, recall, sweep."
)

# --- recipient side -------------------------------------------------------------


@portal_app.command("open")
def open_(
    ctx: typer.Context,
    token: TokenArg,
    at: AtOpt = None,
    as_: AsOpt = None,
    save_attachments: Annotated[
        str | None,
        typer.Option(
            "--save-attachments",
            metavar="DIR",
            help="Also save the attachments, byte for byte, into DIR (created if need be): all or none, "
            "under plain file names, never overwriting or following a link.",
        ),
    ] = None,
    outbox: OutboxOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Show a secure message as its recipient sees it; marks it read.

    The first view of a message whose definition asks for a read receipt
    writes one to the sender into the outbox.

        secmsg portal open "$TOKEN" --at 2026-11-28T09:00:00Z
    """
    from secmsg_cli.delivery.lifecycle import open_copy

    store = open_store(ctx)
    tz = store.account_tz()
    moment = parse_at(at, tz)
    box = _outbox(store, outbox)
    if save_attachments is not None:
        target = Path(save_attachments)
        if os.path.lexists(target) and not target.is_dir():
            raise InvalidInput(f"--save-attachments {save_attachments}: not a directory")
    opened = open_copy(store, _token(token), moment, box, as_=as_, save_to=save_attachments)
    v, c = opened.view, opened.copy
    saved = [str(p) for p in opened.saved]
    if output is Output.table:
        _show_opened(opened, saved, tz, quiet=state(ctx).quiet)
        return
    import hashlib

    emit(
        {
            "id": c.id,
            "recipient": c.recipient,
            "from": v.from_,
            "to": list(v.to),
            "cc": list(v.cc),
            "subject": v.subject,
            "date": v.date,
            "sent": _iso(c.sent, tz),
            "expires": _iso(c.expires, tz),
            "expired": opened.expired,
            "first_view": opened.first_view,
            "actions": [k for k, ok in opened.actions.items() if ok],
            "text": v.text,
            "attachments": [
                {
                    "filename": a.filename,
                    "content_type": a.content_type,
                    "size": len(a.data),
                    "sha256": hashlib.sha256(a.data).hexdigest(),
                }
                for a in v.attachments
            ],
            "saved": saved,
            "outbox": _files(opened.files),
        },
        output,
    )


@portal_app.command("reply")
def reply(
    ctx: typer.Context,
    token: TokenArg,
    body: Annotated[str | None, typer.Option("--body", help="The reply text.")] = None,
    body_file: Annotated[
        str | None,
        typer.Option(
            "--body-file", metavar="FILE", help="Read the reply text from FILE (- for stdin)."
        ),
    ] = None,
    all_: Annotated[
        bool,
        typer.Option("--all", help="Reply to all: also the original To and Cc recipients."),
    ] = False,
    attach: Annotated[
        list[str] | None,
        typer.Option("--attach", metavar="FILE", help="Attach a file; repeatable."),
    ] = None,
    at: AtOpt = None,
    as_: AsOpt = None,
    outbox: OutboxOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Reply to a secure message from the portal (when its definition allows it).

    The reply goes to the sender (with --all also to the original To and Cc
    recipients), threaded with In-Reply-To/References and quoting the original.
    When the directory lists users, an internal address it does not know gets a
    non-delivery notice back to the replier.

        secmsg portal reply "$TOKEN" --body "Thanks, received." --at 2026-11-28T09:05:00Z
    """
    from secmsg_cli.delivery.lifecycle import reply as do_reply

    if (body is None) == (body_file is None):
        raise InvalidInput(
            "give the reply text with exactly one of --body TEXT or --body-file FILE"
        )
    if body_file is not None:
        if body_file == "-":
            text = sys.stdin.read()
        else:
            try:
                text = Path(body_file).read_text(encoding="utf-8")
            except UnicodeDecodeError:
                raise InvalidInput(f"--body-file {body_file}: not UTF-8 text") from None
    else:
        text = body or ""
    files = []
    for name in attach or []:
        path = Path(name)
        if not path.is_file():
            raise InvalidInput(f"--attach {name}: no such file")
        files.append((path.name, path.read_bytes()))
    store = open_store(ctx)
    tz = store.account_tz()
    moment = parse_at(at, tz)
    box = _outbox(store, outbox)
    done = do_reply(store, _token(token), text, moment, box, all_=all_, attachments=files, as_=as_)
    if output is Output.table:
        sent = next(f for f in done.files if f.kind == "reply")
        cc = f"; cc {', '.join(done.cc)}" if done.cc else ""
        say(f"Reply to {', '.join(done.to)}{cc} written to {sent.path}", quiet=state(ctx).quiet)
        for f in done.files:
            if f.kind == "ndr":
                warn(
                    f"{', '.join(done.undeliverable)} unknown to the directory: a non-delivery notice "
                    f"(which may contain a copy of the secure message) was written to {f.path}"
                )
            elif f.kind == "read-receipt" and not state(ctx).quiet:
                _note(f"read receipt to {', '.join(f.to)} written to {f.path}")
        return
    emit(
        {
            "id": done.copy.id,
            "to": list(done.to),
            "cc": list(done.cc),
            "undeliverable": list(done.undeliverable),
            "outbox": _files(done.files),
        },
        output,
    )


@portal_app.command("print")
def print_(
    ctx: typer.Context,
    token: TokenArg,
    out: Annotated[
        str | None,
        typer.Option("--out", metavar="FILE", help="Write the HTML to FILE (default stdout)."),
    ] = None,
    at: AtOpt = None,
    as_: AsOpt = None,
    outbox: OutboxOpt = None,
) -> None:
    """A printable HTML rendering of a secure message (when its definition allows printing).

    secmsg portal print "$TOKEN" --out message.html
    """
    from secmsg_cli.delivery.lifecycle import print_copy

    if out is not None and not Path(out).resolve().parent.is_dir():
        raise InvalidInput(f"--out {out}: no such directory {Path(out).resolve().parent}")
    store = open_store(ctx)
    tz = store.account_tz()
    moment = parse_at(at, tz)
    box = _outbox(store, outbox)
    printed = print_copy(store, _token(token), moment, box, as_=as_)
    # Control and bidi characters of the message are no more welcome in a
    # browser than on the terminal this goes to by default: shown escaped.
    page = printable(printed.html)
    if out is None:
        sys.stdout.write(page)
    else:
        write_file(out, page.encode("utf-8"))
        say(f"Printable copy written to {out}", quiet=state(ctx).quiet)
    for f in printed.files:
        if not state(ctx).quiet:
            _note(f"read receipt to {', '.join(f.to)} written to {f.path}")


def _loopback(host: str) -> bool:
    """Whether every address ``host`` stands for is a loopback one."""
    import ipaddress
    import socket

    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0]).is_loopback for i in infos)


# Seconds Ctrl-C waits for requests under way before it ends them.
GRACE_SECONDS = 3


def _quiet_shutdown(record: Any) -> bool:
    """A filter of uvicorn's error log: the requests Ctrl-C ends after
    GRACE_SECONDS are one line, not uvicorn's error and a traceback each."""
    import asyncio

    exc = record.exc_info[1] if record.exc_info else None
    if isinstance(exc, asyncio.CancelledError):
        return False
    if str(record.msg).startswith("Cancel %s running task(s)"):
        _note(f"note: stopped with {record.args[0]} request(s) still under way")
        return False
    return True


@portal_app.command("serve")
def serve(
    ctx: typer.Context,
    host: Annotated[
        str,
        typer.Option(
            "--host",
            help="The address to listen on. Anything but a loopback address (127.0.0.1, ::1, "
            "localhost) needs --public.",
        ),
    ] = "127.0.0.1",
    port: Annotated[
        int,
        typer.Option("--port", min=0, max=65535, help="The port to listen on (0: any free one)."),
    ] = 8080,
    public: Annotated[
        bool,
        typer.Option(
            "--public",
            help="Allow --host to be an address other machines reach (put a TLS proxy in front).",
        ),
    ] = False,
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            help="Stop the portal's clock at this time, ISO 8601 (for tests and demonstrations; "
            "default: the real time of each request).",
        ),
    ] = None,
    outbox: OutboxOpt = None,
) -> None:
    """Serve the Secure Messaging Portal to browsers until Ctrl-C.

    The link in each notification leads to the message when the account's
    portal_url points here (its path is where the portal is served); a button
    there opens it, so that link scanners do not. Replies, read receipts and
    prints reach the outbox as with the portal commands; attachments download.

        secmsg account set --portal-url http://127.0.0.1:8080/secure
        secmsg portal serve --port 8080
    """
    import socket
    from datetime import UTC, datetime

    store = open_store(ctx)
    tz = store.account_tz()
    fixed = parse_at(at, tz) if at is not None else None
    box = _outbox(store, outbox)
    portal_url = store.account().portal_url
    # closed before serving: the app opens one connection per request, and
    # this process must never hold two at once (see web.app.create_app)
    store.close()
    if not public and not _loopback(host):
        raise InvalidInput(
            f"--host {host} is not a loopback address: other machines could reach the portal "
            "over plain HTTP; give --public if that is meant (behind a TLS proxy)"
        )
    from secmsg_cli.web.app import Settings, base_path, create_app

    app = create_app(
        Settings(
            db=store.path,
            outbox=box,
            clock=(lambda: fixed) if fixed is not None else (lambda: datetime.now(UTC)),
        )
    )
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.create_server((host, port), family=family)
    except (OSError, OverflowError) as exc:
        raise InvalidInput(
            f"cannot listen on {host} port {port}: {getattr(exc, 'strerror', None) or exc}"
        ) from None
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{sock.getsockname()[1]}{base_path(portal_url)}/"
    say(f"Serving the Secure Messaging Portal at {url} (Ctrl-C to stop)")
    if public:
        warn(f"listening on {host}: reachable from other machines; serve it to them only over TLS")
    if not portal_url.startswith(url.rstrip("/")):
        _note(
            f"note: the account's portal_url is {portal_url}: notification links open here "
            f"only once it points at this address (secmsg account set --portal-url {url.rstrip('/')})"
        )
    sys.stdout.flush()
    import uvicorn

    # No access log: the first request of each visit carries the token in its URL.
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        proxy_headers=False,
        server_header=False,
        lifespan="off",
        timeout_graceful_shutdown=GRACE_SECONDS,
    )
    import logging
    import signal

    logging.getLogger("uvicorn.error").addFilter(_quiet_shutdown)
    # uvicorn stops on SIGINT whatever this process inherited, then raises the
    # signal again under the handler it found: Python's own, so that Ctrl-C ends
    # with 130 as everywhere else, also when started by a shell that ignores
    # SIGINT for background jobs (where it would otherwise end with 0).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    uvicorn.Server(config).run(sockets=[sock])


# --- sender and administrator side ---------------------------------------------------


def _address_or_domain(text: str, option: str) -> str:
    """``--sender``/``--recipient``: an address, or (``--recipient``) ``@domain``."""
    from secmsg_cli.engine.addresses import AddressError, normalise_address, normalise_domain

    try:
        if option == "--recipient" and text.strip().startswith("@"):
            return "@" + normalise_domain(text.strip()[1:])
        return normalise_address(text)
    except AddressError as exc:
        raise InvalidInput(f"invalid {option} {text!r}: {exc}") from None


SenderOpt = Annotated[
    str | None,
    typer.Option("--sender", help="Only copies sent by this address (envelope or header From)."),
]
RecipientOpt = Annotated[
    str | None,
    typer.Option(
        "--recipient", help="Only copies for this recipient, or @domain for a whole domain."
    ),
]
DefinitionFilterOpt = Annotated[
    str | None,
    typer.Option("--definition", help="Only copies sent under this definition (its path)."),
]
SubjectOpt = Annotated[
    str | None,
    typer.Option("--subject", help="Only copies whose subject holds this text (any case)."),
]
MessageIdOpt = Annotated[
    str | None, typer.Option("--message-id", help="Only copies of this message.")
]
StatusOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--status", help="unread, read, expired, recalled, revoked or purged (at --at); repeatable."
    ),
]
SentSinceOpt = Annotated[
    str | None,
    typer.Option("--sent-since", metavar="TIME", help="Sent at or after (a date: from its start)."),
]
SentUntilOpt = Annotated[
    str | None,
    typer.Option("--sent-until", metavar="TIME", help="Sent before (a date: up to its end)."),
]
ExpiresAfterOpt = Annotated[
    str | None,
    typer.Option(
        "--expires-after", metavar="TIME", help="Expiring at or after (a date: from its start)."
    ),
]
ExpiresBeforeOpt = Annotated[
    str | None,
    typer.Option(
        "--expires-before", metavar="TIME", help="Expiring before (a date: up to its end)."
    ),
]


def copy_filter(
    tz: tzinfo,
    moment: datetime,
    *,
    sender: str | None = None,
    recipient: str | None = None,
    definition: str | None = None,
    subject: str | None = None,
    message_id: str | None = None,
    status: list[str] | None = None,
    sent_since: str | None = None,
    sent_until: str | None = None,
    expires_after: str | None = None,
    expires_before: str | None = None,
) -> CopyFilter:
    """The list filters as given on the command line, checked: every one
    given must hold; statuses are judged at ``moment`` (``secmsg report``
    takes the same filters)."""
    from secmsg_cli.store.portal import CopyFilter

    wanted = [s.strip().lower() for s in status or ()]
    for s in wanted:
        if s not in STATUS_CHOICES:
            raise InvalidInput(
                f"invalid --status {s!r}: expected one of {', '.join(STATUS_CHOICES)}"
            )
    return CopyFilter(
        sender=_address_or_domain(sender, "--sender") if sender else None,
        recipient=_address_or_domain(recipient, "--recipient") if recipient else None,
        definition=definition.strip().strip("/") if definition else None,
        subject=subject if subject else None,
        message_id=message_id.strip() if message_id else None,
        sent_since=parse_bound(sent_since, "--sent-since", tz, end=False),
        sent_until=parse_bound(sent_until, "--sent-until", tz, end=True),
        expires_after=parse_bound(expires_after, "--expires-after", tz, end=False),
        expires_before=parse_bound(expires_before, "--expires-before", tz, end=True),
        statuses=tuple(wanted),
        at=moment,
    )


def _select(store: Any, moment: datetime, tz: tzinfo, **filters: Any) -> list[PortalCopy]:
    """The copies the list filters choose (every filter given must hold),
    found by SQL (the status too: see ``store.portal.status_where``)."""
    copies: list[PortalCopy] = store.portal_copies(where=copy_filter(tz, moment, **filters))
    return copies


@portal_app.command("list")
def list_(
    ctx: typer.Context,
    sender: SenderOpt = None,
    recipient: RecipientOpt = None,
    definition: DefinitionFilterOpt = None,
    subject: SubjectOpt = None,
    message_id: MessageIdOpt = None,
    status: StatusOpt = None,
    sent_since: SentSinceOpt = None,
    sent_until: SentUntilOpt = None,
    expires_after: ExpiresAfterOpt = None,
    expires_before: ExpiresBeforeOpt = None,
    at: AtOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """List portal copies, with their status at --at (default now). Filters
    combine: every one given must hold. The table ends with the counts by status.

    secmsg portal list --sender alice.morgan@harborfinch.com --status unread
    secmsg portal list --recipient @clientco.example --expires-before 2026-12-31 -o csv
    """
    store = open_store(ctx)
    tz = store.account_tz()
    moment = parse_at(at, tz)
    chosen = _select(
        store,
        moment,
        tz,
        sender=sender,
        recipient=recipient,
        definition=definition,
        subject=subject,
        message_id=message_id,
        status=status,
        sent_since=sent_since,
        sent_until=sent_until,
        expires_after=expires_after,
        expires_before=expires_before,
    )
    rows = [_row(c, moment, tz) for c in chosen]
    emit(
        rows,
        output,
        columns=[
            "id",
            "recipient",
            "sender",
            "subject",
            "definition",
            "sent",
            "expires",
            "status",
        ],
        drop=["sent", "definition", "sender", "subject"],
        whole=["definition"],
        empty="no portal copies",
    )
    if output is Output.table and rows:
        counts = Counter(r["status"] for r in rows)
        by_status = ", ".join(f"{counts[k]} {k}" for k in STATUS_CHOICES if k in counts)
        say(f"{_copies(len(rows))}: {by_status}", quiet=state(ctx).quiet)


@portal_app.command("show")
def show(ctx: typer.Context, id: IdArg, at: AtOpt = None, output: OutputOpt = Output.table) -> None:
    """One portal copy: read status, permitted actions, expiry and extensions.

    secmsg portal show 1 -o json
    """
    store = open_store(ctx)
    tz = store.account_tz()
    moment = parse_at(at, tz)
    copy = store.portal_copy(id)
    emit(_detail(copy, moment, tz, store.account().expired_view), output)


@portal_app.command("recall")
def recall(
    ctx: typer.Context, id: IdArg, at: AtOpt = None, output: OutputOpt = Output.table
) -> None:
    """Recall a copy that its recipient has not opened; its link stops working.

    secmsg portal recall 2 --at 2026-11-27T11:00:00Z
    """
    from secmsg_cli.delivery.lifecycle import recall as do_recall

    store = open_store(ctx)
    tz = store.account_tz()
    moment = parse_at(at, tz)
    after = do_recall(store, id, moment)
    if output is Output.table:
        say(f"Recalled portal copy {after.id} ({after.recipient}).", quiet=state(ctx).quiet)
    else:
        emit(_detail(after, moment, tz, store.account().expired_view), output)


IdsArg = Annotated[
    list[str] | None,
    typer.Argument(
        help="Portal copy ids; or choose the copies with the filters of list.", metavar="[ID]..."
    ),
]
DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", help="Show what would change, change nothing.")
]
YesOpt = Annotated[
    bool,
    typer.Option(
        "--yes", "-y", help="Change several copies without asking (needed when not on a terminal)."
    ),
]


def _copies(n: int) -> str:
    return f"{n} {'copy' if n == 1 else 'copies'}"


@dataclass(frozen=True)
class _Change:
    """What one of the administrator's commands over many copies does.

    ``why_not`` gives the refusal for a copy it cannot change (its reason in
    a word or two as ``why``: a copy chosen by filter is then left out and
    counted), or None; ``run`` changes the copies of these ids in one
    transaction and returns (before, after) pairs; ``said`` is the line for
    people about one copy changed; ``preview`` and ``result`` add fields to
    the rows shown before and after the change."""

    name: str  # revoke | expire | extend
    done: str  # revoked | expired | extended
    why_not: Callable[[PortalCopy], CannotChange | None]
    run: Callable[[list[int]], list[tuple[PortalCopy, PortalCopy]]]
    said: Callable[[PortalCopy, PortalCopy], str]
    preview: Callable[[PortalCopy], dict[str, Any]] = lambda copy: {}
    columns: tuple[str, ...] = ("id", "recipient", "subject", "expires", "status")
    result: Callable[[PortalCopy, PortalCopy], dict[str, Any]] = lambda before, after: {}
    drop: tuple[str, ...] = ("subject", "expires")  # what a narrow terminal leaves out first


def _administer(
    ctx: typer.Context,
    ids: list[str] | None,
    filters: dict[str, Any],
    dry_run: bool,
    yes: bool,
    at: str | None,
    output: Output,
    change: Callable[[Any, datetime, tzinfo], _Change],
) -> None:
    """``portal revoke`` / ``expire`` / ``extend --admin``: choose the copies
    (by id, or by the list filters: then those the action cannot change are
    left out and counted), show them, ask when there are several (refuse
    without --yes off a terminal), then change them all in one transaction."""
    store = open_store(ctx)
    tz = store.account_tz()
    moment = parse_at(at, tz)
    action = change(store, moment, tz)
    what = action.name
    chosen_by_filter = any(v not in (None, [], ()) for v in filters.values())
    if ids and chosen_by_filter:
        raise InvalidInput(f"give portal copy ids or filters to {what}, not both")
    if not ids and not chosen_by_filter:
        raise InvalidInput(
            f"nothing chosen to {what}: give portal copy ids, or filters such as "
            "--recipient @domain (see secmsg portal list)"
        )
    left_out: Counter[str] = Counter()
    if ids:
        # each copy once, however often it is named (a second pass would find
        # it ended and refuse the whole command)
        copies = list({c.id: c for c in (store.portal_copy(ref) for ref in ids)}.values())
        for c in copies:  # named, a copy that cannot be changed refuses the command
            refused = action.why_not(c)
            if refused is not None:
                raise refused
    else:
        copies = []
        for c in _select(store, moment, tz, **filters):
            refused = action.why_not(c)
            if refused is None:
                copies.append(c)
            else:
                left_out[refused.why] += 1
    quiet = state(ctx).quiet
    why_text = ", ".join(f"{n} {why}" for why, n in left_out.items())
    if not copies:
        if output is Output.table:
            say(f"No portal copy to {what}{f' ({why_text})' if left_out else ''}.", quiet=quiet)
        else:
            emit([], output)
        return
    rows = [_row(c, moment, tz) | action.preview(c) for c in copies]
    if output is Output.table and (dry_run or len(copies) > 1):
        emit(rows, output, columns=list(action.columns), drop=list(action.drop))
    if dry_run:
        if output is Output.table:
            say(
                f"Dry run: {_copies(len(copies))} would be {action.done}; nothing was changed.",
                quiet=quiet,
            )
            if left_out:
                say(
                    f"Left out: {_copies(left_out.total())} that matched ({why_text}).", quiet=quiet
                )
        else:
            emit(rows, output)
        return
    if len(copies) > 1 and not yes:
        if not sys.stdin.isatty():
            raise Refused(
                f"{what} would change {len(copies)} portal copies and standard input is not a "
                "terminal to ask: pass --yes to go ahead; nothing was changed"
            )
        if not typer.confirm(f"{what.capitalize()} these {len(copies)} copies?", default=False):
            raise typer.Abort()
    done = action.run([c.id for c in copies])
    if output is Output.table:
        for before, after in done:
            say(action.said(before, after), quiet=quiet)
        if left_out:
            say(f"Left out: {_copies(left_out.total())} that matched ({why_text}).", quiet=quiet)
    else:
        emit([_row(a, moment, tz) | action.result(b, a) for b, a in done], output)


def _ending(what: str) -> Callable[[Any, datetime, tzinfo], _Change]:
    """``portal revoke`` or ``portal expire`` as a :class:`_Change`."""
    from secmsg_cli.delivery.lifecycle import CannotChange, can_end, end_copies

    expire = what == "expire"
    done = "expired" if expire else "revoked"

    def make(store: Any, moment: datetime, tz: tzinfo) -> _Change:
        def run(ids: list[int]) -> list[tuple[PortalCopy, PortalCopy]]:
            return [(c, c) for c in end_copies(store, ids, moment, expire=expire)]

        def why_not(c: PortalCopy) -> CannotChange | None:
            reason = can_end(c, moment, tz, expire=expire)
            if reason is None:
                return None
            return CannotChange(f"cannot {what} portal copy {c.id}: {reason}", "already ended")

        return _Change(
            what,
            done,
            why_not,
            run,
            lambda before, after: (
                f"{done.capitalize()} portal copy {after.id} ({after.recipient})."
            ),
        )

    return make


def _ending_command(what: str, doc: str) -> Callable[..., None]:
    """``portal revoke`` or ``portal expire``: the same ids, list filters and
    options, one implementation (:func:`_administer`)."""

    def command(
        ctx: typer.Context,
        ids: IdsArg = None,
        sender: SenderOpt = None,
        recipient: RecipientOpt = None,
        definition: DefinitionFilterOpt = None,
        subject: SubjectOpt = None,
        message_id: MessageIdOpt = None,
        status: StatusOpt = None,
        sent_since: SentSinceOpt = None,
        sent_until: SentUntilOpt = None,
        expires_after: ExpiresAfterOpt = None,
        expires_before: ExpiresBeforeOpt = None,
        dry_run: DryRunOpt = False,
        yes: YesOpt = False,
        at: AtOpt = None,
        output: OutputOpt = Output.table,
    ) -> None:
        filters = dict(
            sender=sender,
            recipient=recipient,
            definition=definition,
            subject=subject,
            message_id=message_id,
            status=status,
            sent_since=sent_since,
            sent_until=sent_until,
            expires_after=expires_after,
            expires_before=expires_before,
        )
        _administer(ctx, ids, filters, dry_run, yes, at, output, _ending(what))

    command.__name__ = command.__qualname__ = f"{what}_"
    command.__doc__ = doc
    return command


portal_app.command("revoke")(
    _ending_command(
        "revoke",
        """As administrator, revoke copies, opened or not: their links stop
    working and each recipient sees only that the message was revoked.

    secmsg portal revoke 4
    secmsg portal revoke --message-id '<abc@example.com>' --dry-run
    """,
    )
)
portal_app.command("expire")(
    _ending_command(
        "expire",
        """As administrator, expire external copies now (--at): as if their
    expiry had come; the account's expired_view decides what recipients keep.

    secmsg portal expire 4 5
    secmsg portal expire --recipient @clientco.example --yes
    """,
    )
)


def _extended(
    before: PortalCopy, after: PortalCopy, by: Duration | None, admin: bool, tz: tzinfo
) -> str:
    """The line for people about one copy extended."""
    from secmsg_cli.delivery.compose import fmt_time

    return (
        f"Extended portal copy {after.id} ({after.recipient})"
        f"{f' by {by}' if by else ''}{' as administrator' if admin else ''}: expires "
        f"{fmt_time(after.expires, tz)} (was {fmt_time(before.expires, tz)}; latest "
        f"possible {fmt_time(after.latest_expiry, tz)})."
    )


def _extending(
    by: Duration | None, until: str | None, admin: bool
) -> Callable[[Any, datetime, tzinfo], _Change]:
    """``portal extend`` as a :class:`_Change`."""
    from secmsg_cli.delivery.lifecycle import can_extend, extend_copies

    def make(store: Any, moment: datetime, tz: tzinfo) -> _Change:
        new = parse_bound(until, "--until", tz, end=True)

        def run(ids: list[int]) -> list[tuple[PortalCopy, PortalCopy]]:
            return extend_copies(store, ids, by, moment, until=new, admin=admin)

        def said(before: PortalCopy, after: PortalCopy) -> str:
            return _extended(before, after, by, admin, tz)

        def preview(copy: PortalCopy) -> dict[str, Any]:
            to = new if by is None else by.add_capped(copy.expires) if copy.expires else None
            return {"new_expires": _iso(to, tz)}

        return _Change(
            "extend",
            "extended",
            lambda c: can_extend(c, by, new, moment, tz, admin=admin),
            run,
            said,
            preview,
            ("id", "recipient", "subject", "expires", "new_expires:new expiry", "status"),
            lambda before, after: {"previous_expires": _iso(before.expires, tz)},
            ("subject", "status", "recipient"),
        )

    return make


@portal_app.command("extend")
def extend(
    ctx: typer.Context,
    ids: IdsArg = None,
    by: Annotated[
        str | None,
        typer.Option(
            "--by",
            help="How much later it expires, e.g. 7d (within the definition's max_extension).",
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            "--until", metavar="TIME", help="The new expiry, instead of --by (a date: to its end)."
        ),
    ] = None,
    admin: Annotated[
        bool,
        typer.Option(
            "--admin",
            help="As administrator: up to the end of retention, past the definition's "
            "max_extension; recorded as an administrator's extension. Takes several ids or "
            "the filters of list.",
        ),
    ] = False,
    sender: SenderOpt = None,
    recipient: RecipientOpt = None,
    definition: DefinitionFilterOpt = None,
    subject: SubjectOpt = None,
    message_id: MessageIdOpt = None,
    status: StatusOpt = None,
    sent_since: SentSinceOpt = None,
    sent_until: SentUntilOpt = None,
    expires_after: ExpiresAfterOpt = None,
    expires_before: ExpiresBeforeOpt = None,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    at: AtOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Extend external copies' expiry (before it has passed; within max_extension and retention).

    The sender extends one copy at a time; an administrator (--admin) any
    number, by id or with the filters of list, up to the end of retention:
    copies chosen by filter that cannot be extended so (ended, internal,
    expired, past retention) are left out and counted.

    secmsg portal extend 1 --by 7d --at 2026-12-01T09:00:00Z
    secmsg portal extend 1 --until 2027-03-31 --admin
    secmsg portal extend --admin --recipient @clientco.example --by 30d --dry-run
    """
    from secmsg_cli.engine.durations import DurationError, parse_duration

    if (by is None) == (until is None):
        raise InvalidInput("give either --by DURATION or --until TIME")
    duration = None
    if by is not None:
        try:
            duration = parse_duration(by, allow_never=False, what="--by")
        except DurationError as exc:
            raise InvalidInput(str(exc)) from None
        if duration.amount == 0:
            raise InvalidInput(f"invalid --by {by!r}: expected a positive duration such as 7d")
    filters = dict(
        sender=sender,
        recipient=recipient,
        definition=definition,
        subject=subject,
        message_id=message_id,
        status=status,
        sent_since=sent_since,
        sent_until=sent_until,
        expires_after=expires_after,
        expires_before=expires_before,
    )
    if not admin:
        if any(v not in (None, [], ()) for v in filters.values()) or len(ids or []) > 1:
            raise InvalidInput(
                "the sender extends one copy at a time: give one portal copy id "
                "(an administrator extends several, or by filter, with --admin)"
            )
        if dry_run:
            raise InvalidInput("--dry-run goes with --admin (the sender extends one copy)")
        if not ids:
            raise InvalidInput("give the portal copy id to extend (see secmsg portal list)")
        _extend_one(ctx, ids[0], duration, until, at, output)
        return
    _administer(ctx, ids, filters, dry_run, yes, at, output, _extending(duration, until, admin))


def _extend_one(
    ctx: typer.Context,
    id: str,
    duration: Duration | None,
    until: str | None,
    at: str | None,
    output: Output,
) -> None:
    """The sender's own extension of one copy."""
    from secmsg_cli.delivery.lifecycle import extend as do_extend

    store = open_store(ctx)
    tz = store.account_tz()
    moment = parse_at(at, tz)
    new = parse_bound(until, "--until", tz, end=True)
    before, after = do_extend(store, id, duration, moment, until=new)
    if output is Output.table:
        say(_extended(before, after, duration, False, tz), quiet=state(ctx).quiet)
    else:
        emit(_detail(after, moment, tz, store.account().expired_view), output)


def _swept_row(copy: PortalCopy, tz: tzinfo) -> dict[str, Any]:
    return {
        "id": copy.id,
        "recipient": copy.recipient,
        "sender": copy.sender,
        "subject": copy.subject,
        "sent": _iso(copy.sent, tz),
        "expires": _iso(copy.expires, tz),
        "retention_end": _iso(copy.retention_end, tz),
    }


@portal_app.command("sweep")
def sweep(
    ctx: typer.Context,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Show what a sweep at --at would mark and purge; change nothing."
        ),
    ] = False,
    at: AtOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Mark copies whose expiry has passed as expired; purge those past the retention period.

    Purging deletes the retained message (headers, body, attachments) once no copy
    of it is left, and every purged copy's token; a tombstone row stays for the record.
    The report lists each copy purged and each marked expired, then the totals.

        secmsg portal sweep --at 2027-01-01T00:00:00Z --dry-run
        secmsg portal sweep --at 2027-01-01T00:00:00Z
    """
    from secmsg_cli.delivery.lifecycle import sweep as do_sweep

    store = open_store(ctx)
    tz = store.account_tz()
    moment = parse_at(at, tz)
    swept = do_sweep(store, moment, dry_run=dry_run)
    purged = [_swept_row(c, tz) for c in swept.purged]
    expired = [_swept_row(c, tz) for c in swept.expired]
    if output is not Output.table:
        emit(
            {
                "at": moment.isoformat(),
                "dry_run": dry_run,
                "expired": len(swept.expired),
                "purged": len(swept.purged),
                "messages_deleted": swept.messages_deleted,
                "bytes_deleted": swept.bytes_deleted,
                "expired_ids": [c.id for c in swept.expired],
                "purged_ids": [c.id for c in swept.purged],
                "expired_copies": expired,
                "purged_copies": purged,
            },
            output,
        )
        return
    quiet = state(ctx).quiet
    would = "would be " if dry_run else ""
    if purged:
        emit(
            purged,
            output,
            columns=["id", "recipient", "sender", "subject", "sent", "retention_end:retention end"],
            title=f"{would}purged past retention",
            drop=["sender", "subject", "sent"],
        )
    if expired:
        emit(
            expired,
            output,
            columns=["id", "recipient", "sender", "subject", "expires"],
            title=f"{would}marked expired",
            drop=["sender", "subject"],
        )
    n_msg = swept.messages_deleted
    messages = (
        f"{n_msg} retained message{'' if n_msg == 1 else 's'} ({swept.bytes_deleted:,} bytes)"
    )
    if dry_run:
        say(
            f"Dry run at {moment.isoformat()}: {_copies(len(expired))} would be marked expired, "
            f"{len(purged)} purged past retention, {messages} deleted; nothing was changed.",
            quiet=quiet,
        )
    else:
        say(
            f"Swept at {moment.isoformat()}: {_copies(len(expired))} marked expired, "
            f"{len(purged)} purged past retention; {messages} deleted.",
            quiet=quiet,
        )


def register(app: typer.Typer) -> None:
    app.add_typer(portal_app, name="portal")
