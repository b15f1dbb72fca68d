"""What ``secmsg simulate`` does (docs/output.md), apart from declaring its options:
:func:`run` takes the parsed :class:`SimulateArgs` and returns the exit code.

Typer-free on purpose: the Typer command (``cli/simulate.py``) and the lean
entry point (``cli/entry.py``, which runs a plain ``simulate`` without
loading Typer and the other commands) both call :func:`run`.

Reads the store once (a Snapshot), then streams messages: files, ``-``
(standard input), directories (every ``.eml`` and mbox file below) and mbox
files. Nothing is written to the store.
"""

from __future__ import annotations

import gc
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from secmsg_cli.cli._output import (
    Output,
    console,
    csv_rows,
    print_table,
    table_time,
    to_json,
    to_json_line,
    warn,
)
from secmsg_cli.cli._values import build_context, parse_limits
from secmsg_cli.cli._values import printable as _printable
from secmsg_cli.errors import InvalidInput

if TYPE_CHECKING:
    from datetime import tzinfo

    from rich.console import Console

    from secmsg_cli.corpus_diff import DiffSummary
    from secmsg_cli.coverage import Coverage
    from secmsg_cli.engine.message import Limits

__all__ = ["CSV_COLUMNS", "MAX_JOBS", "SimulateArgs", "csv_lines", "run"]

# --jobs: the most worker processes a batch may ask for (the Typer declaration
# in cli/simulate.py and the lean parser in cli/entry.py both read it here).
MAX_JOBS = 256


@dataclass(frozen=True)
class SimulateArgs:
    """Every option of ``simulate`` and the global ones it uses, parsed."""

    paths: tuple[str, ...]
    db: str | None = None
    quiet: bool = False
    mail_from: str | None = None
    rcpt: tuple[str, ...] = ()
    source_ip: str | None = None
    at: str | None = None
    via: str | None = None
    definition: str | None = None
    explain: bool = False
    max_size: str = "50MB"
    max_depth: str | None = None
    max_parts: str | None = None
    max_text: str | None = None
    max_recipients: str | None = None
    jobs: int | None = None
    coverage: bool = False
    min_coverage: float | None = None
    against: str | None = None
    detailed_exitcode: bool = False
    output: Output = Output.table


# --- CSV: one row per recipient -------------------------------------------------

CSV_COLUMNS = (
    "source",
    "address",
    "internal",
    "route",
    "secure",
    "definition",
    "trigger",
    "policy_id",
    "policy_kind",
    "bypass_id",
    "expires",
    "latest_expiry",
    "error",
)


def csv_lines(doc: dict[str, Any], columns: tuple[str, ...] = CSV_COLUMNS) -> str:
    """The CSV rows (``-o csv``, under a header of :data:`CSV_COLUMNS`) of
    one message's JSON document: a row per recipient, with the values of the
    JSON form; a message that could not be decided (or has no recipient to
    show), one row with its source and error. (``deliver`` adds the column
    ``portal_id``.)"""
    rows: list[dict[str, Any]] = []
    for r in doc.get("recipients", ()):
        policy, bypass, portal = r["policy"] or {}, r["bypass"] or {}, r["portal"] or {}
        rows.append(
            {
                "source": doc["source"],
                "address": r["address"],
                "internal": r["internal"],
                "route": r["route"],
                "secure": r["secure"],
                "definition": r["definition"],
                "trigger": r["trigger"],
                "policy_id": policy.get("id"),
                "policy_kind": policy.get("kind"),
                "bypass_id": bypass.get("id"),
                "expires": portal.get("expires"),
                "latest_expiry": portal.get("latest_expiry"),
                "portal_id": portal.get("id"),
            }
        )
    if not rows:
        rows.append({"source": doc["source"], "error": doc.get("error")})
    return csv_rows(rows, columns)


# --- output for people ---------------------------------------------------------


