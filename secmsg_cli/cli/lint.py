"""``secmsg lint [FILE]``: errors and warnings of a configuration (SPEC §9);
the rules and their codes are in :mod:`secmsg_cli.lint`."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from secmsg_cli.cli._common import OutputOpt, open_store, state
from secmsg_cli.cli._output import Output, emit
from secmsg_cli.cli._values import parse_at

COLUMNS = ["code", "name", "severity", "object", "reason"]


def _lint_file(path: str, at: str | None) -> Any:
    """Findings of a configuration file, linted in a private in-memory store:
    no store on disk is opened or created."""
    from pathlib import Path
    from zoneinfo import ZoneInfo

    from secmsg_cli import lint as rules
    from secmsg_cli.config import import_config, read_file, validate_document
    from secmsg_cli.errors import ConfigError, SecmsgError
    from secmsg_cli.store.store import Store

    try:
        doc, source = read_file(path)
    except ConfigError as exc:
        if path != "-" and not Path(path).is_file():
            raise  # cannot read it at all: an error, not a finding
        parse_at(at, ZoneInfo("UTC"))  # a bad --at is still reported as such
        return rules.invalid_config([str(exc).removeprefix(f"{path}: ")], path)
    try:
        cfg = validate_document(doc, source)
    except ConfigError as exc:
        parse_at(at, ZoneInfo("UTC"))
        return rules.invalid_config(exc.problems or [str(exc)], path)
    # What config.load_file does, on the document already read (FILE may be '-').
    store = Store(":memory:")
    try:
        try:
            import_config(store, cfg, source=path)
        except SecmsgError as exc:  # valid, yet the store refuses it
            return rules.invalid_config(getattr(exc, "problems", None) or [str(exc)], path)
        snapshot = store.snapshot()
        return rules.lint(snapshot, parse_at(at, snapshot.tz), folders=store.folders())
    finally:
        store.close()


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
    output: OutputOpt = Output.table,
) -> None:
    """Check the configuration for errors and likely mistakes: dangling
    references, definitions nothing can trigger, ambiguous policies, expired or
    disabled policies, unknown banner tags, empty groups, ... Each finding
    has a stable code (see the README). Exit 3 when there are errors (with
    --strict, also when there are warnings).

        secmsg lint
        secmsg lint secmsg.toml --strict -o json
    """
    from secmsg_cli import lint as rules

    if file is None:
        store = open_store(ctx)
        snapshot = store.snapshot()
        findings = rules.lint(snapshot, parse_at(at, snapshot.tz), folders=store.folders())
    else:
        findings = _lint_file(file, at)
    rows = [f.to_dict() for f in findings]
    if rows or output is not Output.table:
        emit(rows, output, columns=COLUMNS, drop=["name", "object", "severity"])
    if not state(ctx).quiet:
        sys.stderr.write(rules.summary(findings) + "\n")
    if rules.failed(findings, strict):
        raise typer.Exit(3)


def register(app: typer.Typer) -> None:
    app.command("lint")(lint)
