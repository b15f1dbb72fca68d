"""``secmsg lint [FILE]``: errors and warnings of a configuration (docs/configuration.md);
the rules and their codes are in :mod:`secmsg_cli.lint`."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from secmsg_cli.cli._common import open_store, state
from secmsg_cli.cli._output import Output, emit
from secmsg_cli.cli._values import parse_at, printable

if TYPE_CHECKING:
    from secmsg_cli.lint import Finding
    from secmsg_cli.problems import Source

COLUMNS = ["file", "line", "column", "code", "name", "severity", "object", "message"]


class LintFormat(str, Enum):
    """The forms of lint's findings: ``text`` one line per finding as every
    problem reads (the default), the data forms of every command, GitHub
    Actions workflow commands and SARIF 2.1.0."""

    text = "text"
    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"
    github = "github"
    sarif = "sarif"


def _lint_file(path: str, at: str | None) -> list[Finding]:
    """Findings of a configuration file, linted in a private in-memory store:
    no store on disk is opened or created."""
    from dataclasses import replace
    from pathlib import Path
    from zoneinfo import ZoneInfo

    from secmsg_cli import lint as rules
    from secmsg_cli.config import import_config, read_file, validate_document
    from secmsg_cli.errors import ConfigError, SecmsgError
    from secmsg_cli.problems import InvalidDocument
    from secmsg_cli.store.store import Store

    def invalid(exc: SecmsgError) -> list[Finding]:
        parse_at(at, ZoneInfo("UTC"))  # a bad --at is still reported as such
        if isinstance(exc, InvalidDocument):
            return rules.invalid_config(exc.found, path)
        return rules.invalid_config([str(exc).removeprefix(f"{path}: ")], path)

    try:
        doc, source = read_file(path)
    except ConfigError as exc:
        if path != "-" and not Path(path).is_file():
            raise  # cannot read it at all: an error, not a finding
        return invalid(exc)
    try:
        cfg = validate_document(doc, source)
    except ConfigError as exc:
        return invalid(exc)
    # What config.load_file does, on the document already read (FILE may be '-').
    store = Store(":memory:")
    try:
        try:
            import_config(store, cfg, source=path)
        except SecmsgError as exc:  # valid, yet the store refuses it
            return invalid(exc)
        snapshot = store.snapshot()
        found = rules.lint(
            snapshot,
            parse_at(at, snapshot.tz),
            folders=store.folders(),
            templates=store.template_records.templates(),
        )
        # about the file, not a store: at the line of what it is about, when known
        out = []
        for f in found:
            line, column = _located(f, doc, source)
            out.append(replace(f, file=path, line=line or f.line, column=column or f.column))
        return out
    finally:
        store.close()


def _located(f: Finding, doc: Mapping[str, Any], source: Source) -> tuple[int | None, int | None]:
    """The line and column where ``source`` writes what ``f`` is about (its
    ``place``: section, name or path, field), or nothing when not known."""
    if f.place is None:
        return None, None
    section, key, field = f.place
    entries = doc.get(section)
    if not isinstance(entries, list):
        return None, None
    for i, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            continue
        name = (
            f"{entry.get('folder')}/{entry.get('description')}"
            if section == "definitions"
            else entry.get("name")
        )
        if str(name).strip("/").lower() == key.lower():
            where = source.locate((section, i) if field is None else (section, i, field))
            return (None, None) if where is None else (where.line, where.column)
    return None, None


def _write(findings: list[Finding], form: LintFormat) -> None:
    from secmsg_cli import __version__
    from secmsg_cli import lint as rules
    from secmsg_cli.cli._output import to_json

    if form is LintFormat.text:
        sys.stdout.writelines(printable(f.text) + "\n" for f in findings)
    elif form is LintFormat.github:
        sys.stdout.writelines(printable(line) + "\n" for line in rules.to_github(findings))
    elif form is LintFormat.sarif:
        sys.stdout.write(to_json(rules.to_sarif(findings, __version__)) + "\n")
    else:
        rows = [f.to_dict() for f in findings]
        columns = COLUMNS if any(f.file for f in findings) else COLUMNS[3:]
        if rows or form is not LintFormat.table:
            # at a narrow width the reason stays; the rest goes first to last
            drop = ["name", "column", "object", "severity", "file", "line"]
            emit(rows, Output(form.value), columns=columns, drop=drop)


def lint(
    ctx: typer.Context,
    file: Annotated[
        str | None,
        typer.Argument(
            help="A TOML or JSON configuration file to lint instead of the store (- for standard input); "
            "no store is opened."
        ),
    ] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Warnings fail too (exit 3).")] = False,
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            help="Judge validity (expired, overlapping) at this time, ISO 8601 (default now).",
        ),
    ] = None,
    output: Annotated[
        LintFormat,
        typer.Option(
            "--output",
            "-o",
            "--format",
            help="How to show the findings: text (one line per finding, "
            "FILE:LINE:COL: SEVERITY CODE message), table, json, jsonl, csv, github "
            "(GitHub Actions annotations) or sarif (SARIF 2.1.0, for code scanning).",
            case_sensitive=False,
        ),
    ] = LintFormat.text,
) -> None:
    """Check the configuration for errors and likely mistakes: dangling
    references, definitions nothing can trigger, ambiguous policies, expired or
    disabled policies, unknown banner tags, empty groups, ... Each finding
    has a stable code (see the README). Exit 3 when there are errors (with
    --strict, also when there are warnings).

        secmsg lint
        secmsg lint secmsg.toml --strict -o json
        secmsg lint secmsg.toml --format github
    """
    from secmsg_cli import lint as rules

    if file is None:
        store = open_store(ctx)
        snapshot = store.snapshot()
        findings = rules.lint(
            snapshot,
            parse_at(at, snapshot.tz),
            folders=store.folders(),
            templates=store.template_records.templates(),
        )
    else:
        findings = _lint_file(file, at)
    _write(findings, output)
    if not state(ctx).quiet:
        sys.stderr.write(rules.summary(findings) + "\n")
    if rules.failed(findings, strict):
        raise typer.Exit(3)


def register(app: typer.Typer) -> None:
    app.command("lint")(lint)