def _print_decision(out: Console, source: str, d: Any, tz: tzinfo, explain: bool) -> None:
    from rich.panel import Panel
    from rich.text import Text as RichText

    from secmsg_cli.delivery.compose import fmt_time

    def Text(value: str = "", style: str = "") -> RichText:
        return RichText(_printable(value), style=style)

    head = Text()
    head.append(_printable(source), style="bold")
    head.append(f"  {d.subject!r}\n", style="")
    head.append(_printable(f"from {d.envelope_from}"), style="dim")
    if d.header_from and d.header_from != d.envelope_from:
        head.append(_printable(f" (header From {d.header_from})"), style="dim")
    head.append(
        f"\nsource IP {d.source_ip or 'unknown'}  at {fmt_time(d.at, tz)}  via {d.via}",
        style="dim",
    )
    out.print(head)
    about_recipients, other_notes = split_notes(d.notes)
    for note in about_recipients:  # docs/limits-and-security.md: said above the table
        out.print(Text(f"  note: {note}", style="yellow"))
    rows = []
    for r in d.recipients:
        policy = f"{r.policy.kind} {r.policy.id}: {r.policy.narrative}" if r.policy else ""
        bypass = f"{r.bypass.id} ({r.bypass.option})" if r.bypass else ""
        rows.append(
            [
                Text(r.address),
                Text("internal" if r.internal else "external", style="dim"),
                Text(r.route, style="bold magenta" if r.route == "portal" else ""),
                Text("yes" if r.secure else "no", style="green" if r.secure else "dim"),
                Text(r.definition.path if r.definition else ""),
                Text(r.trigger or ""),
                Text(policy),
                Text(bypass),
            ]
        )
    # At 80 columns the deciding policy and the trigger give way first: the
    # line under the table for each recipient says both.
    print_table(
        out,
        [
            "recipient",
            "side",
            "route",
            "secure",
            "definition",
            "trigger",
            "deciding policy",
            "bypass",
        ],
        rows,
        drop=["deciding policy", "trigger", "bypass", "side"],
        why="the lines below say why",
    )
    for r in d.recipients:
        out.print(Text(f"  {r.address}: {r.reason}", style="dim"))
    for note in other_notes:
        out.print(Text(f"  note: {note}", style="yellow"))
    banners: dict[str, list[str]] = {}
    for r in d.recipients:
        if r.banner is not None:
            banners.setdefault(r.banner.text, []).append(r.address)
    for text, addressed in banners.items():
        out.print(Panel(Text(text), title=Text(f"banner for {', '.join(addressed)}"), expand=False))
    records = [r.portal for r in d.recipients if r.portal is not None]
    if records:

        def allows(p: Any) -> str:
            said = [
                word
                for word, flag in (
                    ("print", p.allow_print),
                    ("reply", p.allow_reply),
                    ("reply-all", p.allow_reply_all),
                    ("read-receipt", p.read_receipt),
                )
                if flag
            ]
            return ", ".join(said) or "none"

        def when(moment: Any, never: str) -> str:
            return table_time(moment.astimezone(tz).isoformat()) if moment else never

        print_table(
            out,
            ["recipient", "definition", "expires", "latest expiry", "allows"],
            [
                [
                    Text(p.recipient),
                    Text(p.definition),
                    Text(when(p.expires, "never (internal)")),
                    Text(when(p.latest_expiry, "")),
                    Text(allows(p)),
                ]
                for p in records
            ],
            title=Text("portal records"),
            drop=["latest expiry", "allows"],
            whole=["definition"],
        )
    if explain:
        # One table per recipient (then the message's own verdicts): the
        # address is said once, in the title, not squeezed into a column.
        styles = {
            "won": "green",
            "chosen": "green",
            "fired": "green",
            "lost": "yellow",
            "bypassed": "yellow",
        }
        groups: dict[str, list[Any]] = {}
        for v in d.explain:
            groups.setdefault(v.recipient or "", []).append(v)
        for who, verdicts in groups.items():
            print_table(
                out,
                ["kind", "id", "name", "verdict", "reason"],
                [
                    [
                        Text(v.kind),
                        Text(str(v.id)),
                        Text(v.name),
                        Text(v.verdict, style=styles.get(v.verdict, "dim")),
                        Text(v.reason),
                    ]
                    for v in verdicts
                ],
                title=Text(f"explanation for {who}" if who else "explanation for the message"),
                drop=["name"],
                why="the id names each",
            )
    out.print()


