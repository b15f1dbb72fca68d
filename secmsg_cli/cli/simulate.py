"""``secmsg simulate PATH...``: the Typer declaration of its options (SPEC
§8.1); what it does is :func:`secmsg_cli.cli.simulation.run`, which the lean
entry point (``cli/entry.py``) also calls for a plain ``simulate`` without
loading Typer.
"""

from typing import Annotated

import typer

from secmsg_cli.cli._common import state
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
from secmsg_cli.cli._output import Output
from secmsg_cli.cli.simulation import MAX_JOBS


def simulate(
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
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            "-j",
            min=1,
            max=MAX_JOBS,
            help="Worker processes for a large batch (default: the number of CPUs).",
        ),
    ] = None,
    coverage: Annotated[
        bool,
        typer.Option(
            "--coverage",
            help="After the batch, list every policy and content definition with how many messages it decided.",
        ),
    ] = False,
    min_coverage: Annotated[
        float | None,
        typer.Option(
            "--min-coverage",
            metavar="PCT",
            min=0,
            max=100,
            help="Exit 4 when fewer than PCT % of policies and content definitions decided a message.",
        ),
    ] = None,
    against: Annotated[
        str | None,
        typer.Option(
            "--against",
            metavar="OTHER",
            help="Another store or configuration file: list only the recipients decided differently.",
        ),
    ] = None,
    detailed_exitcode: Annotated[
        bool,
        typer.Option(
            "--detailed-exitcode", help="With --against: exit 5 when any decision changes."
        ),
    ] = False,
    output: Annotated[
        Output,
        typer.Option(
            "--output",
            "-o",
            help="table, json, jsonl or csv (a row per recipient).",
            case_sensitive=False,
        ),
    ] = Output.table,
) -> None:
    """Decide, per recipient, where each message goes and why. Writes nothing.

    secmsg simulate fixtures/messages/01-confidential-subject-to-counsel.eml --explain
    secmsg simulate fixtures/messages -o jsonl --at 2026-11-27T10:00:00Z
    secmsg simulate corpus/ --against proposed.toml --detailed-exitcode
    """
    from secmsg_cli.cli.simulation import SimulateArgs, run

    st = state(ctx)
    code = run(
        SimulateArgs(
            paths=tuple(paths),
            db=st.db,
            quiet=st.quiet,
            mail_from=mail_from,
            rcpt=tuple(rcpt or ()),
            source_ip=source_ip,
            at=at,
            via=via,
            definition=definition,
            explain=explain,
            max_size=max_size,
            max_depth=max_depth,
            max_parts=max_parts,
            max_text=max_text,
            max_recipients=max_recipients,
            jobs=jobs,
            coverage=coverage,
            min_coverage=min_coverage,
            against=against,
            detailed_exitcode=detailed_exitcode,
            output=output,
        )
    )
    if code:
        raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate)
