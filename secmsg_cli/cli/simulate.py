"""``secmsg simulate PATH...``: run messages through the engine (SPEC §8).

Reads the store once (a Snapshot), then streams messages: files, ``-``
(standard input), directories (every ``*.eml`` below) and mbox files. Nothing
is written to the store.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from secmsg_cli.cli._common import open_store, state
from secmsg_cli.cli._context import (
    AtOpt,
    DefinitionOpt,
    ExplainOpt,
    MailFromOpt,
    MaxSizeOpt,
    RcptOpt,
    SourceIpOpt,
    ViaOpt,
    build_context,
)
from secmsg_cli.cli._output import Output, console
from secmsg_cli.coverage import Coverage
from secmsg_cli.errors import InvalidInput

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


def _emit_doc(doc: dict, output: Output, single: bool, first: bool) -> None:
    text = json.dumps(doc, ensure_ascii=False, indent=None if output is Output.jsonl else 2)
    if output is Output.jsonl or single:
        sys.stdout.write(text + "\n")
    else:
        sys.stdout.write(("\n" if first else ",\n") + text)


def _print_error_row(out, source: str, error: str) -> None:
    from rich.text import Text

    line = Text()  # Text, not markup: a path may contain "[...]"
    line.append(_printable(source), style="bold")
    line.append("  ")
    line.append("error:", style="red")
    line.append(_printable(f" {error}"))
    out.print(line)
    out.print()


def _load_other(path: str):
    """``--against``: another store (an SQLite file) or a configuration file."""
    from secmsg_cli.config import load_file
    from secmsg_cli.store.store import Store

    p = Path(path)
    if not p.is_file():
        raise InvalidInput(f"--against {path}: no such file (expected a store or a configuration file)")
    with p.open("rb") as fh:
        is_store = fh.read(16) == b"SQLite format 3\x00"
    store = Store(p) if is_store else load_file(path)
    try:
        return store.snapshot()
    finally:
        store.close()


def _print_diff_change(out, c) -> None:
    from rich.text import Text

    line = Text(_printable(c.source), style="bold")
    line.append("  " + _printable(c.recipient or "(message)"))
    out.print(line)
    if c.recipient is None:
        out.print(Text(_printable(f"    before: {c.why_before}\n    after:  {c.why_after}")))
        return
    for f in c.fields:
        out.print(Text(f"    {f}: {c.before[f]} → {c.after[f]}", style="yellow"))
    out.print(Text(_printable(f"    before: {c.why_before}"), style="dim"))
    out.print(Text(_printable(f"    after:  {c.why_after}"), style="dim"))


def register(app: typer.Typer) -> None:
    @app.command("simulate")
    def simulate(
        ctx: typer.Context,
        paths: Annotated[list[str], typer.Argument(help=".eml files, - (stdin), directories (every *.eml below) or mbox files.")],
        mail_from: MailFromOpt = None,
        rcpt: RcptOpt = None,
        source_ip: SourceIpOpt = None,
        at: AtOpt = None,
        via: ViaOpt = None,
        definition: DefinitionOpt = None,
        explain: ExplainOpt = False,
        max_size: MaxSizeOpt = "50MB",
        jobs: Annotated[int | None, typer.Option("--jobs", "-j", min=1, help="Worker processes for a large batch (default: the number of CPUs).")] = None,
        coverage: Annotated[bool, typer.Option("--coverage", help="After the batch, list every policy and content definition with how many messages it decided.")] = False,
        min_coverage: Annotated[float | None, typer.Option("--min-coverage", metavar="PCT", min=0, max=100, help="Exit 4 when fewer than PCT % of policies and content definitions decided a message.")] = None,
        against: Annotated[str | None, typer.Option("--against", metavar="OTHER", help="Another store or configuration file: list only the recipients decided differently.")] = None,
        detailed_exitcode: Annotated[bool, typer.Option("--detailed-exitcode", help="With --against: exit 5 when any decision changes.")] = False,
        output: Annotated[Output, typer.Option("--output", "-o", help="table, json or jsonl.", case_sensitive=False)] = Output.table,
    ) -> None:
        """Decide, per recipient, where each message goes and why. Writes nothing.

            secmsg simulate fixtures/messages/01-confidential-subject-to-counsel.eml --explain
            secmsg simulate fixtures/messages -o jsonl --at 2026-11-27T10:00:00Z
            secmsg simulate corpus/ --against proposed.toml --detailed-exitcode
        """
        from secmsg_cli.engine.render import decision_to_json, error_to_json
        from secmsg_cli.runner import is_single, iter_inputs, parse_size, run_all

        if output is Output.csv:
            raise InvalidInput("simulate writes table, json or jsonl (not csv)")
        if detailed_exitcode and against is None:
            raise InvalidInput("--detailed-exitcode needs --against")
        if against is not None and (coverage or min_coverage is not None or explain):
            raise InvalidInput("--against lists changed decisions; it does not combine with --coverage or --explain")
        limit = parse_size(max_size)
        store = open_store(ctx)
        snapshot = store.snapshot()
        tz = snapshot.tz
        context = build_context(snapshot, mail_from=mail_from, rcpt=rcpt, source_ip=source_ip, at=at, via=via,
                                definition=definition, explain=explain)
        snapshots = (snapshot,) if against is None else (snapshot, _load_other(against))
        single = is_single(paths)
        workers = jobs if jobs is not None else (os.cpu_count() or 1)
        quiet = state(ctx).quiet
        out = console()
        counts = {"messages": 0, "secure": 0, "portal": 0, "errors": 0}
        cov = Coverage() if coverage or min_coverage is not None else None
        if against is not None:
            from secmsg_cli.corpus_diff import DiffSummary, compare_message

            summary = DiffSummary()
            changes = []
        progress = None
        if sys.stderr.isatty() and not single and not quiet and not (output is Output.table and sys.stdout.isatty()):
            from rich.progress import Progress, SpinnerColumn, TextColumn

            progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), console=console(stderr=True), transient=True)
            task = progress.add_task("simulating", total=None)
            progress.start()
        first = True
        streaming_json = against is None and output is Output.json and not single
        if streaming_json:
            sys.stdout.write("[")
        try:
            for item, results in run_all(snapshots, iter_inputs(paths, limit), context, limit, workers):
                counts["messages"] += 1
                decision, error = results[0]
                if error is not None:
                    counts["errors"] += 1
                else:
                    counts["secure"] += sum(1 for r in decision.recipients if r.secure)
                    counts["portal"] += sum(1 for r in decision.recipients if r.route == "portal")
                    if cov is not None:
                        cov.add(decision)
                if against is not None:
                    found = compare_message(item.source, decision, error, *results[1], summary)
                    changes.extend(found)
                    if output is Output.table:
                        for c in found:
                            _print_diff_change(out, c)
                    elif output is Output.jsonl:
                        for c in found:
                            sys.stdout.write(json.dumps(c.to_json(), ensure_ascii=False) + "\n")
                elif output is Output.table:
                    if error is not None and single:
                        sys.stderr.write(f"error: {_printable(f'{item.source}: {error}'.replace(chr(10), ' '))}\n")
                    elif error is not None:
                        _print_error_row(out, item.source, error)
                    else:
                        _print_decision(out, item.source, decision, tz, explain)
                else:
                    doc = (error_to_json(item.source, error) if error is not None
                           else decision_to_json(decision, item.source, tz, explain=explain))
                    _emit_doc(doc, output, single, first)
                first = False
                if progress is not None:
                    progress.update(task, description=f"simulating: {counts['messages']} messages, {counts['errors']} errors")
        finally:
            if progress is not None:
                progress.stop()
        if streaming_json:
            sys.stdout.write("\n]\n" if not first else "]\n")
        if against is not None:
            if output is Output.json:
                sys.stdout.write(json.dumps({"summary": summary.to_json(), "changes": [c.to_json() for c in changes]},
                                            ensure_ascii=False, indent=2) + "\n")
            if not quiet:
                sys.stderr.write(f"{summary.messages} message(s), {summary.recipients} recipient(s): "
                                 f"{summary.changed_recipients} decided differently in {summary.changed_messages} "
                                 f"message(s) against {against}\n")
            if detailed_exitcode and (summary.changed_recipients or summary.changed_messages):
                raise typer.Exit(5)
            return
        if not single and not quiet:
            sys.stderr.write(
                f"{counts['messages']} message(s): {counts['secure']} secure recipient(s), "
                f"{counts['portal']} portal cop{'y' if counts['portal'] == 1 else 'ies'}, {counts['errors']} error(s)\n"
            )
        below = False
        if cov is not None:
            report = cov.report(snapshot)
            if output is Output.table:
                from secmsg_cli.cli.test_cmd import print_coverage

                print_coverage(report, "message")
            else:
                sys.stderr.write(json.dumps({"coverage": report.to_json()}, ensure_ascii=False) + "\n")
            below = min_coverage is not None and report.percent < min_coverage
            if below:
                sys.stderr.write(f"error: coverage {report.percent:.1f}% is below --min-coverage {min_coverage:g}%\n")
        if counts["errors"]:
            raise typer.Exit(1)
        if below:
            raise typer.Exit(4)