_RECIPIENT_NOTES = ("To:", "Cc:", "Bcc:", "recipients:")


def split_notes(notes: Iterable[str]) -> tuple[list[str], list[str]]:
    """(notes about recipients, the others): the first are shown above the
    table of recipients, the others under it."""
    first = [n for n in notes if n.startswith(_RECIPIENT_NOTES)]
    return first, [n for n in notes if not n.startswith(_RECIPIENT_NOTES)]


def warn_skipped(directory: str, skipped: list[tuple[str, str]]) -> None:
    """Names on stderr the files of a directory that a run does not read
    (not with -q: they are neither results nor errors)."""
    from secmsg_cli.cli._output import warn
    from secmsg_cli.runner import describe_skipped

    warn(describe_skipped(directory, skipped))


def _print_error_row(out: Console, source: str, error: str) -> None:
    from rich.text import Text

    line = Text()  # Text, not markup: a path may contain "[...]"
    line.append(_printable(source), style="bold")
    line.append("  ")
    line.append("error:", style="red")
    line.append(_printable(f" {error}"))
    out.print(line)
    out.print()


def _load_other(path: str) -> Any:
    """``--against``: another store (an SQLite file) or a configuration file."""
    from secmsg_cli.config import load_file
    from secmsg_cli.errors import NoStore, NotADatabase
    from secmsg_cli.store.store import Store

    p = Path(path)
    if not p.is_file():
        raise InvalidInput(
            f"--against {path}: no such file (expected a store or a configuration file)"
        )
    # SQLite reads the header: a handle of our own on the file would drop this
    # process's locks on it when closed (the store of --db may be this same file).
    try:
        store: Any = Store(p)
    except (NotADatabase, NoStore):  # (NoStore: an empty file)
        store = load_file(path)
    try:
        return store.snapshot()
    finally:
        store.close()


# How the diff names each field (the table's headings) and shows its values.
_DIFF_LABELS = {
    "policy": "deciding policy",
    "banner_html": "banner (HTML)",
    "banner_text": "banner (text)",
    "latest_expiry": "latest expiry",
    "allow_print": "print",
    "allow_reply": "reply",
    "allow_reply_all": "reply all",
    "read_receipt": "read receipt",
    "notification_to": "notification to",
    "notification_subject": "notification subject",
    "portal_url": "portal URL",
}


def _diff_value(name: str, value: Any, side: dict[str, Any]) -> str:
    """A value of the diff in the CLI's words: yes/no, ``(none)``, a policy
    as ``KIND ID: NARRATIVE``, times as the tables show them (the JSON values
    are already in the display time zone)."""
    if value is None:
        if name in ("expires", "latest_expiry") and side["route"] == "portal":
            return "never"
        return "(none)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):  # a policy or a bypass
        return f"{value['kind']} {value['id']}: {value['narrative']}"
    return _printable(str(value), one_line=True)


def _print_diff_change(out: Console, c: Any) -> None:
    from rich.text import Text

    line = Text(_printable(c.source), style="bold")
    line.append("  " + _printable(c.recipient or "(message)"))
    out.print(line)
    if c.before is not None and c.after is not None:
        for f in c.fields:
            was = _diff_value(f, c.before[f], c.before)
            now = _diff_value(f, c.after[f], c.after)
            out.print(Text(f"    {_DIFF_LABELS.get(f, f)}: {was} → {now}", style="yellow"))
    elif c.recipient is not None:
        decided = "before" if c.before is not None else "after"
        out.print(Text(f"    decided only {decided}", style="yellow"))
    if c.why_before == c.why_after:  # the same reason, other values
        out.print(Text(_printable(f"    why: {c.why_before}"), style="dim"))
        return
    out.print(Text(_printable(f"    before: {c.why_before}"), style="dim"))
    out.print(Text(_printable(f"    after:  {c.why_after}"), style="dim"))


# --- the batch ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rendered:
    """One message as the parent needs it, made where it was decided (in a
    worker for a large batch): the output text, the counts, and the decisions
    only when coverage or a comparison needs them (``results``: a
    ``(decision, error)`` per snapshot, else empty)."""

    source: str
    error: str | None
    text: str | None
    secure: int
    portal: int
    results: tuple[Any, ...]


