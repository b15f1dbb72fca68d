"""``secmsg content-definition ...``: Content Examination definitions (SPEC §6)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from secmsg_cli.cli._common import OutputOpt, open_store, state, sub_app
from secmsg_cli.cli._output import Output, emit, say
from secmsg_cli.errors import InvalidInput

if TYPE_CHECKING:
    from secmsg_cli.model import ContentDefinition

LineOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--line",
        "-l",
        help="A match line, e.g. '2 confidential' or '5 regex,cardnumber \\b(?:\\d[ -]?){13,16}\\b'; repeatable.",
    ),
]
LinesFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--lines-file",
        help="Read the match lines from a file (one per line; # comments kept).",
        dir_okay=False,
    ),
]
ScoreOpt = Annotated[
    int | None, typer.Option("--score", "--activation-score", help="Activation score 1..100.")
]
ScanOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--scan",
        help="Section to scan: subject, headers, body, attachments; repeatable (default all).",
    ),
]
SmOpt = Annotated[
    str | None,
    typer.Option(
        "--secure-messaging",
        help="Secure Messaging Override: the definition (path or id) applied when it fires.",
    ),
]


def content_definition_row(cd: ContentDefinition) -> dict[str, Any]:
    from secmsg_cli.store.policies import content_definition_fields

    return {"id": cd.id, **content_definition_fields(cd), "secure_messaging": cd.secure_messaging}


def _lines(line: list[str] | None, lines_file: Path | None) -> list[str] | None:
    if line is not None and lines_file is not None:
        raise InvalidInput("give --line or --lines-file, not both")
    if lines_file is not None:
        try:
            # utf-8-sig: a byte-order mark (Windows editors) is not part of line 1
            return lines_file.read_text(encoding="utf-8-sig").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"cannot read lines file {lines_file}: {exc}") from None
    return list(line) if line is not None else None


cd_app = sub_app(
    "Content Examination definitions: scored word/phrase/regex lists, optionally with a Secure Messaging override."
)


@cd_app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Unique name.")],
    line: LineOpt = None,
    lines_file: LinesFileOpt = None,
    score: ScoreOpt = None,
    scan: ScanOpt = None,
    secure_messaging: SmOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Create a content definition; every match line is checked now.

    secmsg content-definition create "Confidential subject" --scan subject --line '1 "Confidential"' --secure-messaging "Legal/7-Day Expiry"
    """
    raw: dict[str, Any] = {"name": name, "lines": _lines(line, lines_file) or []}
    if score is not None:
        raw["activation_score"] = score
    if scan:
        raw["scan"] = scan
    if secure_messaging is not None:
        raw["secure_messaging"] = secure_messaging
    cd = open_store(ctx).create_content_definition(raw)
    if output is Output.table:
        say(f"Created content definition {cd.name!r} (id {cd.id}).", quiet=state(ctx).quiet)
    else:
        emit(content_definition_row(cd), output)


@cd_app.command("list")
def list_(ctx: typer.Context, output: OutputOpt = Output.table) -> None:
    """List content definitions.

    secmsg content-definition list -o json
    """
    rows = [
        content_definition_row(cd)
        | {
            "line_count": sum(
                1 for line in cd.lines if line.strip() and not line.strip().startswith("#")
            )
        }
        for cd in open_store(ctx).content_definitions()
    ]
    emit(
        rows,
        output,
        columns=None
        if output is not Output.table
        else [
            "id",
            "name",
            "activation_score:score",
            "scan",
            "line_count:lines",
            "secure_messaging:secure messaging",
        ],
        empty="no content definitions",
    )


@cd_app.command("show")
def show(
    ctx: typer.Context,
    definition: Annotated[str, typer.Argument(help="Name or id.")],
    output: OutputOpt = Output.table,
) -> None:
    """Show a content definition with its match lines.

    secmsg content-definition show "Confidential subject"
    """
    cd = open_store(ctx).content_definition(definition)
    row = content_definition_row(cd)
    if output is Output.table:
        emit({k: v for k, v in row.items() if k != "lines"}, output)
        emit(
            [{"#": i, "line": line} for i, line in enumerate(cd.lines, start=1)],
            output,
            empty="(no lines)",
        )
    else:
        emit(row, output)


@cd_app.command("update")
def update(
    ctx: typer.Context,
    definition: Annotated[str, typer.Argument(help="Name or id.")],
    name: Annotated[str | None, typer.Option("--name", help="Rename.")] = None,
    line: Annotated[
        list[str] | None,
        typer.Option("--line", "-l", help="Replace the match lines (repeatable)."),
    ] = None,
    lines_file: LinesFileOpt = None,
    score: ScoreOpt = None,
    scan: ScanOpt = None,
    secure_messaging: SmOpt = None,
    no_secure_messaging: Annotated[
        bool,
        typer.Option("--no-secure-messaging", help="Remove the Secure Messaging override."),
    ] = False,
    output: OutputOpt = Output.table,
) -> None:
    """Change a content definition (lines are replaced as a whole).

    secmsg content-definition update "Confidential subject" --score 2 --line '1 confidential' --line '1 privileged'
    """
    changes: dict[str, Any] = {}
    lines = _lines(line, lines_file)
    if lines is not None:
        changes["lines"] = lines
    if name is not None:
        changes["name"] = name
    if score is not None:
        changes["activation_score"] = score
    if scan:
        changes["scan"] = scan
    if secure_messaging is not None and no_secure_messaging:
        raise InvalidInput("give --secure-messaging or --no-secure-messaging, not both")
    if secure_messaging is not None:
        changes["secure_messaging"] = secure_messaging
    if no_secure_messaging:
        changes["secure_messaging"] = None
    if not changes:
        raise InvalidInput("nothing to change: give at least one option")
    cd = open_store(ctx).update_content_definition(definition, changes)
    if output is Output.table:
        say(f"Updated content definition {cd.name!r} (id {cd.id}).", quiet=state(ctx).quiet)
    else:
        emit(content_definition_row(cd), output)


@cd_app.command("delete")
def delete(
    ctx: typer.Context, definition: Annotated[str, typer.Argument(help="Name or id.")]
) -> None:
    """Delete a content definition (refused while a content-examination policy uses it).

    secmsg content-definition delete "Old rule"
    """
    cd = open_store(ctx).delete_content_definition(definition)
    say(f"Deleted content definition {cd.name!r}.", quiet=state(ctx).quiet)


def register(app: typer.Typer) -> None:
    app.add_typer(cd_app, name="content-definition")
