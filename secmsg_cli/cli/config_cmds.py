"""``secmsg export`` and ``secmsg import``: configuration as code (docs/configuration.md)."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from secmsg_cli.cli._common import OutputOpt, open_store, state
from secmsg_cli.cli._output import Output, say, to_json, write_file
from secmsg_cli.errors import OutputError, Refused, SecmsgError

if TYPE_CHECKING:
    from secmsg_cli.config import Config
    from secmsg_cli.plan import Plan


class Format(str, Enum):
    toml = "toml"
    json = "json"


def export(
    ctx: typer.Context,
    file: Annotated[
        Path | None,
        typer.Argument(help="Write here (default: standard output).", dir_okay=False),
    ] = None,
    format: Annotated[
        Format | None,
        typer.Option("--format", "-f", help="toml (default) or json; a .json FILE implies json."),
    ] = None,
) -> None:
    """Write the whole configuration as TOML (or JSON); built-ins are not exported.

    secmsg export secmsg.toml
    secmsg export --format json > secmsg.json
    """
    from secmsg_cli.config import dumps, export_document, logo_files

    fmt = (
        format.value if format else ("json" if file and file.suffix.lower() == ".json" else "toml")
    )
    store = open_store(ctx)
    text = dumps(export_document(store), fmt)
    # a template's logo is written where the configuration says, relative to
    # FILE (standard output: the current directory), as import reads it
    base = Path.cwd() if file is None else file.parent
    for path, data in logo_files(store):
        target = base / path
        if not target.resolve().is_relative_to(base.resolve()):  # a link on the way leads out
            raise OutputError(
                f"cannot write the logo {target}: it leads to {target.resolve()}, outside the "
                "configuration's directory; export writes nothing through such a link"
            )
        try:
            if target.is_file() and target.read_bytes() == data:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot write the logo {target}: {exc.strerror or exc}") from None
        write_file(target, data)
    if file is None:
        sys.stdout.write(text)
        return
    write_file(file, text.encode("utf-8"))
    say(f"Exported the configuration to {file}.", quiet=state(ctx).quiet)


def import_(
    ctx: typer.Context,
    file: Annotated[
        str, typer.Argument(help="A TOML or JSON configuration file, or - for standard input.")
    ],
) -> None:
    """Load a configuration file into an empty store: validated as a whole
    first, then written in one transaction (all or nothing).

        secmsg --db new.db import secmsg.toml
    """
    from secmsg_cli.config import import_config, read_file, validate_document

    doc, source = read_file(file)
    cfg = validate_document(doc, source)
    counts = import_config(open_store(ctx, create=True), cfg, source=file)
    summary = ", ".join(f"{n} {k}" for k, n in counts.items())
    say(f"Imported {file}: {summary}.", quiet=state(ctx).quiet)


def _print_plan(plan: Plan, file: str, quiet: bool) -> None:
    """The plan for people. Labels and values come from the file and the
    store (a banner, a match line, a narrative): control characters are
    escaped, and nothing is read as Rich markup."""
    from rich.text import Text

    from secmsg_cli.cli._output import console
    from secmsg_cli.cli._values import printable

    out = console()
    symbols = {"create": ("+", "green"), "update": ("~", "yellow"), "delete": ("-", "red")}
    for c in plan.changes:
        sym, style = symbols[c.action]
        line = Text(f"{sym} {c.action} {c.kind} ", style=style)
        line.append(printable(c.label), style="bold")
        out.print(line)
        for name, (before, after) in c.fields.items():
            out.print(Text(f"      {name}: {_short(before)} → {_short(after)}"))
    counts = plan.counts()
    if plan.empty:
        out.print(Text(f"No changes: the store already matches {printable(file)}."))
    else:
        out.print(
            f"Plan: {counts['create']} to create, {counts['update']} to update, {counts['delete']} to delete."
        )
    if plan.kept and not quiet:
        sys.stderr.write(
            f"{len(plan.kept)} object(s) in the store but not in {printable(file)} are kept "
            "(use --prune to delete them).\n"
        )


def _short(value: object) -> str:
    import json

    from secmsg_cli.cli._values import printable

    if value is None:
        return "(none)"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = printable(text)
    return text if len(text) <= 120 else text[:117] + "..."


def _plan_json(plan: Plan) -> dict[str, Any]:
    return {
        "summary": plan.counts(),
        "changes": [c.to_json() for c in plan.changes],
        "kept": [{"kind": c.kind, "object": c.label} for c in plan.kept],
    }


TestOpt = Annotated[
    str | None,
    typer.Option(
        "--test",
        metavar="CASES",
        help="First run this cases file against FILE (as 'test CASES --config FILE'); "
        "exit 4 without planning or changing anything when a case fails.",
    ),
]


def _test_first(ctx: typer.Context, cases: str | None, cfg: Config, file: str) -> None:
    if cases is not None:
        from secmsg_cli.cli.test_cmd import test_before_change

        test_before_change(cases, cfg, file, quiet=state(ctx).quiet)


def plan_cmd(
    ctx: typer.Context,
    file: Annotated[
        str, typer.Argument(help="A TOML or JSON configuration file, or - for standard input.")
    ],
    prune: Annotated[
        bool, typer.Option("--prune", help="Also plan to delete objects that are not in FILE.")
    ] = False,
    detailed_exitcode: Annotated[
        bool,
        typer.Option("--detailed-exitcode", help="Exit 5 when there are changes, 0 when none."),
    ] = False,
    test: TestOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Show what 'apply' would change in the store to make it equal to FILE.

    secmsg plan secmsg.toml --detailed-exitcode
    secmsg plan secmsg.toml --test cases.toml
    """
    from secmsg_cli.config import read_file, validate_document
    from secmsg_cli.plan import make_plan

    doc, source = read_file(file)
    cfg = validate_document(doc, source)
    _test_first(ctx, test, cfg, file)
    plan, _ = make_plan(open_store(ctx), cfg, prune=prune)
    if output is Output.table:
        _print_plan(plan, file, state(ctx).quiet)
    else:
        sys.stdout.write(to_json(_plan_json(plan)) + "\n")
    if detailed_exitcode and not plan.empty:
        raise typer.Exit(5)