def finish(
    item: Any,
    results: tuple[Any, ...],
    *,
    tz: tzinfo,
    explain: bool,
    output: Output | None,
    keep: bool,
    batch: bool = True,
) -> Rendered:
    """The :func:`secmsg_cli.runner.run_all` finisher of simulate: renders
    JSON/JSONL/CSV output (``output``; None for the table, which the parent
    prints) and counts."""
    from secmsg_cli.engine.render import decision_to_json, error_to_json

    decision, error = results[0]
    text = None
    if output is not None:
        doc = (
            error_to_json(item.source, error)
            if error is not None
            else decision_to_json(decision, item.source, tz, explain=explain)
        )
        if output is Output.csv:
            text = csv_lines(doc).removesuffix("\n")
        elif output is Output.jsonl:
            text = to_json_line(doc)
        else:
            text = to_json(doc, fast=batch)
    secure = portal = 0
    if decision is not None:
        for r in decision.recipients:
            secure += r.secure
            portal += r.route == "portal"
    return Rendered(item.source, error, text, secure, portal, results if keep else ())


def run(args: SimulateArgs) -> int:
    """Decide, per recipient, where each message goes and why; the exit code."""
    from secmsg_cli.runner import is_single, iter_inputs, parse_size
    from secmsg_cli.store.store import open_store

    output, against, explain = args.output, args.against, args.explain
    if output is Output.csv and against is not None:
        raise InvalidInput("--against lists changed decisions as table, json or jsonl (not csv)")
    if args.detailed_exitcode and against is None:
        raise InvalidInput("--detailed-exitcode needs --against")
    if against is not None and (args.coverage or args.min_coverage is not None or explain):
        raise InvalidInput(
            "--against lists changed decisions; it does not combine with --coverage or --explain"
        )
    limit = parse_size(args.max_size)
    limits = parse_limits(
        max_depth=args.max_depth,
        max_parts=args.max_parts,
        max_text=args.max_text,
        max_recipients=args.max_recipients,
    )
    paths = list(args.paths)
    single = is_single(paths, limit)
    items: Iterable[Any] = iter_inputs(paths, limit, None if args.quiet else warn_skipped)
    addresses = None
    if (
        single
        and not explain
        and against is None
        and not (args.coverage or args.min_coverage is not None)
    ):
        # One message, decided and shown only: the store is read for its
        # addresses alone (on a large store most of a one-message run's time
        # would go into loading everyone else).
        item, addresses = _with_addresses(next(iter(items)), args, limit, limits)
        items = [item]
    store = open_store(args.db)
    try:
        snapshot = store.snapshot(addresses)
    finally:
        store.close()
    if not snapshot.internal_domains:
        warn(
            "the store has no internal domains, so every address counts as external "
            "(add yours with: secmsg domain add DOMAIN)"
        )
    context = build_context(
        snapshot,
        mail_from=args.mail_from,
        rcpt=list(args.rcpt),
        source_ip=args.source_ip,
        at=args.at,
        via=args.via,
        definition=args.definition,
        explain=explain,
        limits=limits,
    )
    snapshots = (snapshot,) if against is None else (snapshot, _load_other(against))
    with _out_of_the_collectors_view():
        return _batch(args, snapshots, context, limit, items, single)


# --- speed trick: the loaded store out of the garbage collector's view ---------------
# The snapshots live until the batch ends. Frozen (gc.freeze), a collection
# during the batch does not walk a large store's objects again and again, and
# forked workers do not copy the pages it would touch. What it buys (Nov 2026,
# the bench's 10,000-policy scaling store, 4,000 messages, -j 1): the full
# collection that walks the whole snapshot mid-batch, ~45 ms (0.08 s in the
# collector instead of 0.14 s); on the per-message CPU time (0.35 ms) and the
# bench's scaling figure it is within the noise of this 2-core machine.


