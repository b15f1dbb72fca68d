"""The context options of ``simulate`` (docs/output.md), declared once for every
command that decides messages (``simulate``, ``deliver``); the
:class:`Context` is built from them by :func:`build_context` (in the
Typer-free ``_values``)."""

from __future__ import annotations

from typing import Annotated

import typer

from secmsg_cli.cli import _complete

MailFromOpt = Annotated[
    str | None,
    typer.Option("--mail-from", help="Envelope sender (default: Return-Path, else header From)."),
]
RcptOpt = Annotated[
    list[str] | None,
    typer.Option("--rcpt", help="Envelope recipient; repeatable (default: To + Cc + Bcc)."),
]
SourceIpOpt = Annotated[
    str | None,
    typer.Option("--source-ip", help="Source IP (default: from the top-most Received header)."),
]
AtOpt = Annotated[
    str | None, typer.Option("--at", help="Evaluation and sending time, ISO 8601 (default now).")
]
ViaOpt = Annotated[
    str | None,
    typer.Option(
        "--via", help="gateway, outlook or mobile (default gateway; outlook with --definition)."
    ),
]
DefinitionOpt = Annotated[
    str | None,
    typer.Option(
        "--definition",
        autocompletion=_complete.definitions,
        help="The definition the sender chose (trigger user).",
    ),
]
ExplainOpt = Annotated[
    bool,
    typer.Option(
        "--explain", help="Explain every policy and content definition: verdict and reason."
    ),
]
MaxSizeOpt = Annotated[
    str, typer.Option("--max-size", help="Refuse messages larger than this (e.g. 50MB).")
]
MaxDepthOpt = Annotated[
    str | None,
    typer.Option(
        "--max-depth",
        metavar="N",
        help="Read MIME parts nested at most N levels deep (default 50); deeper is unscannable.",
    ),
]
MaxPartsOpt = Annotated[
    str | None,
    typer.Option(
        "--max-parts",
        metavar="N",
        help="Read at most N MIME parts of a message (default 1000); the rest is unscannable.",
    ),
]
MaxTextOpt = Annotated[
    str | None,
    typer.Option(
        "--max-text",
        metavar="SIZE",
        help="Read at most SIZE of each part's text (default 10MB); the rest is unscannable.",
    ),
]
MaxRecipientsOpt = Annotated[
    str | None,
    typer.Option(
        "--max-recipients",
        metavar="N",
        help="Decide at most N recipients of a message (default 1000).",
    ),
]