def _confirm(plan: Plan, *, prune: bool) -> None:
    """Ask on a terminal before any change; off a terminal (a cron job, a CI
    step) refuse a change that deletes unless --yes said so, as terraform
    refuses without -auto-approve: exit 1, nothing changed."""
    if sys.stdin.isatty():
        if not typer.confirm("Apply these changes?", default=False):
            raise typer.Abort()
        return
    deletes = plan.counts()["delete"]
    if deletes or prune:
        what = f"would delete {deletes} object(s)" if deletes else "--prune can delete objects"
        raise Refused(
            f"apply {what} and standard input is not a terminal to ask: "
            "pass --yes to apply without asking; nothing was changed"
        )


def apply_cmd(
    ctx: typer.Context,
    file: Annotated[
        str, typer.Argument(help="A TOML or JSON configuration file, or - for standard input.")
    ],
    prune: Annotated[
        bool,
        typer.Option("--prune", help="Delete objects that are not in FILE (never without it)."),
    ] = False,
    yes: Annotated[
        bool,
        typer.Option(
            "--yes",
            "-y",
            help="Do not ask for confirmation (needed to delete when standard input is not a terminal).",
        ),
    ] = False,
    test: TestOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Make the store equal to FILE, in one transaction (validated as a whole
    first; unchanged objects keep their ids).

        secmsg apply secmsg.toml --prune --yes
        secmsg apply secmsg.toml --test cases.toml --yes
    """
    from secmsg_cli.config import read_file, validate_document
    from secmsg_cli.errors import ConfigError
    from secmsg_cli.plan import apply_as_planned, make_plan

    doc, source = read_file(file)
    cfg = validate_document(doc, source)
    _test_first(ctx, test, cfg, file)
    store = open_store(ctx, create=True)
    plan, _ = make_plan(store, cfg, prune=prune)
    if output is Output.table:
        _print_plan(plan, file, state(ctx).quiet)
    if plan.empty:
        if output is not Output.table:
            sys.stdout.write(to_json(_plan_json(plan) | {"applied": False}) + "\n")
        return
    if not yes:
        _confirm(plan, prune=prune)
    try:
        apply_as_planned(store, cfg, plan, prune=prune, source=file)
    except SecmsgError as exc:
        raise ConfigError(f"cannot apply {file}: {exc}; nothing was changed") from None
    if output is Output.table:
        say(f"Applied {file}.", quiet=state(ctx).quiet)
    else:
        sys.stdout.write(to_json(_plan_json(plan) | {"applied": True}) + "\n")


def register(app: typer.Typer) -> None:
    app.command("export")(export)
    app.command("import")(import_)
    app.command("plan")(plan_cmd)
    app.command("apply")(apply_cmd)