@contextmanager
def _out_of_the_collectors_view() -> Iterator[None]:
    """Every object alive now is left out of collections until the block ends."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _with_addresses(
    item: Any, args: SimulateArgs, limit: int, limits: Limits
) -> tuple[Any, list[str] | None]:
    """The one message, parsed (so that it is parsed once), and the addresses
    its decision is about; None for the addresses when it cannot be decided
    (the whole store is then read and the error reported as for any
    message)."""
    from dataclasses import replace

    from secmsg_cli.engine.decide import DecisionError, parties
    from secmsg_cli.engine.message import MessageError, parse_message

    if item.error is not None:
        return item, None
    try:
        message = parse_message(item.data or b"", max_size=limit, limits=limits)
    except MessageError:
        return item, None
    item = replace(item, message=message)
    try:
        envelope, header, recipients = parties(message, args.mail_from, args.rcpt)
    except DecisionError:
        return item, None
    # (past the recipient limit, recipients are named, not decided: not read for)
    return item, [a for a in (envelope, header, *recipients[: limits.recipients]) if a]


def _batch(
    args: SimulateArgs,
    snapshots: tuple[Any, ...],
    context: Any,
    limit: int,
    items: Iterable[Any],
    single: bool,
) -> int:
    """Decide every message, show each result as it comes, then the summary;
    the exit code."""
    from secmsg_cli.runner import run_all

    tz = snapshots[0].tz
    workers = args.jobs if args.jobs is not None else (os.cpu_count() or 1)
    coverage = _new_coverage(args)
    shown = _Shown(args, tz, single)
    finisher = partial(
        finish,
        tz=tz,
        explain=args.explain,
        output=shown.rendered,
        keep=coverage is not None or shown.diff is not None or shown.rendered is None,
        batch=not single,
    )
    counts = _Counts()
    shown.begin()
    with _progress(args, single) as tick:
        for r in run_all(snapshots, items, context, limit, workers, finisher):
            counts.add(r)
            if coverage is not None and r.error is None:
                coverage.add(r.results[0][0])
            shown.one(r)
            tick(counts)
    shown.end()
    if shown.diff is not None:
        return _diff_summary(args, shown.diff, shown.changes)
    return _summary(args, counts, coverage, snapshots[0], single)


@dataclass
class _Counts:
    """What the summary line of a batch counts."""

    messages: int = 0
    secure: int = 0
    portal: int = 0
    errors: int = 0

    def add(self, r: Rendered) -> None:
        self.messages += 1
        if r.error is not None:
            self.errors += 1
        else:
            self.secure += r.secure
            self.portal += r.portal


def _new_coverage(args: SimulateArgs) -> Coverage | None:
    """The coverage tally, when --coverage or --min-coverage asks for one."""
    if not (args.coverage or args.min_coverage is not None):
        return None
    from secmsg_cli.coverage import Coverage

    return Coverage()


@contextmanager
def _progress(args: SimulateArgs, single: bool) -> Iterator[Callable[[_Counts], None]]:
    """A spinner on a terminal's stderr while a batch runs (not for one
    message, with -q, or when the table itself goes to the terminal); yields
    the function that updates it with the counts so far."""
    if not (
        sys.stderr.isatty()
        and not single
        and not args.quiet
        and not (args.output is Output.table and sys.stdout.isatty())
    ):
        yield lambda counts: None
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn

    # (Rich would otherwise capture stdout while the spinner runs and print
    # the results on the terminal instead of into a redirected file.)
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        console=console(stderr=True),
        transient=True,
        redirect_stdout=False,
        redirect_stderr=False,
    )
    task = progress.add_task("simulating", total=None)
    progress.start()

    def tick(counts: _Counts) -> None:
        progress.update(
            task, description=f"simulating: {counts.messages} messages, {counts.errors} errors"
        )

    try:
        yield tick
    finally:
        progress.stop()


class _Shown:
    """Shows each message's result as it comes, in the form the options ask
    for: the changed decisions (--against), JSON or JSONL made in the worker
    (``rendered``), or tables for people."""

    def __init__(self, args: SimulateArgs, tz: tzinfo, single: bool) -> None:
        self.output, self.explain, self.tz, self.single = args.output, args.explain, tz, single
        self.diff: DiffSummary | None = None
        self.changes: list[Any] = []
        if args.against is not None:
            from secmsg_cli.corpus_diff import DiffSummary

            self.diff = DiffSummary()
        self.out = console() if self.output is Output.table or self.diff is not None else None
        # the output text each message is rendered to where it is decided; None: shown here
        self.rendered = (
            self.output if self.diff is None and self.output is not Output.table else None
        )
        # one JSON array for the whole batch, written as the messages come
        self.streaming_json = self.diff is None and self.output is Output.json and not single
        self.first = True

    def _console(self) -> Console:
        """The console of the tables for people (made at the start for them)."""
        if self.out is None:
            self.out = console()
        return self.out

    def begin(self) -> None:
        if self.streaming_json:
            sys.stdout.write("[")
        elif self.rendered is Output.csv:
            sys.stdout.write(csv_rows([CSV_COLUMNS]))

    def one(self, r: Rendered) -> None:
        write = sys.stdout.write
        if self.diff is not None:
            self._changes(r, self.diff)
        elif r.text is not None:
            if self.output in (Output.jsonl, Output.csv) or self.single:
                write(r.text + "\n")
            else:
                write(("\n" if self.first else ",\n") + r.text)
        elif r.error is not None and self.single:
            sys.stderr.write(
                f"error: {_printable(f'{r.source}: {r.error}'.replace(chr(10), ' '))}\n"
            )
        elif r.error is not None:
            _print_error_row(self._console(), r.source, r.error)
        else:
            _print_decision(self._console(), r.source, r.results[0][0], self.tz, self.explain)
        self.first = False

    def _changes(self, r: Rendered, diff: DiffSummary) -> None:
        from secmsg_cli.corpus_diff import compare_message

        (before, before_error), (after, after_error) = r.results[0], r.results[1]
        found = compare_message(r.source, before, before_error, after, after_error, diff, self.tz)
        self.changes.extend(found)
        if self.output is Output.table:
            for c in found:
                _print_diff_change(self._console(), c)
        elif self.output is Output.jsonl:
            for c in found:
                sys.stdout.write(json.dumps(c.to_json(), ensure_ascii=False) + "\n")

    def end(self) -> None:
        if self.streaming_json:
            sys.stdout.write("\n]\n" if not self.first else "]\n")


def _diff_summary(args: SimulateArgs, summary: DiffSummary, changes: list[Any]) -> int:
    """After --against: the JSON document (-o json), the summary line, and
    the exit code (5 for a change with --detailed-exitcode)."""
    if args.output is Output.json:
        sys.stdout.write(
            json.dumps(
                {"summary": summary.to_json(), "changes": [c.to_json() for c in changes]},
                ensure_ascii=False,
                indent=2,
            )
            + "\n"
        )
    if not args.quiet:
        sys.stderr.write(
            f"{summary.messages} message(s), {summary.recipients} recipient(s): "
            f"{summary.changed_recipients} decided differently in {summary.changed_messages} "
            f"message(s) against {args.against}\n"
        )
    changed = summary.changed_recipients or summary.changed_messages
    return 5 if args.detailed_exitcode and changed else 0


def _summary(
    args: SimulateArgs, counts: _Counts, coverage: Coverage | None, snapshot: Any, single: bool
) -> int:
    """After a batch: the summary line, the coverage report, and the exit
    code (1 for a message in error, 4 below --min-coverage)."""
    if not single and not args.quiet:
        sys.stderr.write(
            f"{counts.messages} message(s): {counts.secure} secure recipient(s), "
            f"{counts.portal} portal cop{'y' if counts.portal == 1 else 'ies'}, {counts.errors} error(s)\n"
        )
    below = False
    if coverage is not None:
        report = coverage.report(snapshot)
        if args.output is Output.table:
            from secmsg_cli.cli.test_cmd import print_coverage

            print_coverage(report, "message")
        else:
            sys.stderr.write(json.dumps({"coverage": report.to_json()}, ensure_ascii=False) + "\n")
        below = args.min_coverage is not None and report.percent < args.min_coverage
        if below:
            sys.stderr.write(
                f"error: coverage {report.percent:.1f}% is below --min-coverage {args.min_coverage:g}%\n"
            )
    if counts.errors:
        return 1
    return 4 if below else 0
