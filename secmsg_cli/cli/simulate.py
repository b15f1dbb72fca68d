"""``secmsg simulate PATH...``: run messages through the engine (SPEC §8).

Reads the store once (a Snapshot), then streams messages: files, ``-``
(standard input), directories (every ``*.eml`` below) and mbox files. Nothing
is written to the store.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from secmsg_cli.cli._common import open_store, parse_at, state
from secmsg_cli.cli._output import Output, console
from secmsg_cli.errors import InvalidInput

DEFAULT_MAX_SIZE = 50 * 1024 * 1024


@dataclass
class Item:
    """One input message: its name and bytes, or why it could not be read."""

    source: str
    data: bytes | None = None
    error: str | None = None


def parse_size(text: str) -> int:
    units = {"": 1, "b": 1, "k": 1024, "kb": 1024, "m": 1024**2, "mb": 1024**2, "g": 1024**3, "gb": 1024**3}
    raw = text.strip().lower()
    num = raw.rstrip("kmgb")
    unit = raw[len(num):]
    if not num.isdigit() or unit not in units or int(num) == 0:
        raise InvalidInput(f"invalid --max-size {text!r}: expected a size such as 50MB, 512KB or 1048576")
    return int(num) * units[unit]


def _read_file(path: Path, max_size: int) -> Item:
    try:
        size = path.stat().st_size
        if size > max_size:
            return Item(str(path), error=f"cannot read message: {size} bytes exceeds the limit of {max_size} bytes (--max-size)")
        with path.open("rb") as fh:
            return Item(str(path), fh.read(max_size + 1))
    except OSError as exc:
        return Item(str(path), error=f"cannot read {path}: {exc.strerror or exc}")


def _is_mbox(path: Path) -> bool:
    """An mbox file: starts with a ``From `` line and is not named ``*.eml``
    (an .eml file often keeps its envelope ``From `` line; read as an mbox it
    would be split at every body line that starts with "From ")."""
    if path.suffix.lower() == ".eml":
        return False
    try:
        with path.open("rb") as fh:
            return fh.read(5) == b"From "
    except OSError:
        return False


def iter_inputs(paths: list[str], max_size: int) -> Iterator[Item]:
    """Every message named by ``paths``, in order, one at a time."""
    for raw in paths:
        if raw == "-":
            data = sys.stdin.buffer.read(max_size + 1)
            if len(data) > max_size:
                yield Item("-", error=f"cannot read message: more than {max_size} bytes (--max-size)")
            else:
                yield Item("-", data)
            continue
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*.eml") if p.is_file())
            if not found:
                yield Item(raw, error=f"{raw}: no *.eml files in this directory")
            for p in found:
                yield _read_file(p, max_size)
        elif not path.exists():
            yield Item(raw, error=f"cannot read {raw}: no such file or directory")
        elif _is_mbox(path):
            yield from _iter_mbox(path, max_size)
        else:
            yield _read_file(path, max_size)


def _iter_mbox(path: Path, max_size: int) -> Iterator[Item]:
    import mailbox

    try:
        box = mailbox.mbox(str(path), create=False)
        keys = list(box.iterkeys())
    except (OSError, mailbox.Error) as exc:
        yield Item(str(path), error=f"cannot read mbox {path}: {exc}")
        return
    for i, key in enumerate(keys, start=1):
        source = f"{path}#{i}"
        try:
            # At most max_size + 1 bytes: a message over the limit is refused
            # without being read whole.
            with box.get_file(key) as fh:
                data = fh.read(max_size + 1)
        except (OSError, mailbox.Error, KeyError) as exc:
            yield Item(source, error=f"cannot read message {i} of {path}: {exc}")
            continue
        if len(data) > max_size:
            yield Item(source, error=f"cannot read message: more than {max_size} bytes (--max-size)")
        else:
            yield Item(source, data)


def run_one(snapshot, item: Item, context, max_size: int):
    """(decision, None) or (None, error) for one input; never raises for bad input."""
    from secmsg_cli.engine.decide import DecisionError, decide
    from secmsg_cli.engine.message import MessageError, parse_message

    if item.error is not None:
        return None, item.error
    try:
        message = parse_message(item.data or b"", max_size=max_size)
        return decide(snapshot, message, context), None
    except (MessageError, DecisionError) as exc:
        return None, str(exc)


# --- output for people ---------------------------------------------------------

# C0/C1 control characters but tab and newline: a message's subject, names or
# attachment file names must not reach the terminal as escape sequences.
_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F, *range(0x80, 0xA0))}


def _printable(text: str) -> str:
    return text.translate(_CONTROL)


def _print_decision(out, source: str, d, tz, explain: bool) -> None:
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text as RichText

    def Text(value: str = "", style: str = "") -> RichText:  # noqa: N802 - a cleaning rich.text.Text
        return RichText(_printable(value), style=style)

    head = Text()
    head.append(_printable(source), style="bold")
    head.append(f"  {d.subject!r}\n", style="")
    head.append(_printable(f"from {d.envelope_from}"), style="dim")
    if d.header_from and d.header_from != d.envelope_from:
        head.append(_printable(f" (header From {d.header_from})"), style="dim")
    head.append(f"  source IP {d.source_ip or 'unknown'}  at {d.at.astimezone(tz).isoformat()}  via {d.via}", style="dim")
    out.print(head)
    table = Table(header_style="bold", show_lines=False)
    for col in ("recipient", "", "route", "secure", "definition", "trigger", "deciding policy", "bypass"):
        table.add_column(col, overflow="fold")
    for r in d.recipients:
        policy = f"{r.policy.kind} {r.policy.id}: {r.policy.narrative}" if r.policy else ""
        bypass = f"{r.bypass.id} ({r.bypass.option})" if r.bypass else ""
        table.add_row(
            Text(r.address),
            Text("internal" if r.internal else "external", style="dim"),
            Text(r.route, style="bold magenta" if r.route == "portal" else ""),
            Text("yes" if r.secure else "no", style="green" if r.secure else "dim"),
            Text(r.definition.path if r.definition else ""),
            Text(r.trigger or ""),
            Text(policy),
            Text(bypass),
        )
    out.print(table)
    for r in d.recipients:
        out.print(Text(f"  {r.address}: {r.reason}", style="dim"))
    banners: dict[str, list[str]] = {}
    for r in d.recipients:
        if r.banner is not None:
            banners.setdefault(r.banner.text, []).append(r.address)
    for text, who in banners.items():
        out.print(Panel(Text(text), title=Text(f"banner for {', '.join(who)}"), expand=False))
    records = [r.portal for r in d.recipients if r.portal is not None]
    if records:
        pt = Table(title=Text("portal records"), header_style="bold")
        for col in ("recipient", "definition", "expires", "latest expiry", "print", "reply", "reply all", "read receipt"):
            pt.add_column(col, overflow="fold")
        for p in records:
            yn = lambda b: "yes" if b else "no"  # noqa: E731
            pt.add_row(Text(p.recipient), Text(p.definition),
                       Text(p.expires.astimezone(tz).isoformat() if p.expires else "never (internal)"),
                       Text(p.latest_expiry.astimezone(tz).isoformat() if p.latest_expiry else ""),
                       yn(p.allow_print), yn(p.allow_reply), yn(p.allow_reply_all), yn(p.read_receipt))
        out.print(pt)
    if explain:
        et = Table(title=Text("explanation"), header_style="bold")
        for col in ("recipient", "kind", "id", "name", "verdict", "reason"):
            et.add_column(col, overflow="fold")
        for v in d.explain:
            style = {"won": "green", "chosen": "green", "fired": "green", "lost": "yellow", "bypassed": "yellow"}.get(v.verdict, "dim")
            et.add_row(Text(v.recipient or "(message)"), Text(v.kind), Text(str(v.id)), Text(v.name),
                       Text(v.verdict, style=style), Text(v.reason))
        out.print(et)
    out.print()


def register(app: typer.Typer) -> None:
    @app.command("simulate")
    def simulate(
        ctx: typer.Context,
        paths: Annotated[list[str], typer.Argument(help=".eml files, - (stdin), directories (every *.eml below) or mbox files.")],
        mail_from: Annotated[str | None, typer.Option("--mail-from", help="Envelope sender (default: Return-Path, else header From).")] = None,
        rcpt: Annotated[list[str] | None, typer.Option("--rcpt", help="Envelope recipient; repeatable (default: To + Cc + Bcc).")] = None,
        source_ip: Annotated[str | None, typer.Option("--source-ip", help="Source IP (default: from the top-most Received header).")] = None,
        at: Annotated[str | None, typer.Option("--at", help="Evaluation and sending time, ISO 8601 (default now).")] = None,
        via: Annotated[str | None, typer.Option("--via", help="gateway, outlook or mobile (default gateway; outlook with --definition).")] = None,
        definition: Annotated[str | None, typer.Option("--definition", help="The definition the sender chose (trigger user).")] = None,
        explain: Annotated[bool, typer.Option("--explain", help="Explain every policy and content definition: verdict and reason.")] = False,
        max_size: Annotated[str, typer.Option("--max-size", help="Refuse messages larger than this (e.g. 50MB).")] = "50MB",
        output: Annotated[Output, typer.Option("--output", "-o", help="table, json or jsonl.", case_sensitive=False)] = Output.table,
    ) -> None:
        """Decide, per recipient, where each message goes and why. Writes nothing.

            secmsg simulate fixtures/messages/01-confidential-subject-to-counsel.eml --explain
            secmsg simulate fixtures/messages -o jsonl --at 2026-11-27T10:00:00Z
        """
        import ipaddress

        from secmsg_cli.engine.decide import VIAS, Context
        from secmsg_cli.engine.render import decision_to_json, error_to_json

        if output is Output.csv:
            raise InvalidInput("simulate writes table, json or jsonl (not csv)")
        limit = parse_size(max_size)
        if via is not None and via.lower() not in VIAS:
            raise InvalidInput(f"invalid --via {via!r}: expected one of {', '.join(VIAS)}")
        if source_ip is not None:
            try:
                source_ip = str(ipaddress.ip_address(source_ip.strip()))
            except ValueError:
                raise InvalidInput(f"invalid --source-ip {source_ip!r}: expected an IPv4 or IPv6 address") from None
        if mail_from is not None or rcpt:
            from secmsg_cli.engine.addresses import AddressError, normalise_address

            try:
                if mail_from is not None:
                    mail_from = normalise_address(mail_from)
                rcpt = [normalise_address(r) for r in rcpt or []]
            except AddressError as exc:
                raise InvalidInput(str(exc)) from None
        store = open_store(ctx)
        snapshot = store.snapshot()
        tz = snapshot.tz
        # One instant, however it was written: durations (expiry) are then
        # elapsed time. Left in the account zone, datetime arithmetic would be
        # wall-clock and "12h" across a DST change would be 11 or 13 hours,
        # and differ from the same instant written with an offset.
        from datetime import timezone

        moment = parse_at(at, tz).astimezone(timezone.utc)
        if definition is not None and snapshot.definition(definition) is None:
            raise InvalidInput(f"definition {definition!r} not found")
        context = Context(at=moment, mail_from=mail_from, rcpt=tuple(rcpt or ()), source_ip=source_ip,
                          via=via.lower() if via else None, definition=definition, explain=explain)
        # One input that is one message (a file or stdin) prints one object;
        # directories and mbox files, like several inputs, print an array.
        single = len(paths) == 1 and (paths[0] == "-" or (not Path(paths[0]).is_dir() and not (
            Path(paths[0]).is_file() and _is_mbox(Path(paths[0])))))
        out = console()
        counts = {"messages": 0, "secure": 0, "portal": 0, "errors": 0}
        progress = None
        if output is not Output.table and sys.stderr.isatty() and not single and not state(ctx).quiet:
            from rich.progress import Progress, SpinnerColumn, TextColumn

            progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), console=console(stderr=True), transient=True)
            task = progress.add_task("simulating", total=None)
            progress.start()
        first = True
        if output is Output.json and not single:
            sys.stdout.write("[")
        try:
            for item in iter_inputs(paths, limit):
                counts["messages"] += 1
                decision, error = run_one(snapshot, item, context, limit)
                if error is not None:
                    counts["errors"] += 1
                    doc = error_to_json(item.source, error)
                else:
                    counts["secure"] += sum(1 for r in decision.recipients if r.secure)
                    counts["portal"] += sum(1 for r in decision.recipients if r.route == "portal")
                    doc = None
                if output is Output.table:
                    if error is not None and single:
                        one_line = _printable(f"{item.source}: {error}".replace("\n", " "))
                        sys.stderr.write(f"error: {one_line}\n")
                    elif error is not None:
                        from rich.text import Text

                        # Text, not markup: a path may contain "[...]".
                        line = Text()
                        line.append(_printable(item.source), style="bold")
                        line.append("  ")
                        line.append("error:", style="red")
                        line.append(_printable(f" {error}"))
                        out.print(line)
                        out.print()
                    else:
                        _print_decision(out, item.source, decision, tz, explain)
                else:
                    if doc is None:
                        doc = decision_to_json(decision, item.source, tz, explain=explain)
                    text = json.dumps(doc, ensure_ascii=False, indent=None if output is Output.jsonl else 2)
                    if output is Output.jsonl:
                        sys.stdout.write(text + "\n")
                    elif single:
                        sys.stdout.write(text + "\n")
                    else:
                        sys.stdout.write(("\n" if first else ",\n") + text)
                first = False
                if progress is not None:
                    progress.update(task, description=f"simulating: {counts['messages']} messages, {counts['errors']} errors")
        finally:
            if progress is not None:
                progress.stop()
        if output is Output.json and not single:
            sys.stdout.write("\n]\n" if not first else "]\n")
        if not single and not state(ctx).quiet:
            sys.stderr.write(
                f"{counts['messages']} message(s): {counts['secure']} secure recipient(s), "
                f"{counts['portal']} portal cop{'y' if counts['portal'] == 1 else 'ies'}, {counts['errors']} error(s)\n"
            )
        if counts["errors"]:
            raise typer.Exit(1)
